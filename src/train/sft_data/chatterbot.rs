//! chatterbot-corpus (PyPI, BSD-3-Clause): its `data/english/*.yml` files, read with a small
//! parser for the one YAML shape they use.
//!
//! ```yaml
//! categories:
//! - greetings
//! conversations:
//! - - Hello
//!   - Hi
//! - - |
//!     a literal block
//!   - 'a quoted line'
//! ```
//!
//! A conversation is a list of lines, each the reply to the one before (ChatterBot's reading);
//! here they alternate user, assistant, user, … and a trailing user line is dropped so every
//! conversation ends with the assistant. Scalars may be plain (continued on more-indented lines),
//! 'single-' or "double-quoted" (folded across lines), or `|` / `>` blocks. That is everything
//! the corpus uses (checked against PyYAML on all 21 English files), so no YAML crate is needed.

use super::{capitalize, QaItem};
use crate::error::{Error, Result};
use crate::tokenizer::Message;
use std::path::{Path, PathBuf};

/// The version `tinychat data prepare` fetches, pinned so the data is reproducible.
pub const CHATTERBOT_VERSION: &str = "1.3.3";

/// A fetched source: its data directory and version.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub dir: PathBuf,
    pub version: String,
}

/// Downloads the chatterbot-corpus wheel with pip into `cache_dir/chatterbot-corpus` and unpacks
/// it there (`extracted/`); returns its `data/english` directory. A second call reuses what is
/// there.
pub fn fetch_chatterbot(cache_dir: &Path) -> Result<Fetched> {
    let dir = cache_dir.join("chatterbot-corpus");
    let extracted = crate::train::fetch::pypi_wheel(
        "chatterbot-corpus",
        CHATTERBOT_VERSION,
        &dir,
        &dir.join("extracted"),
    )?;
    let english = extracted.join("chatterbot_corpus/data/english");
    if !english.is_dir() {
        return Err(Error::Other(format!(
            "{}: the chatterbot-corpus wheel has no chatterbot_corpus/data/english directory",
            extracted.display()
        )));
    }
    Ok(Fetched {
        dir: english,
        version: CHATTERBOT_VERSION.into(),
    })
}

/// One parsed corpus file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatterbotFile {
    pub categories: Vec<String>,
    pub conversations: Vec<Vec<String>>,
}

struct Line<'a> {
    no: usize,
    indent: usize,
    text: &'a str, // without the indentation
}

/// Parses the corpus's YAML shape; `path` is only used in error messages (file:line).
pub fn parse_chatterbot_yaml(path: &Path, text: &str) -> Result<ChatterbotFile> {
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let l = l.trim_end_matches('\r');
            let trimmed = l.trim_start_matches(' ');
            Line {
                no: i + 1,
                indent: l.len() - trimmed.len(),
                text: trimmed,
            }
        })
        .collect();
    let err = |no: usize, msg: &str| super::line_error(path, no, msg);
    let mut file = ChatterbotFile::default();
    let mut section = "";
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let t = line.text;
        if t.is_empty() || t.starts_with('#') || t == "---" {
            i += 1;
            continue;
        }
        if line.indent == 0 && (t == "categories:" || t == "conversations:") {
            section = &t[..t.len() - 1];
            i += 1;
            continue;
        }
        match section {
            "categories" => {
                let Some(rest) = t.strip_prefix("- ") else {
                    return Err(err(line.no, "expected \"- category\""));
                };
                let (value, next) = scalar(&lines, i, line.indent, rest, path)?;
                file.categories.push(value);
                i = next;
            }
            "conversations" => {
                let (dash, rest) = if line.indent == 0 {
                    // "- - line" opens a conversation. A bare "- line" followed by "  - reply"
                    // lines (trivia.yml lost a dash once) is YAML for one long string, but is
                    // read here as the conversation it was meant to be.
                    let Some(rest) = t.strip_prefix("- - ").or_else(|| t.strip_prefix("- ")) else {
                        return Err(err(
                            line.no,
                            "expected \"- - line\" to start a conversation",
                        ));
                    };
                    file.conversations.push(Vec::new());
                    (2, rest)
                } else {
                    let Some(rest) = t.strip_prefix("- ") else {
                        return Err(err(line.no, "expected \"- line\" inside a conversation"));
                    };
                    if file.conversations.is_empty() {
                        return Err(err(line.no, "a conversation line before any \"- - \""));
                    }
                    (line.indent, rest)
                };
                let (value, next) = scalar(&lines, i, dash, rest, path)?;
                file.conversations
                    .last_mut()
                    .expect("pushed above")
                    .push(value);
                i = next;
            }
            _ => {
                return Err(err(
                    line.no,
                    "expected \"categories:\" or \"conversations:\"",
                ))
            }
        }
    }
    Ok(file)
}

/// Reads the scalar that starts as `first` on line `i`, whose list dash sits at column `dash`.
/// Returns the value and the index of the next line to read.
fn scalar(
    lines: &[Line],
    i: usize,
    dash: usize,
    first: &str,
    path: &Path,
) -> Result<(String, usize)> {
    let first = first.trim();
    // continuation lines: blank, or indented deeper than the dash
    let mut end = i + 1;
    while end < lines.len() && (lines[end].text.is_empty() || lines[end].indent > dash) {
        end += 1;
    }
    // blank lines at the end belong to no one
    while end > i + 1 && lines[end - 1].text.is_empty() {
        end -= 1;
    }
    let rest = &lines[i + 1..end];
    let value = if first.starts_with('|') || first.starts_with('>') {
        block(rest, first.starts_with('>'))
    } else if first.starts_with('\'') || first.starts_with('"') {
        let quote = first.chars().next().unwrap();
        let mut raw: Vec<&str> = vec![&first[1..]];
        raw.extend(rest.iter().map(|l| l.text));
        quoted(&raw, quote).ok_or_else(|| {
            super::line_error(
                path,
                lines[i].no,
                format!("unterminated {quote}-quoted string"),
            )
        })?
    } else {
        let mut parts = vec![strip_comment(first)];
        parts.extend(rest.iter().map(|l| strip_comment(l.text)));
        fold(&parts)
    };
    Ok((value, end))
}

fn strip_comment(s: &str) -> &str {
    match s.find(" #") {
        Some(k) => s[..k].trim_end(),
        None => s.trim_end(),
    }
}

/// Plain and quoted scalars fold line breaks: one break becomes a space, each blank line a '\n'.
fn fold(parts: &[&str]) -> String {
    let mut out = String::new();
    let mut pending_newlines = 0;
    for (k, p) in parts.iter().enumerate() {
        let p = p.trim();
        if p.is_empty() {
            pending_newlines += 1;
            continue;
        }
        if k > 0 && !out.is_empty() {
            if pending_newlines > 0 {
                out.extend(std::iter::repeat_n('\n', pending_newlines));
            } else {
                out.push(' ');
            }
        }
        pending_newlines = 0;
        out.push_str(p);
    }
    out
}

/// `|` keeps line breaks, `>` folds them; indentation relative to the block's first line is kept.
fn block(rest: &[Line], folded: bool) -> String {
    let indent = rest
        .iter()
        .filter(|l| !l.text.is_empty())
        .map(|l| l.indent)
        .min()
        .unwrap_or(0);
    let lines: Vec<String> = rest
        .iter()
        .map(|l| {
            if l.text.is_empty() {
                String::new()
            } else {
                format!("{}{}", " ".repeat(l.indent - indent), l.text)
            }
        })
        .collect();
    let text = if folded {
        let parts: Vec<&str> = lines.iter().map(String::as_str).collect();
        fold(&parts)
    } else {
        lines.join("\n")
    };
    text.trim_end().to_string()
}

/// A quoted scalar spread over `raw` lines (the first without its opening quote). Returns `None`
/// when the closing quote is missing.
fn quoted(raw: &[&str], quote: char) -> Option<String> {
    let mut folded_lines: Vec<String> = Vec::new();
    let mut closed = false;
    'lines: for (k, line) in raw.iter().enumerate() {
        let line = if k == 0 { *line } else { line.trim_start() };
        let mut cur = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == quote {
                if quote == '\'' && chars.peek() == Some(&'\'') {
                    chars.next();
                    cur.push('\'');
                    continue;
                }
                closed = true;
                folded_lines.push(cur);
                break 'lines;
            }
            if c == '\\' && quote == '"' {
                match chars.next() {
                    Some('n') => cur.push('\n'),
                    Some('t') => cur.push('\t'),
                    Some('"') => cur.push('"'),
                    Some('\\') => cur.push('\\'),
                    Some('/') => cur.push('/'),
                    Some('u') => {
                        let hex: String = chars.by_ref().take(4).collect();
                        cur.push(
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)?,
                        );
                    }
                    Some(other) => {
                        cur.push('\\');
                        cur.push(other);
                    }
                    None => {} // an escaped line break joins the lines without a space
                }
                continue;
            }
            cur.push(c);
        }
        folded_lines.push(cur);
    }
    if !closed {
        return None;
    }
    let parts: Vec<&str> = folded_lines.iter().map(String::as_str).collect();
    Some(fold_keep_edges(&parts))
}

/// Like [`fold`], but the first line keeps its leading and the last its trailing spaces.
fn fold_keep_edges(parts: &[&str]) -> String {
    if parts.len() == 1 {
        return parts[0].to_string();
    }
    let mut out = String::new();
    let mut pending_newlines = 0;
    for (k, p) in parts.iter().enumerate() {
        let p = if k == 0 {
            p.trim_end()
        } else if k + 1 == parts.len() {
            p.trim_start()
        } else {
            p.trim()
        };
        if p.is_empty() && k > 0 && k + 1 < parts.len() {
            pending_newlines += 1;
            continue;
        }
        if k > 0 {
            if pending_newlines > 0 {
                out.extend(std::iter::repeat_n('\n', pending_newlines));
            } else {
                out.push(' ');
            }
        }
        pending_newlines = 0;
        out.push_str(p);
    }
    out
}

/// Every conversation of every `*.yml` in `dir`, as alternating user/assistant turns.
pub fn chatterbot_items(dir: &Path) -> Result<Vec<QaItem>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Other(format!("{}: no .yml files", dir.display())));
    }
    let mut items = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let parsed = parse_chatterbot_yaml(&path, &text)?;
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        items.extend(conversations_to_items(&stem, &parsed));
    }
    Ok(items)
}

/// Turns parsed conversations into items. Empty lines are dropped; a conversation that is left
/// with no user/assistant pair is skipped.
pub fn conversations_to_items(stem: &str, file: &ChatterbotFile) -> Vec<QaItem> {
    let mut items = Vec::new();
    for conv in &file.conversations {
        let lines: Vec<&str> = conv
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        let n = lines.len() / 2 * 2;
        if n < 2 {
            continue;
        }
        let messages: Vec<Message> = lines[..n]
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let text = capitalize(l);
                if k % 2 == 0 {
                    Message::user(&text)
                } else {
                    Message::assistant(&text)
                }
            })
            .collect();
        items.push(QaItem {
            source: format!("chatterbot/{stem}"),
            template: format!("chatterbot/{stem}"),
            template_held_out: false,
            // the opening line is the entity: every conversation that opens the same way is
            // held out together
            entities: vec![format!("chatterbot:{}", lines[0])],
            messages,
            terse: None,
            wrong: None,
            check: None,
        });
    }
    items
}

/// A few conversations in the corpus's format, for tests and offline builds
/// (`data/sft_tables/chatterbot_sample.yml`).
pub const SAMPLE_YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/sft_tables/chatterbot_sample.yml"
));
