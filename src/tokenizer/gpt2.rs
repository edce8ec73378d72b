//! OpenAI's GPT-2 vocabulary files (`encoder.json` + `vocab.bpe`, as shipped by the original
//! gpt-2 repository and by the crates.io package tiktoken-rs) turned into a Hugging Face
//! `tokenizer.json`: byte-level BPE, the same ids as tiktoken's `r50k_base`.
//!
//! What the pieces are:
//! - `encoder.json`: token string → id. Token strings are GPT-2's byte-to-unicode mapping of the
//!   token's bytes (a space is `Ġ`, a newline `Ċ`), which is exactly what the ByteLevel
//!   pre-tokenizer of `tokenizers` produces, so the map is the BPE vocabulary as it is.
//! - `vocab.bpe`: a `#version` line, then one merge per line, `left right`, highest priority first.
//! - `<|endoftext|>` (id 50256) is in `encoder.json` but is no merge result: it becomes an added
//!   special token, recognised in the input text as tiktoken's `encode_with_special_tokens` does.

use crate::error::{Error, Result};
use std::collections::HashMap;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::AddedToken;

/// GPT-2's end-of-text token, its only special token.
pub const GPT2_ENDOFTEXT: &str = "<|endoftext|>";

/// Builds the tokenizer from the texts of `encoder.json` and `vocab.bpe`.
pub fn gpt2_tokenizer(encoder_json: &str, vocab_bpe: &str) -> Result<tokenizers::Tokenizer> {
    let vocab: HashMap<String, u32> = serde_json::from_str(encoder_json).map_err(|e| {
        Error::Tokenizer(format!(
            "encoder.json: expected a JSON object of token -> id: {e}"
        ))
    })?;
    if vocab.is_empty() {
        return Err(Error::Tokenizer(
            "encoder.json: the vocabulary is empty".into(),
        ));
    }
    let merges = parse_merges(vocab_bpe, &vocab)?;

    let bpe = BPE::builder()
        .vocab_and_merges(
            vocab
                .iter()
                .map(|(k, &v)| (k.clone(), v))
                .collect::<tokenizers::models::bpe::Vocab>(),
            merges,
        )
        .build()
        .map_err(|e| Error::Tokenizer(format!("cannot build the BPE model: {e}")))?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    // GPT-2 splits with its regex and never adds a leading space (add_prefix_space false), so
    // "Hello" and " Hello" stay different tokens, as in tiktoken.
    tok.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tok.with_decoder(Some(ByteLevelDecoder::new(false, true, true)));
    tok.with_post_processor(Some(ByteLevel::new(false, false, true)));
    if vocab.contains_key(GPT2_ENDOFTEXT) {
        tok.add_special_tokens([AddedToken::from(GPT2_ENDOFTEXT, true)])
            .map_err(|e| Error::Tokenizer(format!("cannot add {GPT2_ENDOFTEXT}: {e}")))?;
    }
    Ok(tok)
}

/// The Hugging Face `tokenizer.json` text (pretty-printed) of [`gpt2_tokenizer`].
pub fn gpt2_tokenizer_json(encoder_json: &str, vocab_bpe: &str) -> Result<String> {
    gpt2_tokenizer(encoder_json, vocab_bpe)?
        .to_string(true)
        .map_err(|e| Error::Tokenizer(format!("cannot serialise tokenizer.json: {e}")))
}

/// GPT-2's map from bytes to printable characters (its `bytes_to_unicode`): printable Latin-1
/// bytes map to themselves, the other 68 bytes to U+0100.. in order, so a space is `Ġ` (U+0120)
/// and a newline `Ċ` (U+010A). Token strings of byte-level vocabularies are written in it.
pub fn byte_to_unicode() -> [char; 256] {
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut out = ['\0'; 256];
    let mut next = 0x100;
    for b in 0..256u32 {
        out[b as usize] = if printable(b) {
            char::from_u32(b).expect("Latin-1")
        } else {
            next += 1;
            char::from_u32(next - 1).expect("U+0100..U+0143")
        };
    }
    out
}

/// Reads `vocab.bpe`: an optional `#version` line, then `left right` per line. Every merge's
/// parts and result must be in the vocabulary, or the files do not belong together.
fn parse_merges(vocab_bpe: &str, vocab: &HashMap<String, u32>) -> Result<Vec<(String, String)>> {
    let mut merges = Vec::new();
    for (i, line) in vocab_bpe.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if (i == 0 && line.starts_with("#version")) || line.is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::Tokenizer(format!(
                "vocab.bpe line {}: expected two tokens separated by one space, found {line:?}",
                i + 1
            )));
        };
        for t in [a, b, &format!("{a}{b}")] {
            if !vocab.contains_key(t) {
                return Err(Error::Tokenizer(format!(
                    "vocab.bpe line {}: {t:?} is not in encoder.json (are the two files from the same vocabulary?)",
                    i + 1
                )));
            }
        }
        merges.push((a.to_string(), b.to_string()));
    }
    if merges.is_empty() {
        return Err(Error::Tokenizer("vocab.bpe: no merges found".into()));
    }
    Ok(merges)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A toy vocabulary in GPT-2's byte-to-unicode alphabet: "Ġ" is the space byte.
    const ENC: &str = r#"{"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġab": 4, "<|endoftext|>": 5}"#;
    const BPE_TXT: &str = "#version: 0.2\na b\nĠ ab\n";

    #[test]
    fn toy_vocabulary_merges_and_round_trips() {
        let t = crate::tokenizer::Tokenizer::from_inner(gpt2_tokenizer(ENC, BPE_TXT).unwrap());
        let ids = t.encode("ab ab<|endoftext|>", false).unwrap();
        assert_eq!(ids, vec![3, 4, 5]);
        assert_eq!(t.decode(&ids, false).unwrap(), "ab ab<|endoftext|>");
    }

    #[test]
    fn byte_alphabet_is_gpt2s() {
        let m = byte_to_unicode();
        assert_eq!(
            (m[b' ' as usize], m[b'\n' as usize], m[b'a' as usize]),
            ('Ġ', 'Ċ', 'a')
        );
        let mut all: Vec<char> = m.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 256);
    }

    #[test]
    fn mismatched_files_are_refused() {
        let err = gpt2_tokenizer(ENC, "#version: 0.2\na c\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = gpt2_tokenizer("[1, 2]", BPE_TXT).unwrap_err();
        assert!(err.to_string().contains("encoder.json"), "{err}");
    }
}
