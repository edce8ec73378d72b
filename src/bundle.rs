//! Bundles and model directories: the one place that knows which files make a model, a
//! moderator and a pipeline, how their paths join, and which paths a bundle may name.
//!
//! ```text
//! bundle/                       a pipeline bundle (the browser loads the same tree from a URL)
//!   pipeline.json               { "chat_model": "chat", "moderator": "moderator", ... }
//!   chat/                       a model directory (Hugging Face layout)
//!     config.json  model.safetensors  tokenizer.json  tokenizer_config.json
//!     [generation_config.json]  [chat_template.jinja]
//!   moderator/                  a classifier directory: the same, with id2label, and
//!     [thresholds.json]
//! ```
//!
//! A chat model may also be one GGUF file (`"chat_model": "smollm2.Q4_1.gguf"`: weights,
//! tokenizer and chat template in one), or natively a directory holding exactly one.
//!
//! Files come from a [`BundleSource`]: a directory natively ([`Dir`]), the files the browser
//! fetched ([`Files`]). Every path a bundle names is checked by [`check_relative`] before it is
//! joined: relative, inside the bundle, no `..`, no URL syntax; [`Dir`] also resolves symlinks
//! and refuses what lands outside its root.

use crate::chat::ChatModel;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::moderation::head::{self, HeadConfig, ModerationHead};
use crate::moderation::{Moderator, Thresholds};
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::tokenizer::{ChatTemplate, Tokenizer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where a bundle's (or a model directory's) files come from.
pub trait BundleSource {
    /// The bytes of `path` (relative, already checked), or None when there is no such file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// How `path` is named in error messages (the directory or URL it comes from included).
    fn name(&self, path: &str) -> String;
    /// The one `.gguf` file in the model directory `dir`, when it is a GGUF model directory
    /// (natively: a directory holding one `.gguf` and no config.json). Sources that cannot list
    /// directories (the browser's) say None: there a bundle names the `.gguf` file itself.
    fn find_gguf(&self, _dir: &str) -> Result<Option<String>> {
        Ok(None)
    }
    /// The error for a required file that is not there.
    fn missing(&self, path: &str) -> Error {
        Error::MissingFile {
            name: self.name(path),
        }
    }
}

/// A directory on disk.
pub struct Dir {
    root: PathBuf,
}

impl Dir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Dir { root: root.into() }
    }
}

impl BundleSource for Dir {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let p = self.root.join(path);
        if !p.exists() {
            return Ok(None);
        }
        // Symlinks inside the bundle may not lead out of it.
        let root = self
            .root
            .canonicalize()
            .map_err(|e| Error::io(&self.root, e))?;
        let real = p.canonicalize().map_err(|e| Error::io(&p, e))?;
        if !real.starts_with(&root) {
            return Err(Error::InvalidArgument(format!(
                "{}: resolves to {}, outside the bundle {}; a bundle's files must lie inside it",
                p.display(),
                real.display(),
                root.display()
            )));
        }
        // Read the path that was checked, not `p` again: a symlink swapped in between would
        // otherwise be followed.
        match std::fs::read(&real) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    fn name(&self, path: &str) -> String {
        self.root.join(path).display().to_string()
    }

    fn find_gguf(&self, dir: &str) -> Result<Option<String>> {
        let found = crate::gguf::find(&self.root.join(dir))?;
        Ok(found.and_then(|f| {
            let name = f.file_name()?.to_str()?.to_string();
            Some(join(dir, &name))
        }))
    }

    fn missing(&self, path: &str) -> Error {
        let p = self.root.join(path);
        let why = "no such file (it is required)";
        Error::io(&p, std::io::Error::new(std::io::ErrorKind::NotFound, why))
    }
}

/// Files already in memory, by path relative to the bundle (what the browser fetched).
pub struct Files {
    pub files: HashMap<String, Vec<u8>>,
    /// Names the bundle in errors (its URL).
    pub origin: String,
}

impl BundleSource for Files {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.files.get(path).cloned())
    }
    fn name(&self, path: &str) -> String {
        if self.origin.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.origin.trim_end_matches('/'))
        }
    }
}

/// Checks a path a bundle names (`field` says where: "pipeline.json: chat_model") and returns
/// it normalised (`./chat/` → `chat`, `.` → ``): relative, no `..`, no `\`, no URL syntax
/// (`:`, `%`, `?`, `#`), no control characters, no name with surrounding spaces or made only
/// of dots and spaces (`...`, `.. `: `..` to Windows), so it means the same on disk, on every
/// system, and as a URL under the bundle's base.
pub fn check_relative(field: &str, p: &str) -> Result<String> {
    relative_parts(p)
        .map(|parts| parts.join("/"))
        .map_err(|why| outside(field, p, &why))
}

/// The error for a path `p` (named by `field`) that is not a relative path inside the bundle.
fn outside(field: &str, p: &str, why: &str) -> Error {
    Error::InvalidArgument(format!(
        "{field}: {p:?} must be a relative path inside the bundle, like \"chat\" ({why})"
    ))
}

/// The components of `p` by [`check_relative`]'s rules (`.` and empty ones dropped), or why
/// it breaks them.
fn relative_parts(p: &str) -> std::result::Result<Vec<&str>, String> {
    if p.starts_with('/') {
        return Err("is absolute".into());
    }
    if p.chars().any(|c| c.is_control()) || p.trim() != p {
        return Err("has control characters or surrounding spaces".into());
    }
    if let Some(c) = p
        .chars()
        .find(|c| matches!(c, '\\' | ':' | '%' | '?' | '#'))
    {
        return Err(format!("contains {c:?}"));
    }
    let mut parts = vec![];
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("leaves the bundle (..)".into()),
            // Windows drops a name's trailing dots and spaces (`.. ` and `...` are `..` there),
            // and a name with surrounding spaces is not what it looks like anywhere.
            _ if part.chars().all(|c| c == '.' || c == ' ') || part.trim() != part => {
                return Err(format!("has the name {part:?}"))
            }
            _ => parts.push(part),
        }
    }
    Ok(parts)
}

/// A path `p` named by a file in directory `dir` (checked, relative to the bundle), resolved to
/// a path relative to the bundle: leading `..` may climb out of `dir` but never out of the
/// bundle (a moderation head's `"trunk": "../model.gguf"`); the rest follows
/// [`check_relative`]'s rules. Errors name `p` as written.
pub fn resolve_from(field: &str, dir: &str, p: &str) -> Result<String> {
    let ups = p.split('/').take_while(|c| *c == ".." || *c == ".").count();
    let rest: Vec<&str> = p.split('/').skip(ups).collect();
    let rest = rest.join("/");
    let rest = relative_parts(&rest).map_err(|why| outside(field, p, &why))?;
    let mut parts: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    for c in p.split('/').take(ups) {
        if c == ".." && parts.pop().is_none() {
            return Err(outside(field, p, "leaves the bundle (..)"));
        }
    }
    parts.extend(rest);
    Ok(parts.join("/"))
}

/// `dir` (already checked) joined with `name`.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// A file of a bundle and whether loading fails without it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BundleFile {
    pub path: String,
    pub required: bool,
}

/// Whether a bundle path names a GGUF file (a model in one file) rather than a directory.
pub fn is_gguf(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".gguf")
}

/// The files of a model directory at `dir`: config, weights, tokenizer, and what is optional;
/// or the one file of a GGUF model.
pub fn model_files(dir: &str, classifier: bool) -> Vec<BundleFile> {
    if is_gguf(dir) {
        return vec![BundleFile {
            path: dir.to_string(),
            required: true,
        }];
    }
    let f = |name: &str, required: bool| BundleFile {
        path: join(dir, name),
        required,
    };
    if classifier {
        // tokenizer.json is a classifier's own; a head reads its trunk's (pipeline_files).
        vec![
            f("config.json", true),
            f("model.safetensors", true),
            f("tokenizer.json", false),
            f("thresholds.json", false),
        ]
    } else {
        vec![
            f("config.json", true),
            f("model.safetensors", true),
            f("tokenizer.json", true),
            // A bundle's chat model needs its chat template (a model directory loaded on its
            // own may be a base model without one).
            f("tokenizer_config.json", true),
            f("generation_config.json", false),
            f("chat_template.jinja", false),
        ]
    }
}

/// Parses `pipeline.json` text; `origin` names the file in errors. Its paths are checked.
pub fn parse_pipeline(text: &str, origin: &str) -> Result<PipelineConfig> {
    let cfg: PipelineConfig = serde_json::from_str(text).map_err(|source| Error::Json {
        path: origin.into(),
        source,
    })?;
    check_relative(&format!("{origin}: chat_model"), &cfg.chat_model)?;
    check_relative(&format!("{origin}: moderator"), &cfg.moderator)?;
    Ok(cfg)
}

/// Every file a bundle with this `pipeline.json` may hold, in load order: what the browser
/// fetches. A moderation head reads a trunk its config.json names: once `known` holds that
/// config (the files fetched so far), the trunk's files are listed too, unless the trunk is the
/// chat model, and so are the head's tuned blocks when it has them. The browser asks again with
/// what it fetched until the list stops growing.
pub fn pipeline_files(
    cfg: &PipelineConfig,
    known: Option<&dyn BundleSource>,
) -> Result<Vec<BundleFile>> {
    let c = check_relative("pipeline.json: chat_model", &cfg.chat_model)?;
    let m = check_relative("pipeline.json: moderator", &cfg.moderator)?;
    let mut files = model_files(&c, false);
    files.extend(model_files(&m, true));
    if let Some(src) = known {
        if let Some((h, trunk)) = head_trunk(src, &m)? {
            if h.tuned_blocks > 0 {
                files.push(BundleFile {
                    path: join(&m, h.blocks_file()),
                    required: true,
                });
            }
            if trunk != c {
                files.extend(model_files(&trunk, false));
            }
        }
    }
    Ok(files)
}

/// The config of the moderation head at `dir` and the trunk it reads (relative to the bundle);
/// None for a classifier with its own trunk, or while its config is not known.
fn head_trunk(src: &dyn BundleSource, dir: &str) -> Result<Option<(HeadConfig, String)>> {
    let path = join(dir, "config.json");
    let Some(text) = read_text(src, &path)? else {
        return Ok(None);
    };
    match head_config(&text, &src.name(&path))? {
        Some(h) => {
            let trunk = resolve_from(&src.name(&path), dir, &h.trunk)?;
            Ok(Some((h, trunk)))
        }
        None => Ok(None),
    }
}

/// The config of a moderation head, or None when `config.json` is another model's.
fn head_config(text: &str, origin: &str) -> Result<Option<HeadConfig>> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|source| Error::Json {
        path: origin.into(),
        source,
    })?;
    if v.get("model_type").and_then(|t| t.as_str()) != Some(head::MODEL_TYPE) {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|source| Error::Json {
            path: origin.into(),
            source,
        })
}

fn read_required(src: &dyn BundleSource, path: &str) -> Result<Vec<u8>> {
    src.read(path)?.ok_or_else(|| src.missing(path))
}

fn text(src: &dyn BundleSource, path: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::Config {
        path: src.name(path).into(),
        msg: "not valid UTF-8 (is it a text file?)".into(),
    })
}

fn read_text(src: &dyn BundleSource, path: &str) -> Result<Option<String>> {
    src.read(path)?.map(|b| text(src, path, b)).transpose()
}

fn required_text(src: &dyn BundleSource, path: &str) -> Result<String> {
    let b = read_required(src, path)?;
    text(src, path, b)
}

/// The transformer and tokenizer of the model directory `dir` (checked, relative to `src`).
fn load_model_and_tokenizer(src: &dyn BundleSource, dir: &str) -> Result<(Model, Tokenizer)> {
    let origin = src.name(dir);
    let origin = origin.trim_end_matches('/');
    let model = Model::from_bytes(
        &required_text(src, &join(dir, "config.json"))?,
        &read_required(src, &join(dir, "model.safetensors"))?,
        origin,
    )?;
    let tok_path = join(dir, "tokenizer.json");
    let tokenizer = Tokenizer::from_bytes(&read_required(src, &tok_path)?)
        .map_err(|e| Error::Tokenizer(format!("{}: {e}", src.name(&tok_path))))?;
    Ok((model, tokenizer))
}

/// A chat model: the model directory `dir` of `src`.
/// `chat_template.jinja` (transformers ≥ 4.43 writes the template there) wins over
/// tokenizer_config.json's `chat_template`, as in transformers.
pub fn load_chat_model(src: &dyn BundleSource, dir: &str) -> Result<ChatModel> {
    let gguf = if is_gguf(dir) {
        Some(dir.to_string())
    } else {
        src.find_gguf(dir)?
    };
    if let Some(file) = gguf {
        let bytes = read_required(src, &file)?;
        return crate::gguf::chat_model_from_bytes(&bytes, &src.name(&file));
    }
    let (model, tokenizer) = load_model_and_tokenizer(src, dir)?;
    let origin = src.name(dir);
    let tc_path = join(dir, "tokenizer_config.json");
    let mut tokenizer_config = read_text(src, &tc_path)?;
    if let Some(jinja) = read_text(src, &join(dir, "chat_template.jinja"))? {
        tokenizer_config = Some(ChatTemplate::tokenizer_config_with_template(
            tokenizer_config.as_deref(),
            &jinja,
            &src.name(&tc_path),
        )?);
    }
    ChatModel::from_parts(
        model,
        tokenizer,
        tokenizer_config.as_deref(),
        read_text(src, &join(dir, "generation_config.json"))?.as_deref(),
        origin.trim_end_matches('/'),
    )
}

/// A moderation classifier: the classifier directory `dir` of `src`, with its thresholds.json.
pub fn load_moderator(src: &dyn BundleSource, dir: &str) -> Result<Moderator> {
    load_moderator_sharing(src, dir, None)
}

/// [`load_moderator`]; a head whose trunk is `chat` (its path in the bundle, and the loaded
/// chat model) shares that model's weights and tokenizer instead of loading them again.
pub fn load_moderator_sharing(
    src: &dyn BundleSource,
    dir: &str,
    chat: Option<(&str, &ChatModel)>,
) -> Result<Moderator> {
    let thresholds = read_thresholds(src, dir)?;
    let cpath = join(dir, "config.json");
    let config = required_text(src, &cpath)?;
    let Some(hc) = head_config(&config, &src.name(&cpath))? else {
        let (model, tokenizer) = load_model_and_tokenizer(src, dir)?;
        return Moderator::new(model, tokenizer, thresholds.as_ref());
    };
    let trunk_path = resolve_from(&src.name(&cpath), dir, &hc.trunk)?;
    let origin = src.name(dir);
    let mut head = ModerationHead::from_bytes(
        &config,
        &read_required(src, &join(dir, "model.safetensors"))?,
        origin.trim_end_matches('/'),
    )?;
    let (model, tokenizer) = match chat {
        Some((path, c)) if path == trunk_path => (c.model.clone(), c.tokenizer.clone()),
        _ => {
            let c = load_chat_model(src, &trunk_path)?;
            (c.model, c.tokenizer)
        }
    };
    if hc.tuned_blocks > 0 {
        let bytes = read_required(src, &join(dir, hc.blocks_file()))?;
        head.load_blocks(&model, &bytes, origin.trim_end_matches('/'))?;
    }
    Moderator::with_head(model, head, tokenizer, thresholds.as_ref())
}

fn read_thresholds(src: &dyn BundleSource, dir: &str) -> Result<Option<Thresholds>> {
    let tpath = join(dir, "thresholds.json");
    read_text(src, &tpath)?
        .map(|t| {
            serde_json::from_str::<Thresholds>(&t).map_err(|source| Error::Json {
                path: src.name(&tpath).into(),
                source,
            })
        })
        .transpose()
}

/// `pipeline.json` of `src`.
pub fn read_pipeline_config(src: &dyn BundleSource) -> Result<PipelineConfig> {
    let text = required_text(src, "pipeline.json")?;
    parse_pipeline(&text, &src.name("pipeline.json"))
}

/// The moderator a bundle names, with pipeline.json's threshold overrides.
pub fn load_bundle_moderator(src: &dyn BundleSource) -> Result<Moderator> {
    let cfg = read_pipeline_config(src)?;
    let mut m = load_moderator(src, &check_relative("moderator", &cfg.moderator)?)?;
    m.set_thresholds(&cfg.thresholds)?;
    Ok(m)
}

/// A whole pipeline bundle.
pub fn load_pipeline(src: &dyn BundleSource) -> Result<Pipeline> {
    let cfg = read_pipeline_config(src)?;
    let chat_path = check_relative("chat_model", &cfg.chat_model)?;
    let chat = load_chat_model(src, &chat_path)?;
    let moderator = load_moderator_sharing(
        src,
        &check_relative("moderator", &cfg.moderator)?,
        Some((&chat_path, &chat)),
    )?;
    Pipeline::new(chat, moderator, cfg)
}

/// True when `dir` is a pipeline bundle (has pipeline.json), not a model directory.
pub fn is_bundle(dir: &Path) -> bool {
    dir.join("pipeline.json").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_normalised_and_escapes_refused() {
        assert_eq!(check_relative("f", "./chat/").unwrap(), "chat");
        assert_eq!(check_relative("f", "models/chat").unwrap(), "models/chat");
        assert_eq!(check_relative("f", ".").unwrap(), "");
        for bad in [
            "/etc",
            "../x",
            "a/../../x",
            "..\\..\\x",
            "%2e%2e/x",
            ".\t./x",
            " chat",
            "chat\n",
            "\\\\evil.example\\m",
            "\\/evil.example/m",
            "https://evil.example/m",
            "c:/x",
            "chat?x=1",
            ".. /x",
            "chat/.../x",
            "chat/ ./x",
            "chat/x /y",
        ] {
            let e = check_relative("pipeline.json: chat_model", bad);
            assert!(e.is_err(), "{bad:?} was accepted");
            assert!(e
                .unwrap_err()
                .to_string()
                .contains("pipeline.json: chat_model"));
        }
    }

    #[test]
    fn a_path_named_from_inside_the_bundle_may_climb_only_to_its_root() {
        // A moderation head's trunk, relative to the head's directory.
        assert_eq!(resolve_from("f", "moderator", "../chat").unwrap(), "chat");
        assert_eq!(
            resolve_from("f", "moderator", "../m.gguf").unwrap(),
            "m.gguf"
        );
        assert_eq!(resolve_from("f", "a/b", "../../c/./d").unwrap(), "c/d");
        assert_eq!(resolve_from("f", "a/b", "./c").unwrap(), "a/b/c");
        assert_eq!(
            resolve_from("f", "moderator", "trunk").unwrap(),
            "moderator/trunk"
        );
        for (dir, bad) in [
            ("moderator", "../../x"),
            ("", "../x"),
            ("a/b", "../../../x"),
            ("moderator", "../a/../../x"),
            ("moderator", "../../../../etc"),
            ("moderator", "/etc"),
            ("moderator", "..\\..\\x"),
            ("moderator", "../%2e%2e/x"),
            ("moderator", "../.\t./x"),
            ("moderator", "../ x"),
            ("moderator", "https://evil.example/m"),
            ("moderator", "../\\\\evil.example\\m"),
            ("moderator", "..//evil.example/m"),
            ("moderator", ".. /x"),
            ("moderator", "../.../x"),
        ] {
            let e = resolve_from("moderator/config.json", dir, bad);
            assert!(e.is_err(), "{bad:?} from {dir:?} was accepted: {e:?}");
            assert!(e.unwrap_err().to_string().contains("moderator/config.json"));
        }
    }
}
