//! The fine-tuning files' formats: SFT conversations, ranked answers and PPO prompts as JSONL,
//! their readers (errors name the file and line) and the writer.

use crate::error::{Error, Result};
use crate::tokenizer::Message;
use crate::train::checkers::Check;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// One SFT conversation as read from (or written to) JSONL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SftExample {
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// One prompt with its responses ranked best first (K ≥ 2, all distinct).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankedExample {
    pub prompt: String,
    pub responses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// One PPO prompt; `check` when its answer is checkable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PpoPrompt {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// "path:line: msg" — the error every reader gives for a bad line.
pub fn line_error(path: &Path, line: usize, msg: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}:{}: {}", path.display(), line, msg))
}

/// Calls `f` with (line number, parsed JSON object) for each non-blank line of a JSONL file.
fn for_each_json_line(
    path: &Path,
    mut f: impl FnMut(usize, serde_json::Map<String, Value>) -> Result<()>,
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        line_error(path, line, "not valid UTF-8")
    })?;
    let mut any = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|e| line_error(path, line_no, format!("bad JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(line_error(path, line_no, "expected a JSON object"));
        };
        any = true;
        f(line_no, obj)?;
    }
    if !any {
        return Err(Error::Other(format!(
            "{}: no examples (the file is empty)",
            path.display()
        )));
    }
    Ok(())
}

const ROLES: &[&str] = &["system", "user", "assistant"];

fn parse_messages(path: &Path, line: usize, field: &str, value: &Value) -> Result<Vec<Message>> {
    let Value::Array(items) = value else {
        return Err(line_error(
            path,
            line,
            format!("\"{field}\" must be a list of {{\"role\", \"content\"}} objects"),
        ));
    };
    let mut messages = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let role = item.get("role").and_then(Value::as_str);
        let content = item.get("content").and_then(Value::as_str);
        let (Some(role), Some(content)) = (role, content) else {
            return Err(line_error(
                path,
                line,
                format!("{field}[{k}] needs string fields \"role\" and \"content\""),
            ));
        };
        if !ROLES.contains(&role) {
            return Err(line_error(
                path,
                line,
                format!("{field}[{k}] has role {role:?}; expected one of system, user, assistant"),
            ));
        }
        if content.trim().is_empty() {
            return Err(line_error(
                path,
                line,
                format!("{field}[{k}] ({role}) has empty content"),
            ));
        }
        messages.push(Message::new(role, content));
    }
    Ok(messages)
}

fn parse_check(
    path: &Path,
    line: usize,
    obj: &serde_json::Map<String, Value>,
) -> Result<Option<Check>> {
    match obj.get("check") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let check: Check = serde_json::from_value(v.clone()).map_err(|e| {
                line_error(
                    path,
                    line,
                    format!("bad \"check\" ({e}); expected {{\"kind\": \"exact\"|\"number\"|\"contains_any\", \"answers\": [...]}}"),
                )
            })?;
            if check.answers.is_empty() {
                return Err(line_error(path, line, "\"check\" has no answers"));
            }
            Ok(Some(check))
        }
    }
}

/// Reads SFT conversations. Each line needs "messages": a list of {"role", "content"} with roles
/// system/user/assistant, non-empty contents and at least one assistant turn.
pub fn read_sft_jsonl(path: &Path) -> Result<Vec<SftExample>> {
    let mut out = Vec::new();
    for_each_json_line(path, |line, obj| {
        let Some(messages) = obj.get("messages") else {
            return Err(line_error(
                path,
                line,
                "missing \"messages\" (expected {\"messages\": [{\"role\": \"user\", \"content\": ...}, {\"role\": \"assistant\", \"content\": ...}]})",
            ));
        };
        let messages = parse_messages(path, line, "messages", messages)?;
        if !messages.iter().any(|m| m.role == "assistant") {
            return Err(line_error(
                path,
                line,
                "the conversation has no assistant turn: there is nothing to learn from it",
            ));
        }
        let check = parse_check(path, line, &obj)?;
        out.push(SftExample {
            messages,
            check,
            meta: obj.get("meta").cloned(),
        });
        Ok(())
    })?;
    Ok(out)
}

/// The text of a TRL-style field: a string, or a conversational list whose last message is used.
fn text_field(
    path: &Path,
    line: usize,
    obj: &serde_json::Map<String, Value>,
    field: &str,
    role: &str,
) -> Result<String> {
    let value = obj
        .get(field)
        .ok_or_else(|| line_error(path, line, format!("missing \"{field}\"")))?;
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Array(_) => {
            let messages = parse_messages(path, line, field, value)?;
            let Some(last) = messages.last() else {
                return Err(line_error(
                    path,
                    line,
                    format!("\"{field}\" is an empty list"),
                ));
            };
            if last.role != role {
                return Err(line_error(
                    path,
                    line,
                    format!(
                        "\"{field}\" must end with a {role} message, not {}",
                        last.role
                    ),
                ));
            }
            last.content.clone()
        }
        _ => {
            return Err(line_error(
                path,
                line,
                format!("\"{field}\" must be a string or a list of messages"),
            ))
        }
    };
    if text.trim().is_empty() {
        return Err(line_error(path, line, format!("\"{field}\" is empty")));
    }
    Ok(text)
}

/// Reads ranked answers: {"prompt", "responses": [best, …, worst]} (K ≥ 2, distinct), or TRL's
/// preference format {"prompt", "chosen", "rejected"} (strings, or conversational message lists),
/// which becomes a ranking of two.
pub fn read_ranked_jsonl(path: &Path) -> Result<Vec<RankedExample>> {
    let mut out = Vec::new();
    for_each_json_line(path, |line, obj| {
        let prompt = text_field(path, line, &obj, "prompt", "user")?;
        let responses = if let Some(list) = obj.get("responses") {
            let Value::Array(list) = list else {
                return Err(line_error(
                    path,
                    line,
                    "\"responses\" must be a list of strings, best first",
                ));
            };
            let mut responses = Vec::with_capacity(list.len());
            for (k, r) in list.iter().enumerate() {
                let Some(r) = r.as_str() else {
                    return Err(line_error(
                        path,
                        line,
                        format!("responses[{k}] is not a string"),
                    ));
                };
                if r.trim().is_empty() {
                    return Err(line_error(path, line, format!("responses[{k}] is empty")));
                }
                responses.push(r.to_string());
            }
            responses
        } else if obj.contains_key("chosen") || obj.contains_key("rejected") {
            vec![
                text_field(path, line, &obj, "chosen", "assistant")?,
                text_field(path, line, &obj, "rejected", "assistant")?,
            ]
        } else {
            return Err(line_error(
                path,
                line,
                "missing \"responses\" (or TRL's \"chosen\" and \"rejected\")",
            ));
        };
        if responses.len() < 2 {
            return Err(line_error(
                path,
                line,
                format!(
                    "a ranking needs at least two responses, found {}",
                    responses.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (k, r) in responses.iter().enumerate() {
            if !seen.insert(r.trim()) {
                return Err(line_error(
                    path,
                    line,
                    format!("responses[{k}] duplicates an earlier response: a ranking of equal answers says nothing"),
                ));
            }
        }
        out.push(RankedExample {
            prompt,
            responses,
            meta: obj.get("meta").cloned(),
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reads PPO prompts: {"prompt": string or message list, "check"?: …}.
pub fn read_ppo_jsonl(path: &Path) -> Result<Vec<PpoPrompt>> {
    let mut out = Vec::new();
    for_each_json_line(path, |line, obj| {
        let prompt = text_field(path, line, &obj, "prompt", "user")?;
        let check = parse_check(path, line, &obj)?;
        out.push(PpoPrompt {
            prompt,
            check,
            meta: obj.get("meta").cloned(),
        });
        Ok(())
    })?;
    Ok(out)
}

pub(super) fn write_jsonl<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&serde_json::to_string(row).expect("rows always serialise"));
        text.push('\n');
    }
    crate::io::write_atomic(path, text.as_bytes())
}
