//! The GGUF harness: a .gguf as it is, or built from metadata and tensors with edge values, damaged counts and versions.

use super::*;

/// A `.gguf` file: parsed (header, metadata, tensor infos, data), its config, tokenizer and
/// template read from the metadata, and, when it loads as a chat model, a short chat and a
/// completion (a few greedy tokens).
pub fn gguf(data: &[u8]) {
    let bytes = match shape(data, 1) {
        Ok(files) => files[0].to_vec(),
        Err(mut inp) => structured_gguf(&mut inp),
    };
    use crate::gguf::{self as g, reader::Gguf};
    let Ok(file) = Gguf::parse(&bytes, "fuzz.gguf") else {
        return;
    };
    for t in &file.tensors {
        let _ = file.tensor_data(t);
    }
    let _ = g::model::config_from_metadata(&file);
    let _ = g::tokenizer::tokenizer_json(&file);
    let _ = g::tokenizer::tokenizer_config_json(&file);
    let Ok(mut chat) = g::chat_model_from_bytes(&bytes, "fuzz.gguf") else {
        return;
    };
    chat.tokenizer = chat.tokenizer.without_word_cache();
    let params = SamplingParams {
        max_new_tokens: 3,
        ..SamplingParams::default()
    };
    let messages = [
        Message::system("Be brief."),
        Message::user("Hi! ÄÖÜ 你好 <|im_end|>"),
    ];
    let _ = chat.chat(&messages, &params, |_| true);
    let _ = chat.complete("Hello world", &params, |_| true);
}

/// A metadata value at the edges: numbers of every width, NaN, odd strings, arrays empty,
/// long or nested deeper than the reader accepts.
pub(super) fn gguf_value(inp: &mut Input) -> crate::gguf::reader::Value {
    use crate::gguf::reader::Value as G;
    let edge = *inp.pick(EDGE_INTS);
    match inp.below(12) {
        0 => G::U32(edge as u32),
        1 => G::U64(edge as u64),
        2 => G::I32(edge as i32),
        3 => G::I64(edge as i64),
        4 => G::F32(*inp.pick(&[f32::NAN, f32::INFINITY, -1.0, 0.0, 1e30, 1e-30])),
        5 => G::F64(*inp.pick(&[f64::NAN, f64::NEG_INFINITY, 1e300, 0.5])),
        6 => G::Bool(inp.bool()),
        7 => G::U8(inp.byte()),
        8 => G::Str(inp.text(24)),
        9 => G::Str(
            (*inp.pick(&[
                "llama",
                "gpt2",
                "llama-bpe",
                "qwen2",
                "smollm",
                "",
                "{{ x }}",
            ]))
            .into(),
        ),
        10 => {
            let mut v = G::Str(inp.text(4));
            for _ in 0..inp.below(12) {
                v = G::Array(vec![v]);
            }
            v
        }
        _ => G::Array(
            (0..inp.below(48))
                .map(|i| match inp.below(3) {
                    0 => G::Str(format!("t{i}")),
                    1 => G::I32(edge as i32),
                    _ => G::F32(i as f32),
                })
                .collect(),
        ),
    }
}

/// One of [`GGUF_BASES`] with its metadata and tensor infos damaged, written back; sometimes
/// a count in the header is damaged too.
pub(super) fn structured_gguf(inp: &mut Input) -> Vec<u8> {
    use crate::gguf::reader::{Gguf, Value as G};
    use crate::gguf::writer::Writer;
    let base = GGUF_BASES[inp.below(GGUF_BASES.len())];
    let mut w = Writer::from_gguf(&Gguf::parse(base, "base").expect("the base GGUF parses"));
    for _ in 0..1 + inp.below(4) {
        match inp.below(9) {
            0 | 1 => {
                let key = *inp.pick(GGUF_KEYS);
                let v = gguf_value(inp);
                w.set(key, v);
            }
            2 if !w.metadata.is_empty() => {
                let i = inp.below(w.metadata.len());
                w.metadata[i].1 = gguf_value(inp);
            }
            3 => {
                // An array cut short, grown, or with one element changed.
                let arrays: Vec<usize> = (0..w.metadata.len())
                    .filter(|&i| matches!(w.metadata[i].1, G::Array(_)))
                    .collect();
                if arrays.is_empty() {
                    continue;
                }
                let i = *inp.pick(&arrays);
                let (how, n, v) = (inp.below(3), inp.below(64), gguf_value(inp));
                if let G::Array(a) = &mut w.metadata[i].1 {
                    match how {
                        0 => a.truncate(n.min(a.len())),
                        1 => {
                            let x = a.first().cloned().unwrap_or(G::U8(0));
                            a.extend(std::iter::repeat_n(x, n));
                        }
                        _ if !a.is_empty() => {
                            let j = n % a.len();
                            a[j] = v;
                        }
                        _ => {}
                    }
                }
            }
            4 if !w.metadata.is_empty() => {
                let i = inp.below(w.metadata.len());
                w.metadata.remove(i);
            }
            5 | 6 if !w.tensors.is_empty() => {
                // A tensor's shape, type or data changed.
                let i = inp.below(w.tensors.len());
                let edge = *inp.pick(EDGE_INTS) as u64 as usize;
                let (how, n) = (inp.below(5), inp.below(64));
                let t = &mut w.tensors[i];
                match how {
                    0 if !t.1.is_empty() => {
                        let d = n % t.1.len();
                        t.1[d] = edge;
                    }
                    1 => t.1.push(edge.min(1 << 20)),
                    2 => t.2 = n as u32,
                    3 => {
                        let keep = t.3.len().saturating_sub(n);
                        t.3.truncate(keep);
                    }
                    _ => t.0 = inp.text(16),
                }
            }
            7 if !w.tensors.is_empty() => {
                // A tensor dropped or named twice.
                let i = inp.below(w.tensors.len());
                if inp.bool() {
                    w.tensors.remove(i);
                } else {
                    let t = w.tensors[i].clone();
                    w.tensors.push(t);
                }
            }
            _ => w.version = *inp.pick(&[1, 2, 3, 4, u32::MAX]),
        }
    }
    // The writer pads to general.alignment itself: keep it from allocating gigabytes here (the
    // reader sees large alignments through byte-level mutations of the seeds).
    if let Some((_, G::U32(a))) = w
        .metadata
        .iter_mut()
        .find(|(k, _)| k == "general.alignment")
    {
        if *a > 1 << 16 {
            *a = (*a % (1 << 16)) + 1;
        }
    }
    let mut bytes = w.to_bytes();
    if inp.bool() && bytes.len() >= 24 {
        let at = *inp.pick(&[8usize, 16]);
        let v = *inp.pick(EDGE_INTS) as u64;
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    bytes
}

// ---- generation_config.json -----------------------------------------------------------------------
