//! GGUF → Hugging Face directory: what `tinychat convert --gguf` writes, so a GGUF model can be
//! fine-tuned or served with transformers (the scale path in DESIGN.md).
//!
//! ```text
//! out/config.json              LlamaForCausalLM config (torch_dtype = the --dtype)
//! out/model.safetensors        every weight dequantized, Q/K rows in HF order, stored as --dtype
//! out/generation_config.json   bos/eos ids
//! out/tokenizer.json           the tokenizer rebuilt from the metadata
//! out/tokenizer_config.json    special tokens, add_bos_token, chat_template
//! out/chat_template.jinja      the chat template (transformers ≥ 4.43 reads it from here)
//! ```

use super::model::ModelParts;
use super::reader::Gguf;
use super::tokenizer::{tokenizer_config_json, tokenizer_json};
use crate::error::{Error, Result};
use crate::io::{write_atomic, write_json_atomic};
use crate::weights::DType;
use serde_json::{Map, Value};
use std::path::Path;

/// What [`convert_to_hf`] wrote.
#[derive(Clone, Debug)]
pub struct ConvertSummary {
    pub files: Vec<&'static str>,
    /// Weight types of the GGUF ("Q4_1 ×210, ...").
    pub source_types: String,
    pub parameters: usize,
    pub dtype: DType,
}

/// Converts the GGUF bytes `bytes` (named `origin` in errors) into a Hugging Face model
/// directory `out`, weights stored as `dtype`.
pub fn convert_to_hf(
    bytes: &[u8],
    origin: &str,
    out: &Path,
    dtype: DType,
) -> Result<ConvertSummary> {
    let g = Gguf::parse(bytes, origin)?;
    let parts = ModelParts::from_gguf(&g)?;
    // Built (and so checked) before anything is written.
    let tokenizer = tokenizer_json(&g)?;
    let tokenizer_text = serde_json::to_string_pretty(&tokenizer)
        .map_err(|e| Error::Tokenizer(format!("cannot serialise tokenizer.json: {e}")))?;
    tokenizers::Tokenizer::from_bytes(tokenizer_text.as_bytes()).map_err(|e| {
        Error::Tokenizer(format!(
            "{origin}: the rebuilt tokenizer does not load: {e}"
        ))
    })?;
    let tokenizer_config = tokenizer_config_json(&g)?;
    let template = g.str("tokenizer.chat_template")?.map(str::to_string);
    let params = parts.to_params();
    let cfg = &parts.config;

    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut config = cfg.to_hf_json();
    config["torch_dtype"] = match dtype {
        DType::F32 => "float32",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
    }
    .into();
    write_json_atomic(&out.join("config.json"), &config)?;
    crate::weights::save(&params, cfg, out.join("model.safetensors"), dtype)?;
    let mut gen = Map::new();
    if let Some(b) = cfg.bos_token_id {
        gen.insert("bos_token_id".into(), b.into());
    }
    gen.insert("eos_token_id".into(), cfg.eos_token_ids.clone().into());
    if let Some(p) = cfg.pad_token_id {
        gen.insert("pad_token_id".into(), p.into());
    }
    write_json_atomic(&out.join("generation_config.json"), &Value::Object(gen))?;
    let mut tokenizer_text = tokenizer_text;
    tokenizer_text.push('\n');
    write_atomic(&out.join("tokenizer.json"), tokenizer_text.as_bytes())?;
    write_json_atomic(&out.join("tokenizer_config.json"), &tokenizer_config)?;
    let mut files = vec![
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ];
    if let Some(t) = template {
        write_atomic(&out.join("chat_template.jinja"), t.as_bytes())?;
        files.push("chat_template.jinja");
    }
    Ok(ConvertSummary {
        files,
        source_types: parts.type_summary(),
        parameters: params.data.len(),
        dtype,
    })
}
