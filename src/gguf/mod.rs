//! GGUF, llama.cpp's single-file model format: a model as well as a Hugging Face directory is.
//!
//! - [`reader`]: the container (metadata of every type, tensor infos, aligned data), from bytes,
//!   hardened against hostile files.
//! - [`model`]: the `llama.*` configuration and the tensors mapped onto tinychat's slots
//!   ([`ModelParts`], packed as the file stores them), and the interim f32 path.
//! - [`tokenizer`]: the tokenizer and chat template of the metadata, as a `tokenizer.json`.
//! - [`writer`]: writes GGUF files (tests and tools).
//! - [`convert`]: a GGUF model as a Hugging Face directory.
//!
//! Loading a chat model from a `.gguf` (or a directory holding exactly one, and no config.json):
//! [`load_chat_model`], or [`chat_model_from_bytes`] where the bytes are already in memory (the
//! browser).

pub mod convert;
pub mod model;
pub mod reader;
pub mod tokenizer;
pub mod writer;

pub use model::{config_from_metadata, GgufTensor, ModelParts};
pub use reader::{Gguf, TensorInfo, Value};
pub use writer::Writer;

use crate::chat::ChatModel;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The GGUF file `path` names, if it names one: a file ending in `.gguf` or starting with the
/// GGUF magic, or a directory with no `config.json` that holds exactly one `.gguf` file (more
/// than one is an error that lists them). None for anything else (a Hugging Face directory).
pub fn find(path: &Path) -> Result<Option<PathBuf>> {
    let by_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    if by_name && !path.exists() {
        return Err(Error::io(path, std::io::ErrorKind::NotFound.into()));
    }
    if path.is_file() {
        let by_magic = || {
            use std::io::Read;
            let mut magic = [0u8; 4];
            std::fs::File::open(path)
                .and_then(|mut f| f.read_exact(&mut magic))
                .is_ok_and(|()| &magic == reader::MAGIC)
        };
        return Ok((by_name || by_magic()).then(|| path.to_path_buf()));
    }
    if !path.is_dir() || path.join("config.json").exists() {
        return Ok(None);
    }
    let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(Error::InvalidArgument(format!(
            "{} holds {} .gguf files ({}); name one of them as the model",
            path.display(),
            found.len(),
            found
                .iter()
                .map(|p| p.file_name().unwrap_or_default().to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Loads the transformer of a `.gguf` file or a directory holding one (see [`find`]), weights
/// as the file stores them.
pub fn load_model(path: impl AsRef<Path>) -> Result<crate::model::Model> {
    let path = path.as_ref();
    let file = find(path)?
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not a GGUF model", path.display())))?;
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let g = Gguf::parse(&bytes, &file.display().to_string())?;
    ModelParts::from_gguf(&g)?.to_model()
}

/// Loads a chat model from a `.gguf` file or a directory holding one (see [`find`]).
pub fn load_chat_model(path: impl AsRef<Path>) -> Result<ChatModel> {
    let path = path.as_ref();
    let file = find(path)?.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} is not a GGUF model (a .gguf file, or a directory holding one and no config.json)",
            path.display()
        ))
    })?;
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    chat_model_from_bytes(&bytes, &file.display().to_string())
}

/// The tokenizer of a GGUF model (a `.gguf` file or a directory holding one, see [`find`]).
pub fn load_tokenizer(path: impl AsRef<Path>) -> Result<crate::tokenizer::Tokenizer> {
    let path = path.as_ref();
    let file = find(path)?
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not a GGUF model", path.display())))?;
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    tokenizer::tokenizer(&Gguf::parse(&bytes, &file.display().to_string())?)
}

/// Builds a chat model from the bytes of a GGUF file; `origin` names it in errors. The weights
/// stay as the file stores them (quantized blocks packed); the tokenizer and chat template come
/// from the metadata.
pub fn chat_model_from_bytes(bytes: &[u8], origin: &str) -> Result<ChatModel> {
    let g = Gguf::parse(bytes, origin)?;
    let parts = ModelParts::from_gguf(&g)?;
    let tokenizer = tokenizer::tokenizer(&g)?;
    let template = tokenizer::chat_template(&g)?;
    let model = parts.to_model()?;
    let stops = model.config.eos_token_ids.clone();
    Ok(ChatModel::assemble(model, tokenizer, template, stops))
}
