//! The pipeline bundle `train all` writes: `pipeline.json`, `chat/` (the PPO policy),
//! `moderator/` (the classifier with its calibrated thresholds) and `provenance.json`, each model
//! directory exported for inference in the bundle's weight type.

use super::all::Stages;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::weights::{self, DType};
use std::path::{Path, PathBuf};

/// Copies a model directory for inference: its JSON files (not trainer_state.json), the
/// tokenizer and a NOTICE.md, with model.safetensors rewritten in `dtype`. Returns the bytes written.
pub fn export_model_dir(src: &Path, dst: &Path, dtype: DType) -> Result<u64> {
    std::fs::create_dir_all(dst).map_err(|e| Error::io(dst, e))?;
    let cfg = ModelConfig::from_file(src.join("config.json"))?;
    let (params, _) = weights::load(src.join("model.safetensors"), &cfg)?;
    weights::save(&params, &cfg, dst.join("model.safetensors"), dtype)?;
    let mut bytes = std::fs::metadata(dst.join("model.safetensors"))
        .map_err(|e| Error::io(dst.join("model.safetensors"), e))?
        .len();
    for name in [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "thresholds.json",
        "calibration.json",
        super::word_vectors::NOTICE_FILE,
    ] {
        let from = src.join(name);
        if from.is_file() {
            let to = dst.join(name);
            std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            bytes += std::fs::metadata(&to).map_err(|e| Error::io(&to, e))?.len();
        }
    }
    Ok(bytes)
}

/// Writes the pipeline bundle: `pipeline.json`, `chat/` (the policy), `moderator/` (the
/// classifier with its calibrated thresholds) and `provenance.json` (how it was made). The new
/// bundle is written beside the old one and swapped in, so a failure leaves the old one intact.
pub fn write_bundle(
    chat: &Path,
    moderator: &Path,
    bundle: &Path,
    dtype: DType,
    stages: &Stages,
) -> Result<()> {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let parent = match bundle.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = parent.join(format!(".{name}.tmp"));
    let old = parent.join(format!(".{name}.old"));
    // A crash between the two renames of an earlier write left the bundle only in `.old`.
    if !bundle.exists() && old.join("pipeline.json").is_file() {
        std::fs::rename(&old, bundle).map_err(|e| Error::io(&old, e))?;
    }
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let chat_bytes = export_model_dir(chat, &tmp.join("chat"), dtype)?;
    let mod_bytes = export_model_dir(moderator, &tmp.join("moderator"), dtype)?;
    let pipeline = serde_json::json!({
        "chat_model": "chat",
        "moderator": "moderator",
        "sampling": {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 64},
    });
    crate::io::write_json_atomic(&tmp.join("pipeline.json"), &pipeline)?;
    // The bundle must load the way the CLI and the browser load it.
    crate::pipeline::Pipeline::load(&tmp)?;
    let provenance = serde_json::json!({
        "made_by": format!("tinychat train all --preset {}", stages.preset),
        "tinychat_version": env!("CARGO_PKG_VERSION"),
        "weights": match dtype { DType::F16 => "f16", DType::BF16 => "bf16", DType::F32 => "f32" },
        "chat_from": chat.display().to_string(),
        "moderator_from": moderator.display().to_string(),
        "bytes": {"chat": chat_bytes, "moderator": mod_bytes},
        "stages": stages.done,
    });
    crate::io::write_json_atomic(&tmp.join("provenance.json"), &provenance)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    if bundle.exists() {
        std::fs::rename(bundle, &old).map_err(|e| Error::io(bundle, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp, bundle) {
        if old.exists() {
            let _ = std::fs::rename(&old, bundle);
        }
        return Err(Error::io(bundle, e));
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    eprintln!(
        "wrote {}: chat {:.1} MB, moderator {:.1} MB ({})",
        bundle.display(),
        chat_bytes as f64 / 1e6,
        mod_bytes as f64 / 1e6,
        provenance["weights"].as_str().unwrap_or("")
    );
    Ok(())
}
