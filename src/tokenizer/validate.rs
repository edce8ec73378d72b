//! Checks a `tokenizer.json` before the `tokenizers` crate builds it. That crate trusts its
//! input: some settings make it panic or abort (a truncation stride not below its max_length, a
//! damaged SentencePiece `Precompiled` charsmap, a `Replace` pattern that matches empty text,
//! padding to 2^40 tokens). Natively a panic is caught ([`super::Tokenizer`]), but in wasm32 a
//! panic aborts the module, so what is known to break is refused here, with the field named.
//!
//! What tinychat accepts: models `BPE` (GPT-2, Llama, SmolLM2...) and `WordLevel` (tinychat's
//! moderator); any normalizer, pre-tokenizer and decoder the crate knows except `Precompiled`;
//! `Replace` and `Split` patterns that cannot match empty text; BPE merges that join vocabulary
//! tokens; `Strip` decoders that strip only from the start; added tokens that are not empty,
//! before or after normalization; no truncation and no padding
//! (tinychat fits text to the context itself and never pads).

use fancy_regex::Expr;
use serde_json::Value;

/// Checks the parsed `tokenizer.json`; the message says which field and why.
pub fn check(t: &Value) -> Result<(), String> {
    let obj = t
        .as_object()
        .ok_or("expected a JSON object at the top level")?;
    for key in ["truncation", "padding"] {
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "{key} is set, but tinychat fits text to the model's context itself and does not \
                 {}: set \"{key}\": null",
                if key == "padding" { "pad" } else { "truncate" }
            ));
        }
    }
    let model = obj.get("model").ok_or("model is missing")?;
    match model.get("type").and_then(Value::as_str) {
        Some("BPE") => check_merges(model)?,
        Some("WordLevel") => {}
        Some(other) => {
            return Err(format!(
                "model.type {other:?} is not supported (tinychat reads \"BPE\" and \"WordLevel\" tokenizers)"
            ))
        }
        None => return Err("model.type is missing (\"BPE\" or \"WordLevel\")".into()),
    }
    for key in ["normalizer", "pre_tokenizer", "decoder", "post_processor"] {
        if let Some(v) = obj.get(key) {
            check_component(key, v, 0)?;
        }
    }
    check_added_tokens(obj)
}

/// Added tokens must match some text: neither empty nor (when matched after normalization,
/// `"normalized": true`) normalized to nothing. The crate looks for them with a byte-wise
/// automaton: an empty pattern matched inside a character, and the crate sliced the text
/// there (BertNormalizer's clean_text turns `"\ufffd"` into nothing: a panic in encode).
fn check_added_tokens(obj: &serde_json::Map<String, Value>) -> Result<(), String> {
    let Some(tokens) = obj.get("added_tokens").and_then(Value::as_array) else {
        return Ok(());
    };
    // The normalizer, already checked, as the crate builds it (None: none, or one the crate
    // refuses when it loads the file).
    let normalizer: Option<tokenizers::NormalizerWrapper> = obj
        .get("normalizer")
        .filter(|v| !v.is_null())
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    for (i, t) in tokens.iter().enumerate() {
        let Some(content) = t.get("content").and_then(Value::as_str) else {
            continue; // the crate refuses it
        };
        if content.is_empty() {
            return Err(format!("added_tokens[{i}]: the content is empty"));
        }
        let normalized = t.get("normalized").and_then(Value::as_bool).unwrap_or(true);
        if let (true, Some(n)) = (normalized, &normalizer) {
            use tokenizers::Normalizer;
            let mut s = tokenizers::NormalizedString::from(content);
            if n.normalize(&mut s).is_ok() && s.get().is_empty() {
                return Err(format!(
                    "added_tokens[{i}]: {content:?} is matched after normalization, and the normalizer turns it into nothing (set \"normalized\": false, or drop the token)"
                ));
            }
        }
    }
    Ok(())
}

/// A BPE model's merges: each `a b` must join two vocabulary tokens into a third (with the
/// `continuing_subword_prefix` dropped from `b`). The crate builds the merged token in a buffer
/// as long as the longest vocabulary token and slices `b` at the prefix's length without
/// checking either: a merge whose result is not in the vocabulary panicked.
fn check_merges(model: &Value) -> Result<(), String> {
    let Some(vocab) = model.get("vocab").and_then(Value::as_object) else {
        return Ok(()); // the crate refuses it
    };
    let prefix = model
        .get("continuing_subword_prefix")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(merges) = model.get("merges").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, m) in merges.iter().enumerate() {
        let pair: Option<(&str, &str)> = match m {
            Value::String(s) => s.split_once(' ').filter(|(_, b)| !b.contains(' ')),
            Value::Array(p) if p.len() == 2 => p[0].as_str().zip(p[1].as_str()),
            _ => None,
        };
        let Some((a, b)) = pair else {
            return Err(format!(
                "model.merges[{i}]: expected \"a b\" or [\"a\", \"b\"]"
            ));
        };
        let joined = b
            .strip_prefix(prefix)
            .map(|rest| format!("{a}{rest}"))
            .filter(|j| vocab.contains_key(a) && vocab.contains_key(b) && vocab.contains_key(j));
        if joined.is_none() {
            return Err(format!(
                "model.merges[{i}]: {a:?} + {b:?} does not join two vocabulary tokens into a third{}",
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" (with the continuing_subword_prefix {prefix:?} dropped from the second)")
                }
            ));
        }
    }
    Ok(())
}

/// Components nest (a `Sequence` of `Sequence`s): deeper than this is refused, not followed.
const MAX_NESTING: usize = 16;

fn check_component(path: &str, v: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_NESTING {
        return Err(format!("{path}: nested more than {MAX_NESTING} deep"));
    }
    let Some(obj) = v.as_object() else {
        return Ok(()); // null, or a shape the crate itself refuses
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "Precompiled" => {
            return Err(format!(
                "{path}: the \"Precompiled\" normalizer (a SentencePiece charsmap) is not supported"
            ))
        }
        // Its loop from the end underflows on a token shorter than `stop`, and start and stop
        // cross on a token made only of `content`: both panicked. (Llama 2-style tokenizers
        // strip one leading space: start 1, stop 0.)
        "Strip" if path.starts_with("decoder") => {
            if obj.get("stop").and_then(Value::as_u64).unwrap_or(0) != 0 {
                return Err(format!(
                    "{path}: a \"Strip\" decoder with \"stop\" above 0 is not supported (it fails on short tokens)"
                ));
            }
        }
        "Replace" | "Split" => {
            let pattern = obj.get("pattern");
            if let Err(why) = check_pattern(pattern) {
                return Err(format!("{path}: {kind} pattern {}: {why}", show(pattern)));
            }
        }
        _ => {}
    }
    // Sequences: normalizers, pretokenizers, decoders, processors.
    for (key, value) in obj {
        if let Value::Array(items) = value {
            if matches!(
                key.as_str(),
                "normalizers" | "pretokenizers" | "decoders" | "processors"
            ) {
                for (i, item) in items.iter().enumerate() {
                    check_component(&format!("{path}.{key}[{i}]"), item, depth + 1)?;
                }
            }
        }
    }
    Ok(())
}

fn show(p: Option<&Value>) -> String {
    let s = p
        .map(Value::to_string)
        .unwrap_or_else(|| "(missing)".into());
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// A `Replace`/`Split` pattern, `{"String": s}` or `{"Regex": r}`, must not match empty text:
/// an empty match makes the crate panic (Replace) or split nowhere.
fn check_pattern(p: Option<&Value>) -> Result<(), String> {
    let obj = p
        .and_then(Value::as_object)
        .ok_or("expected {\"String\": ...} or {\"Regex\": ...}")?;
    if let Some(s) = obj.get("String").and_then(Value::as_str) {
        return if s.is_empty() {
            Err("it matches empty text".into())
        } else {
            Ok(())
        };
    }
    if let Some(re) = obj.get("Regex").and_then(Value::as_str) {
        let tree = Expr::parse_tree(re).map_err(|e| format!("not a valid regex: {e}"))?;
        return if min_len(&tree.expr, 0) == 0 {
            Err("it can match empty text".into())
        } else {
            Ok(())
        };
    }
    Err("expected {\"String\": ...} or {\"Regex\": ...}".into())
}

/// The fewest characters a match of `e` can have; 0 when it may match empty text (or when the
/// expression is beyond what this reads: refusing is the safe answer).
fn min_len(e: &Expr, depth: usize) -> usize {
    if depth > 64 {
        return 0;
    }
    let d = depth + 1;
    match e {
        Expr::Any { .. } => 1,
        Expr::Literal { val, .. } => val.chars().count(),
        Expr::Delegate { size, .. } => *size,
        Expr::Concat(v) => v
            .iter()
            .map(|x| min_len(x, d))
            .fold(0, usize::saturating_add),
        Expr::Alt(v) => v.iter().map(|x| min_len(x, d)).min().unwrap_or(0),
        Expr::Group(x) | Expr::AtomicGroup(x) => min_len(x, d),
        Expr::Repeat { child, lo, .. } => min_len(child, d).saturating_mul(*lo),
        Expr::Conditional {
            true_branch,
            false_branch,
            ..
        } => min_len(true_branch, d).min(min_len(false_branch, d)),
        // Empty, assertions, look-arounds, back-references, \K, subroutines...
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn min(re: &str) -> usize {
        min_len(&Expr::parse_tree(re).unwrap().expr, 0)
    }

    #[test]
    fn minimum_match_lengths() {
        assert_eq!(min(""), 0);
        assert_eq!(min("a*"), 0);
        assert_eq!(min("\\b"), 0);
        assert_eq!(min("(?=x)"), 0);
        assert_eq!(min("a|"), 0);
        assert_eq!(min("\\s+"), 1);
        assert_eq!(min("ab{2}"), 3);
        assert_eq!(min("\\s+(?!\\S)|\\s+"), 1);
        assert_eq!(
            min("(?i:'s|'t|'re)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"),
            1
        );
        assert_eq!(min("\\w+|[^\\w\\s]"), 1);
    }
}
