//! `tinychat convert`: a GGUF model as a Hugging Face directory (transformers loads it).

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::weights::DType;
use tinychat::{Error, Result};

pub const EXAMPLES: &str = "Examples:\n  \
    tinychat convert --gguf models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --out runs/smollm2-hf\n  \
    tinychat convert --gguf model.gguf --out model-hf --dtype f16\n  \
    tinychat generate --model runs/smollm2-hf --chat --prompt \"What is the capital of France?\"\n\n\
    Writes config.json, model.safetensors, generation_config.json, tokenizer.json,\n\
    tokenizer_config.json (with the chat template) and chat_template.jinja. Quantized weights\n\
    (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K) are dequantized; llama.cpp's Q/K row order is undone, so the\n\
    directory loads in transformers as LlamaForCausalLM. Files in --out are replaced.";

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutDType {
    F32,
    F16,
    Bf16,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The GGUF file to convert
    #[arg(long, value_name = "FILE")]
    pub gguf: PathBuf,
    /// The Hugging Face model directory to write
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Storage type of model.safetensors (f32 keeps dequantized weights exactly)
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: OutDType,
}

pub fn run(args: ConvertArgs) -> Result<ExitCode> {
    let dtype = match args.dtype {
        OutDType::F32 => DType::F32,
        OutDType::F16 => DType::F16,
        OutDType::Bf16 => DType::BF16,
    };
    let bytes = std::fs::read(&args.gguf).map_err(|e| Error::io(&args.gguf, e))?;
    let origin = args.gguf.display().to_string();
    let s = tinychat::gguf::convert::convert_to_hf(&bytes, &origin, &args.out, dtype)?;
    println!(
        "wrote {} ({} parameters from {}, stored as {}): {}",
        args.out.display(),
        s.parameters,
        s.source_types,
        s.dtype.name(),
        s.files.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
