//! Sampling flags shared by `generate` and `chat`, with defaults from the model's
//! `generation_config.json` as transformers' `generate()` takes them.

use crate::ranges::{count, number};
use clap::Args;
use std::path::Path;
use tinychat::generate::MAX_NEW_TOKENS;
use tinychat::{Result, SamplingParams};

#[derive(Args, Clone, Debug)]
pub struct SamplingArgs {
    /// Most tokens to generate, 1 to 2097152 [default: generation_config.json's
    /// max_new_tokens, else 256]
    #[arg(long, value_name = "N", value_parser = count(1, MAX_NEW_TOKENS as u64))]
    pub max_new_tokens: Option<usize>,
    /// Sampling temperature, 0 to 100; 0 is greedy decoding [default: greedy, or
    /// generation_config.json's temperature when it sets do_sample]
    #[arg(long, value_name = "T", value_parser = number(0.0, 100.0, true))]
    pub temperature: Option<f32>,
    /// Sample only from the K most likely tokens; 0 keeps all
    #[arg(long, value_name = "K", value_parser = count(0, u32::MAX as u64))]
    pub top_k: Option<usize>,
    /// Sample only from the smallest set of tokens whose probability reaches P (nucleus), in
    /// (0, 1]
    #[arg(long, value_name = "P", value_parser = number(0.0, 1.0, false))]
    pub top_p: Option<f32>,
    /// Above 1 discourages tokens already in the prompt or the output (1 = off), in (0, 100]
    #[arg(long, value_name = "R", value_parser = number(0.0, 100.0, false))]
    pub repetition_penalty: Option<f32>,
    /// Seed of the sampler, for reproducible samples [default: from the clock]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
}

impl SamplingArgs {
    /// The sampling parameters: flags first, then the model's generation_config.json, then
    /// tinychat's defaults (greedy, 256 new tokens).
    pub fn resolve(&self, model_dir: &Path) -> Result<SamplingParams> {
        self.resolve_over(SamplingParams::from_generation_config(model_dir)?)
    }

    /// The flags over `base` (a bundle's pipeline.json `sampling`, or a model's defaults).
    pub fn resolve_over(&self, base: SamplingParams) -> Result<SamplingParams> {
        let mut p = base;
        if let Some(n) = self.max_new_tokens {
            p.max_new_tokens = n;
        }
        if let Some(t) = self.temperature {
            p.temperature = t;
        }
        if let Some(k) = self.top_k {
            p.top_k = k;
        }
        if let Some(top_p) = self.top_p {
            p.top_p = top_p;
        }
        if let Some(r) = self.repetition_penalty {
            p.repetition_penalty = r;
        }
        p.seed = self.seed.unwrap_or_else(clock_seed);
        p.validate()?;
        Ok(p)
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `--dtype`: the storage type of the weight matrices in memory.
#[derive(Args, Clone, Debug)]
pub struct DtypeArg {
    /// Convert the weight matrices at load: f32 dequantizes a quantized model (4-8x the memory),
    /// f16/bf16/q8_0/q4_0/q4_1/q4_k/q6_k quantize [default: as the file stores them]
    #[arg(long, value_name = "TYPE", value_parser = parse_qtype)]
    pub dtype: Option<tinychat::quant::QType>,
}

fn parse_qtype(s: &str) -> std::result::Result<tinychat::quant::QType, String> {
    tinychat::quant::QType::from_name(s).ok_or_else(|| {
        format!("unknown type {s:?}: use f32, f16, bf16, q8_0, q4_0, q4_1, q4_k or q6_k")
    })
}

impl DtypeArg {
    /// `model` with its matrices in the type asked for.
    pub fn apply(&self, model: tinychat::ChatModel) -> tinychat::ChatModel {
        match self.dtype {
            Some(q) => model.with_dtype(q),
            None => model,
        }
    }
}
