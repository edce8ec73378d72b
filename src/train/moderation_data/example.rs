//! A labeled example and the moderation JSONL format (read and written).

use super::{implied, CATEGORIES};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One labeled text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    /// 0 or 1 for every category in [`CATEGORIES`].
    pub labels: BTreeMap<String, u8>,
    /// Where the text came from: `template`, `corpus`, `concat`; empty for user files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Template id (`hate/03`, `benign.games/02`), empty when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template: String,
    /// The obfuscations applied to `text`, empty for clean text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub obfuscation: Vec<String>,
    /// The lexicon words the text was filled with (checked for split disjointness).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
}

impl Example {
    pub(crate) fn new(text: String, cats: &[&str]) -> Example {
        let mut labels: BTreeMap<String, u8> =
            CATEGORIES.iter().map(|c| (c.to_string(), 0)).collect();
        for &c in cats {
            labels.insert(c.to_string(), 1);
            for &p in implied(c) {
                labels.insert(p.to_string(), 1);
            }
        }
        Example {
            text,
            labels,
            source: String::new(),
            template: String::new(),
            obfuscation: Vec::new(),
            words: Vec::new(),
        }
    }

    /// Whether `category` is labeled 1.
    pub fn has(&self, category: &str) -> bool {
        self.labels.get(category).copied().unwrap_or(0) == 1
    }

    /// True when no category is labeled.
    pub fn is_benign(&self) -> bool {
        self.labels.values().all(|&v| v == 0)
    }

    /// The labels as 0.0/1.0 in [`CATEGORIES`] order: the classifier's target vector.
    pub fn target(&self) -> Vec<f32> {
        CATEGORIES
            .iter()
            .map(|c| if self.has(c) { 1.0 } else { 0.0 })
            .collect()
    }
}

/// Reads a moderation JSONL file: one `{"text": ..., "labels": {"hate": 1, ...}}` per line.
/// Labels may be 0/1 or false/true; categories left out are 0, implied parents are set. Blank
/// lines are skipped. Errors name the file and line.
pub fn read_jsonl(path: impl AsRef<Path>) -> Result<Vec<Example>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let at = |msg: String| Error::Other(format!("{}:{}: {msg}", path.display(), i + 1));
        let line = std::str::from_utf8(line).map_err(|e| {
            at(format!(
                "invalid UTF-8 at byte {} of the line; save the file as UTF-8",
                e.valid_up_to()
            ))
        })?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            at(format!(
                "invalid JSON ({e}); expected {{\"text\": \"...\", \"labels\": {{\"hate\": 1}}}}"
            ))
        })?;
        let obj = value
            .as_object()
            .ok_or_else(|| at("expected a JSON object".into()))?;
        let text = obj
            .get("text")
            .and_then(|t| t.as_str())
            .ok_or_else(|| at("missing string field \"text\"".into()))?;
        let labels = obj
            .get("labels")
            .and_then(|l| l.as_object())
            .ok_or_else(|| at("missing object field \"labels\"".into()))?;
        let mut cats = Vec::new();
        for (name, v) in labels {
            let Some(&cat) = CATEGORIES.iter().find(|&&c| c == name) else {
                return Err(at(format!(
                    "unknown category {name:?}; the categories are {}",
                    CATEGORIES.join(", ")
                )));
            };
            let on = match v {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Number(n) if n.as_u64() == Some(0) => false,
                serde_json::Value::Number(n) if n.as_u64() == Some(1) => true,
                other => {
                    return Err(at(format!(
                        "label {name:?} is {other}, expected 0, 1, false or true"
                    )))
                }
            };
            if on {
                cats.push(cat);
            }
        }
        let mut ex = Example::new(text.to_string(), &cats);
        let string_field = |k: &str| {
            obj.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        ex.source = string_field("source");
        ex.template = string_field("template");
        let string_list = |k: &str| -> Vec<String> {
            obj.get(k)
                .and_then(|v| v.as_array())
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        ex.obfuscation = string_list("obfuscation");
        ex.words = string_list("words");
        out.push(ex);
    }
    Ok(out)
}

/// Writes examples as JSONL (atomically).
pub fn write_jsonl(path: &Path, examples: &[Example]) -> Result<()> {
    let mut text = String::new();
    for ex in examples {
        text.push_str(&serde_json::to_string(ex).expect("examples always serialise"));
        text.push('\n');
    }
    crate::io::write_atomic(path, text.as_bytes())
}
