//! GGUF: dequantization against gguf-py (the oracle), the tiny GGUF models of every weight type
//! against the same weights as a Hugging Face directory, and bad files. Fixtures:
//! tests/fixtures/gguf/make_fixtures.py.

use safetensors::SafeTensors;
use std::path::PathBuf;
use tinychat::gguf::{self, Gguf, ModelParts, Value, Writer};
use tinychat::params::{LayerSlot, Slot};
use tinychat::quant::{self, QType};
use tinychat::{ChatModel, Error, KvCache, Logits, Message, Model};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .collect()
}

/// Panics at the first element whose bits differ, naming it.
fn assert_same_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!(
            "{what}: element {i} is {} but gguf-py gives {} (first of {} differing elements)\n---> HINT: re-run python3 tests/fixtures/gguf/make_fixtures.py if gguf-py changed",
            got[i],
            want[i],
            (0..got.len())
                .filter(|&i| got[i].to_bits() != want[i].to_bits())
                .count()
        );
    }
}

#[test]
fn gguf_dequantize_equals_gguf_py_on_every_type() {
    let bytes = read("odd_tensors.gguf");
    let g = Gguf::parse(&bytes, "odd_tensors.gguf").unwrap();
    let expected_bytes = read("odd_tensors_expected.safetensors");
    let expected = SafeTensors::deserialize(&expected_bytes).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for t in &g.tensors {
        let want = expected.tensor(&t.name).unwrap();
        assert_eq!(t.shape(), want.shape(), "{}", t.name);
        let mut got = vec![0f32; t.n_elements()];
        quant::dequantize(t.qtype, g.tensor_data(t), &mut got);
        assert_same_bits(&t.name, &got, &f32s(want.data()));
        seen.insert(t.qtype.name());
    }
    assert_eq!(
        seen.len(),
        QType::ALL.len(),
        "every type is covered: {seen:?}"
    );
}

const TYPES: [(&str, QType); 8] = [
    ("f32", QType::F32),
    ("f16", QType::F16),
    ("bf16", QType::BF16),
    ("q8_0", QType::Q8_0),
    ("q4_0", QType::Q4_0),
    ("q4_1", QType::Q4_1),
    ("q4_k", QType::Q4K),
    ("q6_k", QType::Q6K),
];

/// tiny_<type>.gguf loads to the very weights gguf-py dequantizes (tiny_<type>_hf/, Q and K
/// rows permuted back by numpy), and both give the same logits on the CPU engine.
#[test]
fn gguf_tiny_models_of_every_type_equal_their_safetensors_twins() {
    for (name, qtype) in TYPES {
        let bytes = read(&format!("tiny_{name}.gguf"));
        let g = Gguf::parse(&bytes, &format!("tiny_{name}.gguf")).unwrap();
        let parts = ModelParts::from_gguf(&g).unwrap();
        let wq = parts
            .tensors
            .iter()
            .find(|t| t.slot == Slot::Layer(0, LayerSlot::Wq))
            .unwrap();
        assert_eq!(wq.qtype, qtype, "{name}: attn_q's type");
        let from_gguf = parts.to_model_f32();
        let twin = Model::load(dir().join(format!("tiny_{name}_hf"))).unwrap();
        assert_eq!(from_gguf.config, twin.config, "{name}: config");
        let (pg, pt) = (from_gguf.to_params(), twin.to_params());
        for spec in &pt.layout.specs {
            assert_same_bits(
                &format!("tiny_{name}: {}", spec.name),
                pg.t(spec.slot),
                pt.t(spec.slot),
            );
        }
        let tokens: Vec<u32> = (0..12).map(|i| (i * 7 + 3) % 40).collect();
        let logits = |m: &Model| {
            m.forward(&tokens, &mut KvCache::new(&m.config), Logits::All)
                .unwrap()
        };
        let (a, b) = (logits(&from_gguf), logits(&twin));
        assert_same_bits(&format!("tiny_{name}: logits"), &a, &b);
        assert!(a.iter().all(|x| x.is_finite()) && a.iter().any(|&x| x.abs() > 0.1));
    }
}

#[test]
fn gguf_tiny_chat_model_loads_from_a_file_and_a_directory() {
    let chat = ChatModel::load(dir().join("tiny_q8_0.gguf")).unwrap();
    assert_eq!(chat.stop_tokens, vec![2]);
    let t = chat.template.as_ref().unwrap();
    assert_eq!(
        (t.bos_token.as_deref(), t.eos_token.as_deref()),
        (Some("<|im_start|>"), Some("<|im_end|>"))
    );
    let ids = chat.encode_chat(&[Message::user("the hello")]).unwrap();
    // <|im_start|> u s e r Ċ "the" Ġ "he" "ll" o <|im_end|> Ċ <|im_start|> a s s i s t a n t Ċ
    assert_eq!(&ids[..6], &[1, 23, 21, 7, 20, 34]);
    assert_eq!(
        chat.tokenizer.decode(&ids, false).unwrap(),
        "<|im_start|>user\nthe hello<|im_end|>\n<|im_start|>assistant\n"
    );

    let e = ChatModel::load(dir().join("missing.gguf"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("missing.gguf: entity not found"), "{e}");

    // A directory holding exactly one .gguf and no config.json is that model.
    let tmp = tempdir("one");
    std::fs::copy(dir().join("tiny_q8_0.gguf"), tmp.join("m.gguf")).unwrap();
    let chat2 = ChatModel::load(&tmp).unwrap();
    assert_eq!(chat2.model.config, chat.model.config);
    std::fs::copy(dir().join("tiny_q4_0.gguf"), tmp.join("n.gguf")).unwrap();
    let e = ChatModel::load(&tmp).err().unwrap().to_string();
    assert!(e.contains("holds 2 .gguf files (m.gguf, n.gguf)"), "{e}");
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinychat-gguf-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---- bad files: each a clear error -----------------------------------------------------------

fn parse_err(bytes: &[u8]) -> String {
    match Gguf::parse(bytes, "model.gguf") {
        Ok(_) => panic!("parsing must fail"),
        Err(e) => e.to_string(),
    }
}

/// The tiny Q8_0 model, changed by `f` and parsed back into a chat model (or its error).
fn load_changed(f: impl FnOnce(&mut Writer)) -> Result<ChatModel, Error> {
    let bytes = read("tiny_q8_0.gguf");
    let g = Gguf::parse(&bytes, "x").unwrap();
    let mut w = Writer::from_gguf(&g);
    f(&mut w);
    gguf::chat_model_from_bytes(&w.to_bytes(), "model.gguf")
}

fn load_err(f: impl FnOnce(&mut Writer)) -> String {
    match load_changed(f) {
        Ok(_) => panic!("loading must fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn gguf_truncated_file() {
    let bytes = read("tiny_q4_1.gguf");
    for cut in [3, 10, 30, 200, 2000, bytes.len() - 100] {
        let e = parse_err(&bytes[..cut]);
        assert!(e.starts_with("model.gguf: "), "{e}");
        assert!(e.contains("truncated"), "cut at {cut}: {e}");
    }
    let e = parse_err(&bytes[..bytes.len() - 100]);
    assert!(
        e.contains("needs") && e.contains("but the file ends at"),
        "{e}"
    );
}

#[test]
fn gguf_wrong_magic_and_versions() {
    let mut bytes = read("tiny_q4_1.gguf");
    bytes[..4].copy_from_slice(b"GGML");
    let e = parse_err(&bytes);
    assert_eq!(
        e,
        "model.gguf: not a GGUF file: it starts with \"GGML\" instead of \"GGUF\""
    );
    let e = parse_err(b"{\"model_type\": \"llama\"}");
    assert!(e.contains("not a GGUF file"), "{e}");
    let mut w = Writer::new();
    w.version = 1;
    let e = parse_err(&w.to_bytes());
    assert!(e.contains("GGUF version 1 is not supported"), "{e}");
    w.version = 7;
    assert!(parse_err(&w.to_bytes()).contains("GGUF version 7 is not supported"));
    w.version = 3u32.swap_bytes();
    assert!(parse_err(&w.to_bytes()).contains("big-endian"));
    w.version = 2;
    assert!(Gguf::parse(&w.to_bytes(), "v2.gguf").is_ok());
}

#[test]
fn gguf_unsupported_weight_type_is_named() {
    let mut w = Writer::new();
    w.kv("general.architecture", Value::Str("llama".into()))
        .tensor_raw("blk.3.attn_q.weight", &[256, 2], 13, vec![0; 2 * 176]);
    let e = parse_err(&w.to_bytes());
    assert_eq!(
        e,
        "model.gguf: tensor \"blk.3.attn_q.weight\": type Q5_K (13) is not supported; tinychat reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K"
    );
    let mut w = Writer::new();
    w.tensor_raw("t", &[4], 99, vec![0; 16]);
    assert!(parse_err(&w.to_bytes()).contains("type 99 (not a ggml type) is not supported"));
}

#[test]
fn gguf_tensor_size_disagreeing_with_type_and_shape() {
    // 2 rows of 64 Q8_0 values need 2 · 2 · 34 bytes; one row's bytes are stored.
    let mut w = Writer::new();
    w.tensor("a", &[64, 2], QType::Q8_0, vec![0; 68])
        .tensor("b", &[64], QType::F32, vec![0; 256]);
    let e = parse_err(&w.to_bytes());
    assert!(
        e.contains("tensor \"a\" (Q8_0, shape [2, 64], 136 bytes at offset")
            && e.contains("overlaps tensor \"b\"")
            && e.contains("size disagrees with its type and shape"),
        "{e}"
    );
    // The same as the last tensor: it runs past the end of the file.
    let mut w = Writer::new();
    w.tensor("b", &[8], QType::F32, vec![0; 32])
        .tensor("a", &[64, 4], QType::Q8_0, vec![0; 68]);
    let e = parse_err(&w.to_bytes());
    assert!(
        e.contains("tensor \"a\" (Q8_0, shape [4, 64]) needs 272 bytes"),
        "{e}"
    );
    // Rows that are not whole blocks.
    let mut w = Writer::new();
    w.tensor("c", &[33, 1], QType::Q4_0, vec![0; 64]);
    let e = parse_err(&w.to_bytes());
    assert!(
        e.contains("type Q4_0 packs 32 values per block, but its rows have 33"),
        "{e}"
    );
    // More than 4 dimensions.
    let mut w = Writer::new();
    w.tensor("d", &[1, 1, 1, 1, 2], QType::F32, vec![0; 8]);
    assert!(parse_err(&w.to_bytes()).contains("has 5 dimensions (GGUF allows 1 to 4)"));
}

/// Counts and lengths far beyond the file are refused before anything is allocated (an
/// allocation of that size would abort the test process).
#[test]
fn gguf_huge_counts_are_refused_before_allocating() {
    let header = |n_tensors: u64, n_kv: u64| {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(n_tensors.to_le_bytes());
        b.extend(n_kv.to_le_bytes());
        b
    };
    let key = |b: &mut Vec<u8>, k: &str| {
        b.extend((k.len() as u64).to_le_bytes());
        b.extend(k.as_bytes());
    };
    // An array of 2^62 strings.
    let mut b = header(0, 1);
    key(&mut b, "tokenizer.ggml.tokens");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend((1u64 << 62).to_le_bytes());
    b.extend([0u8; 64]);
    let e = parse_err(&b);
    assert!(
        e.contains("4611686018427387904 elements of array \"tokenizer.ggml.tokens\" need at least"),
        "{e}"
    );
    // Nested arrays, each claiming u64::MAX elements.
    let mut b = header(0, 1);
    key(&mut b, "nested");
    b.extend(9u32.to_le_bytes());
    b.extend(9u32.to_le_bytes());
    b.extend(u64::MAX.to_le_bytes());
    assert!(parse_err(&b).contains("elements of array \"nested\""));
    // Arrays nested deeper than any real file.
    let mut b = header(0, 1);
    key(&mut b, "deep");
    b.extend(9u32.to_le_bytes());
    for _ in 0..20 {
        b.extend(9u32.to_le_bytes());
        b.extend(1u64.to_le_bytes());
    }
    b.extend([0u8; 64]);
    assert!(parse_err(&b).contains("nest deeper than"));
    // A string of 2^63 bytes.
    let mut b = header(0, 1);
    b.extend((1u64 << 63).to_le_bytes());
    assert!(parse_err(&b).contains("truncated"));
    // u64::MAX metadata entries, u64::MAX tensors.
    assert!(parse_err(&header(0, u64::MAX)).contains("metadata key/value pairs need at least"));
    assert!(parse_err(&header(u64::MAX, 0)).contains("tensor infos need at least"));
    // A tensor whose dimensions multiply past usize.
    let mut w = Writer::new();
    w.tensor("t", &[1 << 40, 1 << 40], QType::F32, vec![]);
    assert!(parse_err(&w.to_bytes()).contains("overflows"));
}

#[test]
fn gguf_model_errors_name_key_tensor_and_architecture() {
    let e = load_err(|w| {
        w.set("general.architecture", Value::Str("qwen3moe".into()));
    });
    assert!(
        e.starts_with("model.gguf: general.architecture is \"qwen3moe\"; tinychat runs \"llama\""),
        "{e}"
    );
    let e = load_err(|w| {
        w.remove("llama.block_count");
    });
    assert_eq!(e, "model.gguf: metadata \"llama.block_count\" is missing");
    let e = load_err(|w| {
        w.set("llama.embedding_length", Value::Str("32".into()));
    });
    assert!(
        e.contains("\"llama.embedding_length\" must be a non-negative integer, got a string"),
        "{e}"
    );
    let e = load_err(|w| {
        w.tensors.retain(|t| t.0 != "blk.1.ffn_up.weight");
    });
    assert!(
        e.contains("tensor \"blk.1.ffn_up.weight\" is missing (expected shape [64, 32])"),
        "{e}"
    );
    let e = load_err(|w| {
        w.set("llama.feed_forward_length", Value::U32(96));
    });
    assert!(
        e.contains(
            "tensor \"blk.0.ffn_gate.weight\" has shape [64, 32], but the config needs [96, 32]"
        ),
        "{e}"
    );
    // A hostile context length sizes no allocation.
    let chat = load_changed(|w| {
        w.set("llama.context_length", Value::U64(1 << 50));
    })
    .unwrap();
    assert_eq!(chat.model.config.max_seq_len, gguf::model::MAX_CONTEXT);
    let e = load_err(|w| {
        w.set("llama.block_count", Value::U64(1 << 60));
    });
    assert!(
        e.contains("llama.block_count is 1152921504606846976 but the file holds only"),
        "{e}"
    );
    let e = load_err(|w| {
        w.set("llama.embedding_length", Value::U64(1 << 40));
    });
    assert!(e.contains("need more weights than the file holds"), "{e}");
    let e = load_err(|w| {
        w.set("llama.rope.dimension_count", Value::U32(8));
    });
    assert!(e.contains("partial RoPE is not supported"), "{e}");
}

#[test]
fn gguf_unknown_tokenizer_and_pre_tokenizer_are_named() {
    let e = load_err(|w| {
        w.set("tokenizer.ggml.pre", Value::Str("deepseek-coder".into()));
    });
    assert!(
        e.contains("tokenizer.ggml.pre \"deepseek-coder\" is not supported; tinychat knows gpt-2,"),
        "{e}"
    );
    let e = load_err(|w| {
        w.remove("tokenizer.ggml.pre");
    });
    assert!(e.contains("\"tokenizer.ggml.pre\" is missing"), "{e}");
    let e = load_err(|w| {
        w.set("tokenizer.ggml.model", Value::Str("bert".into()));
    });
    assert!(
        e.contains("tokenizer.ggml.model \"bert\" is not supported"),
        "{e}"
    );
    let e = load_err(|w| {
        w.remove("tokenizer.ggml.tokens");
    });
    assert!(e.contains("\"tokenizer.ggml.tokens\" is missing"), "{e}");
}

/// The pre-tokenizers llama.cpp names split text as llama.cpp does.
#[test]
fn gguf_pre_tokenizers_split_like_llama_cpp() {
    let pieces = |pre: &str, text: &str| -> Vec<String> {
        let chat = load_changed(|w| {
            w.set("tokenizer.ggml.pre", Value::Str(pre.into()));
        })
        .unwrap();
        let pt = chat.tokenizer.inner().get_pre_tokenizer().unwrap().clone();
        use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};
        let mut s = PreTokenizedString::from(text);
        pt.pre_tokenize(&mut s).unwrap();
        s.get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(p, _, _)| p.to_string())
            .collect()
    };
    let text = "I'll pay 12345 now";
    assert_eq!(
        pieces("gpt-2", text),
        ["I", "'ll", "Ġpay", "Ġ12345", "Ġnow"]
    );
    assert_eq!(
        pieces("smollm", text),
        ["I", "'ll", "Ġpay", "Ġ", "1", "2", "3", "4", "5", "Ġnow"]
    );
    assert_eq!(
        pieces("llama-bpe", text),
        ["I", "'ll", "Ġpay", "Ġ", "123", "45", "Ġnow"]
    );
    assert_eq!(
        pieces("qwen2", text),
        ["I", "'ll", "Ġpay", "Ġ", "1", "2", "3", "4", "5", "Ġnow"]
    );
}

/// A SentencePiece ("llama") vocabulary: merges from the scores, byte fallback, "▁" for spaces,
/// BOS added by the post-processor; ids as transformers' GGUF loader gives them
/// (tests/fixtures/gguf/make_tokenizer_cases.py), except where llama.cpp and transformers differ.
#[test]
fn gguf_sentencepiece_tokenizer_matches_transformers() {
    let bytes = read("spm_tiny.gguf");
    let g = Gguf::parse(&bytes, "spm_tiny.gguf").unwrap();
    let tok = gguf::tokenizer::tokenizer(&g).unwrap();
    let cases: serde_json::Value = serde_json::from_slice(&read("spm_tiny_cases.json")).unwrap();
    for c in cases["cases"].as_array().unwrap() {
        let text = c["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(c["ids"].clone()).unwrap();
        let got = tok.encode(text, false).unwrap();
        if text == " hello" {
            // llama.cpp prefixes a space to the text as it is, so " hello" is "▁▁hello" (▁, ▁hello);
            // transformers' Metaspace does not add one to text that starts with a space.
            assert_eq!(got, [259, 279], "{text:?}");
            assert_eq!(want, [279], "{text:?}");
            continue;
        }
        assert_eq!(got, want, "{text:?}");
        assert_eq!(
            tok.decode(&got, false).unwrap(),
            c["decoded"].as_str().unwrap(),
            "{text:?}"
        );
    }
    // add_bos_token: encode(add_special) puts <s> first.
    assert_eq!(tok.encode("hello", true).unwrap(), [1, 279]);
}

// ---- Hugging Face side: convert, chat_template.jinja, quantized checkpoints -------------------

/// `convert_to_hf` writes a directory that loads (through the Hugging Face path) to the same
/// weights, tokenizer, template and logits as the GGUF.
#[test]
fn gguf_convert_to_hugging_face_directory() {
    use tinychat::weights::DType;
    for name in ["q4_k", "q4_1"] {
        let file = format!("tiny_{name}.gguf");
        let out = tempdir(&format!("convert-{name}"));
        let s = gguf::convert::convert_to_hf(&read(&file), &file, &out, DType::F32).unwrap();
        for f in &s.files {
            assert!(out.join(f).is_file(), "{f}");
        }
        assert_eq!(s.files.len(), 6);
        let a = ChatModel::load(dir().join(&file)).unwrap();
        let b = ChatModel::load(&out).unwrap();
        assert!(b.model.config.tie_embeddings == (name == "q4_k"));
        assert_eq!(a.model.config, b.model.config);
        assert_same_bits(name, &a.model.to_params().data, &b.model.to_params().data);
        assert_eq!(a.stop_tokens, b.stop_tokens);
        let (ta, tb) = (a.template.as_ref().unwrap(), b.template.as_ref().unwrap());
        assert_eq!(
            (&ta.template, &ta.bos_token, &ta.eos_token),
            (&tb.template, &tb.bos_token, &tb.eos_token)
        );
        let msgs = [
            Message::system("be brief"),
            Message::user("the hello, 2024!"),
        ];
        assert_eq!(a.encode_chat(&msgs).unwrap(), b.encode_chat(&msgs).unwrap());

        // chat_template.jinja alone (transformers ≥ 4.43) gives the template too.
        let tc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("tokenizer_config.json")).unwrap())
                .unwrap();
        let mut tc = tc.as_object().unwrap().clone();
        tc.remove("chat_template");
        std::fs::write(
            out.join("tokenizer_config.json"),
            serde_json::to_string(&tc).unwrap(),
        )
        .unwrap();
        std::fs::write(
            out.join("chat_template.jinja"),
            "{{ messages[0]['content'] }}!",
        )
        .unwrap();
        let c = ChatModel::load(&out).unwrap();
        let t = c.template.unwrap();
        assert_eq!(t.render(&msgs, false).unwrap(), "be brief!");
        assert_eq!(t.eos_token.as_deref(), Some("<|im_end|>"));
    }
    // --dtype f16: the same model within f16 rounding.
    let out = tempdir("convert-f16");
    gguf::convert::convert_to_hf(&read("tiny_q8_0.gguf"), "t", &out, DType::F16).unwrap();
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["torch_dtype"], "float16");
    let m = Model::load(&out).unwrap();
    let q = ChatModel::load(dir().join("tiny_q8_0.gguf")).unwrap();
    let worst = m
        .to_params()
        .data
        .iter()
        .zip(&q.model.to_params().data)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-3, "{worst}");
}

#[test]
fn gguf_convert_command_line() {
    let bin = env!("CARGO_BIN_EXE_tinychat");
    let help = std::process::Command::new(bin)
        .args(["convert", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("tinychat convert --gguf") && help.contains("--dtype"),
        "{help}"
    );
    let out = tempdir("convert-cli");
    let o = std::process::Command::new(bin)
        .args(["convert", "--gguf"])
        .arg(dir().join("tiny_q6_k.gguf"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("from Q6_K ×6, F32 ×3, Q8_0 ×2, stored as F32"),
        "{stdout}"
    );
    assert!(out.join("model.safetensors").is_file());
    // A bad file: `error: ...` naming it, status 1.
    let bad = out.join("bad.gguf");
    std::fs::write(&bad, b"GGUF\x03\0\0\0").unwrap();
    let o = std::process::Command::new(bin)
        .args(["convert", "--gguf"])
        .arg(&bad)
        .arg("--out")
        .arg(out.join("x"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: ") && stderr.contains("bad.gguf: truncated"),
        "{stderr}"
    );
}

#[test]
fn hf_quantized_checkpoint_is_refused_with_a_pointer_to_gguf() {
    let text = r#"{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
        "num_hidden_layers": 2, "intermediate_size": 128, "vocab_size": 100,
        "quantization_config": {"quant_method": "gptq", "bits": 4}}"#;
    let e = tinychat::ModelConfig::from_json_str(text, "m/config.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("m/config.json: declares quantization_config (quant_method \"gptq\"): quantized safetensors checkpoints")
            && e.contains("use a GGUF file"),
        "{e}"
    );
}

/// Corrupt bytes anywhere in a model's header (metadata, tokenizer, tensor infos) give an
/// error or a model, never a panic.
#[test]
fn gguf_corrupt_headers_never_panic() {
    let bytes = read("tiny_q8_0.gguf");
    let g = Gguf::parse(&bytes, "x").unwrap();
    let header = g.data_start;
    let (mut ok, mut err) = (0, 0);
    for i in (0..header).step_by(5) {
        for x in [0xFF, 0x01] {
            let mut b = bytes.clone();
            b[i] ^= x;
            match gguf::chat_model_from_bytes(&b, "model.gguf") {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(
                        e.to_string().contains("model.gguf")
                            || matches!(e, Error::Tokenizer(_) | Error::Template(_)),
                        "{e}"
                    );
                    err += 1
                }
            }
        }
    }
    eprintln!("corrupt headers: {err} errors, {ok} still loadable");
    assert!(err > 0);
}
