//! Untrusted files never crash, hang or escape: every reproducer the fuzzer found (issue
//! "Untrusted files and inputs never crash, hang or escape") gets a clear error. Each test runs
//! its input on a thread with a deadline, so a regression fails the test instead of hanging it,
//! and on a thread with the default 2 MiB stack, so a stack overflow shows up as one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;
use tinychat::Model;

const LLAMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/llama_tiny");
const GPT2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gpt2_tiny");

/// Runs `f` on its own thread and fails if it takes longer than `secs` seconds (it is left
/// running: the test process ends soon after).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(what.into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {secs} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinychat-untrusted-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A copy of a fixture's config.json and model.safetensors with `edit` applied to the config.
fn model_dir(name: &str, fixture: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let d = temp_dir(name);
    std::fs::copy(
        Path::new(fixture).join("model.safetensors"),
        d.join("model.safetensors"),
    )
    .unwrap();
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(fixture).join("config.json")).unwrap(),
    )
    .unwrap();
    edit(&mut cfg);
    std::fs::write(d.join("config.json"), cfg.to_string()).unwrap();
    d
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected {p:?} in: {msg}");
    }
}

fn tinychat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinychat"))
        .args(args)
        .output()
        .expect("run tinychat")
}

/// status 1, `error: ...` naming every part of `want`, no panic.
fn assert_cli_error(out: &Output, want: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_has(&err, want);
}

// ---- 1. config.json sizes ---------------------------------------------------------------------

/// (field, value, words of the expected message) for llama configs that used to abort, wrap,
/// panic or hang before a single tensor was read.
const HOSTILE_SIZES: &[(&str, u64, &str)] = &[
    // aborted allocating the RoPE table
    (
        "max_position_embeddings",
        1_000_000_000,
        "max_position_embeddings 1000000000 is larger",
    ),
    // wrapped the table's size, then looped forever
    (
        "max_position_embeddings",
        1 << 63,
        "max_position_embeddings",
    ),
    // aborted in ParamLayout::new / Params::zeros
    (
        "intermediate_size",
        1_000_000_000_000,
        "intermediate_size 1000000000000 is larger",
    ),
    (
        "vocab_size",
        1_000_000_000_000,
        "vocab_size 1000000000000 is larger",
    ),
    ("head_dim", 1 << 31, "head_dim 2147483648 is larger"),
    // "capacity overflow"
    ("hidden_size", 1 << 63, "hidden_size"),
    // hung building the layout
    (
        "num_hidden_layers",
        1_000_000_000,
        "num_hidden_layers 1000000000 is larger",
    ),
    ("num_attention_heads", u64::MAX, "num_attention_heads"),
];

#[test]
fn config_sizes_are_bounded_before_anything_is_allocated() {
    for &(field, value, want) in HOSTILE_SIZES {
        let dir = model_dir(&format!("cfg-{field}-{value}"), LLAMA, |c| {
            c[field] = value.into();
            if field == "hidden_size" {
                // keep hidden_size divisible by the heads, so the size check is what fails
                c["num_attention_heads"] = 1.into();
                c["num_key_value_heads"] = 1.into();
            }
        });
        let d = dir.clone();
        let msg = within(10, field, move || {
            Model::load(&d).err().expect("must fail").to_string()
        });
        assert_has(&msg, &["config.json", want]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn gpt2_width_that_overflows_the_mlp_default_is_refused() {
    // n_inner defaults to 4 * n_embd, which overflowed.
    let dir = model_dir("gpt2-width", GPT2, |c| {
        c["n_embd"] = (1u64 << 62).into();
        c["n_head"] = 1.into();
    });
    let d = dir.clone();
    let msg = within(10, "gpt2", move || {
        Model::load(&d).err().unwrap().to_string()
    });
    assert_has(&msg, &["config.json", "hidden_size"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sizes_within_the_limits_but_larger_than_the_weights_are_refused_before_allocating() {
    // 1024 layers of width 2^16 is 2^42 parameters: over the parameter limit. 64 layers with an
    // MLP of 2^20 is ~4e10 parameters: within it, but the 430 kB file cannot hold them.
    let dir = model_dir("cfg-vs-file", LLAMA, |c| {
        c["num_hidden_layers"] = 64.into();
        c["intermediate_size"] = (1u64 << 20).into();
    });
    let d = dir.clone();
    let msg = within(10, "size", move || {
        Model::load(&d).err().unwrap().to_string()
    });
    assert_has(
        &msg,
        &[
            "model.safetensors",
            "parameters",
            "does not belong to these weights",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_long_context_costs_memory_only_for_the_positions_used() {
    // Two million positions used to mean a 1 GB RoPE table built at load.
    let dir = model_dir("long-context", LLAMA, |c| {
        c["max_position_embeddings"] = (1u64 << 21).into();
    });
    let d = dir.clone();
    let logits = within(20, "long context", move || {
        let m = Model::load(&d).unwrap();
        let mut cache = m.new_cache();
        m.forward(&[1, 5, 9], &mut cache, tinychat::model::Logits::Last)
            .unwrap()
    });
    let reference = Model::load(LLAMA).unwrap();
    let mut cache = reference.new_cache();
    let want = reference
        .forward(&[1, 5, 9], &mut cache, tinychat::model::Logits::Last)
        .unwrap();
    assert_eq!(logits, want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn token_ids_that_do_not_fit_u32_are_refused_not_truncated() {
    let dir = model_dir("eos-wrap", LLAMA, |c| {
        c["eos_token_id"] = ((1u64 << 32) + 2).into()
    });
    let msg = Model::load(&dir).err().unwrap().to_string();
    assert_has(&msg, &["config.json", "eos_token_id", "below 2^32"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_reports_a_hostile_config_as_an_error() {
    let dir = model_dir("cli-cfg", LLAMA, |c| {
        c["max_position_embeddings"] = 1_000_000_000u64.into()
    });
    let out = tinychat(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert_cli_error(&out, &["config.json", "max_position_embeddings"]);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- 3. tokenizer.json ------------------------------------------------------------------------

const CHAT_TOKENIZER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/web/models/default/chat/tokenizer.json"
);
const MODERATOR_TOKENIZER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/web/models/default/moderator/tokenizer.json"
);

/// The committed chat model's byte-level tokenizer.json with `edit` applied.
fn tokenizer_json(path: &str, edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    v.to_string().into_bytes()
}

/// Loads `bytes` and encodes and decodes a text with them; the first error's message.
fn tokenizer_error(bytes: Vec<u8>) -> String {
    within(10, "tokenizer", move || {
        let tok = tinychat::Tokenizer::from_bytes(&bytes)?;
        let ids = tok.encode("Hello world, how are you? ÄÖÜ 你好", false)?;
        tok.decode(&ids, false)?;
        Ok::<_, tinychat::Error>(())
    })
    .err()
    .expect("the tokenizer must be refused")
    .to_string()
}

#[test]
fn tokenizer_truncation_and_padding_are_refused() {
    // stride >= max_length panicked in encode
    let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
        t["truncation"] = serde_json::json!({"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 4});
    }));
    assert_has(&msg, &["truncation"]);
    // Fixed padding to 2^40 tokens aborted allocating
    let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
        t["padding"] = serde_json::json!({"strategy": {"Fixed": 1u64 << 40}, "direction": "Right",
            "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "<pad>"});
    }));
    assert_has(&msg, &["padding"]);
}

#[test]
fn tokenizer_precompiled_normalizers_are_refused() {
    // "/////w==" panicked at load, "AAAAAAAA" at encode
    for charsmap in ["/////w==", "AAAAAAAA"] {
        let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
            t["normalizer"] =
                serde_json::json!({"type": "Precompiled", "precompiled_charsmap": charsmap});
        }));
        assert_has(&msg, &["Precompiled"]);
        let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
            t["normalizer"] = serde_json::json!({"type": "Sequence", "normalizers": [
                {"type": "Lowercase"}, {"type": "Precompiled", "precompiled_charsmap": charsmap}]});
        }));
        assert_has(&msg, &["Precompiled"]);
    }
}

#[test]
fn tokenizer_patterns_that_match_empty_text_are_refused() {
    // A Replace normalizer with an empty regex panicked in encode on the byte-level tokenizer.
    for pattern in [
        serde_json::json!({"Regex": ""}),
        serde_json::json!({"Regex": "a*"}),
        serde_json::json!({"Regex": "\\b"}),
        serde_json::json!({"Regex": "(?=x)"}),
        serde_json::json!({"String": ""}),
    ] {
        let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
            t["normalizer"] =
                serde_json::json!({"type": "Replace", "pattern": pattern, "content": "x"});
        }));
        assert_has(&msg, &["Replace", "empty"]);
    }
    let msg = tokenizer_error(tokenizer_json(MODERATOR_TOKENIZER, |t| {
        t["pre_tokenizer"]["pretokenizers"][1]["pattern"] = serde_json::json!({"Regex": "\\s*"});
    }));
    assert_has(&msg, &["Split", "empty"]);
}

#[test]
fn the_committed_tokenizers_still_load_and_encode() {
    for path in [CHAT_TOKENIZER, MODERATOR_TOKENIZER] {
        let tok = tinychat::Tokenizer::from_file(path).unwrap();
        let ids = tok.encode("Hello world, how are you?", false).unwrap();
        assert!(!ids.is_empty());
        tok.decode(&ids, false).unwrap();
    }
}

// ---- 4. numbers on the command line and in generation_config.json ----------------------------

/// A usage error: clap's status 2, the flag and its range named, no panic.
fn assert_usage_error(out: &Output, want: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.starts_with("error: invalid value"), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_has(&err, want);
}

#[test]
fn every_numeric_flag_has_a_range() {
    let m = ["--model", LLAMA];
    let cases: &[(&[&str], &[&str])] = &[
        // wrapped to "generate nothing"
        (
            &[
                "generate",
                "--prompt",
                "x",
                "--max-new-tokens",
                "18446744073709551615",
            ],
            &["--max-new-tokens", "1..=2097152"],
        ),
        (
            &["generate", "--prompt", "x", "--max-new-tokens", "0"],
            &["--max-new-tokens"],
        ),
        (
            &["generate", "--prompt", "x", "--temperature", "nan"],
            &["--temperature", "[0, 100]"],
        ),
        (
            &["generate", "--prompt", "x", "--temperature=-1"],
            &["--temperature"],
        ),
        (
            &["generate", "--prompt", "x", "--top-p", "0"],
            &["--top-p", "(0, 1]"],
        ),
        (
            &["generate", "--prompt", "x", "--top-p", "1.5"],
            &["--top-p"],
        ),
        (
            &["generate", "--prompt", "x", "--top-k", "99999999999"],
            &["--top-k"],
        ),
        (
            &["generate", "--prompt", "x", "--repetition-penalty", "inf"],
            &["--repetition-penalty"],
        ),
        (&["chat", "--max-new-tokens=-5"], &["--max-new-tokens"]),
        (&["chat", "--temperature", "1e39"], &["--temperature"]),
    ];
    for (args, want) in cases {
        let mut all: Vec<&str> = args.to_vec();
        all.splice(1..1, m);
        assert_usage_error(&tinychat(&all), want);
    }
    let bench: &[(&[&str], &[&str])] = &[
        (
            &["bench", "infer", "--prompt", "0"],
            &["--prompt", "1..=2097152"],
        ),
        (
            &["bench", "infer", "--tokens", "18446744073709551615"],
            &["--tokens"],
        ),
        (&["bench", "infer", "--peak-gbs=-3"], &["--peak-gbs"]),
        (
            &["bench", "moderate", "--model", "x", "--repeat", "0"],
            &["--repeat", "1..=1000"],
        ),
        (
            &["bench", "moderate", "--model", "x", "--limit", "0"],
            &["--limit"],
        ),
        (
            &["bench", "train", "--vocab", "1"],
            &["--vocab", "256..=4194304"],
        ),
        (&["bench", "train", "--steps", "0"], &["--steps"]),
        (
            &["bench", "train", "--torch-threads", "0"],
            &["--torch-threads"],
        ),
        (&["bench", "train", "--rounds", "0"], &["--rounds"]),
    ];
    for (args, want) in bench {
        assert_usage_error(&tinychat(args), want);
    }
}

#[test]
fn generation_config_numbers_are_checked() {
    for (text, want) in [
        // 1e30 became usize::MAX, which wrapped: nothing was generated
        (
            r#"{"max_new_tokens": 1e30}"#,
            "max_new_tokens must be a whole number from 1 to 2097152",
        ),
        (r#"{"max_new_tokens": -1}"#, "max_new_tokens"),
        (r#"{"do_sample": true, "top_k": 1e30}"#, "top_k"),
        (r#"{"do_sample": true, "top_p": 7}"#, "top_p"),
    ] {
        let dir = temp_dir("gencfg");
        std::fs::write(dir.join("generation_config.json"), text).unwrap();
        let out = tinychat(&[
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "x",
        ]);
        assert_cli_error(&out, &["generation_config.json", want]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

// ---- 5. native bundles stay inside their directory ------------------------------------------------

const BUNDLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/web/models/default");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A bundle whose pipeline.json names `chat_model` and `moderator`, beside a complete copy of
/// the committed bundle at `<root>/outside`, so that what a path escapes to would load.
fn escaping_bundle(name: &str, chat_model: &str, moderator: &str) -> (PathBuf, PathBuf) {
    let root = temp_dir(name);
    copy_dir(Path::new(BUNDLE), &root.join("outside"));
    let b = root.join("bundle");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(
        b.join("pipeline.json"),
        serde_json::json!({"chat_model": chat_model, "moderator": moderator}).to_string(),
    )
    .unwrap();
    (root, b)
}

#[test]
fn bundle_paths_that_leave_the_bundle_are_refused_natively() {
    for (i, (path, want)) in [
        ("../outside/chat", "leaves the bundle"),
        ("../../../../../../etc", "leaves the bundle"),
        ("OUTSIDE/chat", "is absolute"),
        ("https://evil.example/m", "contains ':'"),
        ("file:///etc", "contains ':'"),
        ("..\\outside\\chat", "contains '\\\\'"),
        ("%2e%2e/outside/chat", "contains '%'"),
        (" chat", "surrounding spaces"),
    ]
    .into_iter()
    .enumerate()
    {
        let (root, b) = escaping_bundle(&format!("escape{i}"), "", "");
        let path = path.replace("OUTSIDE", &root.join("outside").display().to_string());
        let named = format!("{path:?}");
        let write = |chat: &str, moderator: &str| {
            let j = serde_json::json!({"chat_model": chat, "moderator": moderator});
            std::fs::write(b.join("pipeline.json"), j.to_string()).unwrap();
        };
        // The chat model's path: Pipeline::load and `tinychat chat --pipeline`.
        write(&path, "moderator");
        let e = tinychat::pipeline::Pipeline::load(&b)
            .err()
            .expect("must fail")
            .to_string();
        assert_has(&e, &["pipeline.json: chat_model", &named, want]);
        let out = tinychat(&["chat", "--pipeline", b.to_str().unwrap()]);
        assert_cli_error(&out, &["pipeline.json: chat_model", &named, want]);
        // The moderator's: Moderator::open and `tinychat moderate --model`.
        write("chat", &path);
        let e = tinychat::moderation::Moderator::open(&b)
            .err()
            .unwrap()
            .to_string();
        assert_has(&e, &["pipeline.json: moderator", &named, want]);
        let out = tinychat(&["moderate", "--model", b.to_str().unwrap(), "hello"]);
        assert_cli_error(&out, &["pipeline.json: moderator", &named, want]);
        let _ = std::fs::remove_dir_all(&root);
    }
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_a_bundle_are_refused_natively() {
    // chat/ and moderator/ are symlinks to complete copies outside the bundle: each would load.
    let (root, b) = escaping_bundle("symlink-dirs", "chat", "moderator");
    std::os::unix::fs::symlink(root.join("outside/chat"), b.join("chat")).unwrap();
    std::os::unix::fs::symlink("../outside/moderator", b.join("moderator")).unwrap();
    let e = tinychat::pipeline::Pipeline::load(&b)
        .err()
        .expect("must fail")
        .to_string();
    assert_has(&e, &["chat/config.json", "outside the bundle"]);
    let e = tinychat::moderation::Moderator::open(&b)
        .err()
        .unwrap()
        .to_string();
    // (The first file a moderator reads: thresholds.json since moderation heads.)
    assert_has(&e, &["moderator/thresholds.json", "outside the bundle"]);
    assert_cli_error(
        &tinychat(&["chat", "--pipeline", b.to_str().unwrap()]),
        &["chat/config.json", "outside the bundle"],
    );
    assert_cli_error(
        &tinychat(&["moderate", "--model", b.to_str().unwrap(), "hi"]),
        &["moderator/thresholds.json", "outside the bundle"],
    );
    let _ = std::fs::remove_dir_all(&root);

    // One file of a real directory is a symlink out.
    let (root, b) = escaping_bundle("symlink-file", "chat", "moderator");
    copy_dir(&root.join("outside/chat"), &b.join("chat"));
    copy_dir(&root.join("outside/moderator"), &b.join("moderator"));
    std::fs::remove_file(b.join("moderator/model.safetensors")).unwrap();
    std::os::unix::fs::symlink(
        root.join("outside/moderator/model.safetensors"),
        b.join("moderator/model.safetensors"),
    )
    .unwrap();
    let e = tinychat::pipeline::Pipeline::load(&b)
        .err()
        .unwrap()
        .to_string();
    assert_has(&e, &["moderator/model.safetensors", "outside the bundle"]);
    // Symlinks that stay inside are fine.
    std::fs::remove_file(b.join("moderator/model.safetensors")).unwrap();
    std::fs::rename(
        root.join("outside/moderator/model.safetensors"),
        b.join("weights.bin"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../weights.bin", b.join("moderator/model.safetensors")).unwrap();
    tinychat::pipeline::Pipeline::load(&b).expect("a symlink inside the bundle is fine");
    let _ = std::fs::remove_dir_all(&root);
}

// ---- 2. chat templates and template overrides -----------------------------------------------------

/// Renders `template` as a chat template on a thread with the default stack and a deadline.
fn render(template: &str) -> Result<String, String> {
    let t = template.to_string();
    within(10, "template", move || {
        tinychat::ChatTemplate::new(&t, Some("<s>"), Some("</s>"))
            .render(&[tinychat::Message::user("hi")], true)
            .map_err(|e| e.to_string())
    })
}

fn refused(template: &str, want: &[&str]) {
    let e = render(template).expect_err(template);
    assert!(e.starts_with("chat template: "), "{e}");
    assert_has(&e, want);
}

#[test]
fn template_loops_run_out_of_fuel() {
    // hung
    refused(
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
        &["template limit"],
    );
    refused(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        &["more than 1000000 steps"],
    );
}

#[test]
fn template_sequences_and_strings_are_bounded() {
    // hung (printing a lazy sequence of 10^12 items), or aborted allocating it
    refused("{{ [1]*1000000000000 }}", &["more than 100000 items"]);
    refused("{{ ([1]*10**12)|list }}", &["more than 100000 items"]);
    refused("{{ 'x' * 10**8 }}", &["template limit"]);
    // doubling a string: every step is charged
    refused(
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        &["units of work"],
    );
    // text captured by a block inside a loop is measured too
    refused(
        &format!("{{% set ns = namespace(a=[]) %}}{{% for i in range(100000) %}}{{% set x %}}{}{{% endset %}}{{% set ns.a = ns.a + [x] %}}{{% endfor %}}", "y".repeat(2000)),
        &["template limit"],
    );
    // references to one big string, multiplied, then compared or printed
    refused(
        "{% set s = 'x' * 1000000 %}{% set l = [s] * 100000 %}{{ l == l }}",
        &["template limit"],
    );
}

#[test]
fn template_string_methods_and_filters_that_looped_or_aborted() {
    // looped forever in minijinja-contrib; Python says 4
    assert_eq!(render("{{ 'abc'.count('') }}").unwrap(), "4");
    // aborted allocating
    refused(
        "{{ '%999999999999d'|format(1) }}",
        &["width or precision above 4096"],
    );
    refused("{{ 'x'|indent(10**12) }}", &["indent wider than 4096"]);
    refused("{{ '{:>999999}'.format(1) }}", &["width or precision"]);
    refused(
        "{{ 'ab'.replace('', 'x' * 60000000) }}",
        &["template limit"],
    );
    // panicked
    refused("{{ 5 is divisibleby 0 }}", &["division by zero"]);
    refused(
        "{{ '%.999999999f'|format(1.0) }}",
        &["width or precision above 4096"],
    );
    refused("{{ [1, 2]|batch(10**12) }}", &["batch"]);
    // still as Python and transformers have them
    assert_eq!(
        render("{{ '%5.2f|%-3s|'|format(3.14159, 'a') }}").unwrap(),
        " 3.14|a  |"
    );
    assert_eq!(
        render("{{ 6 is divisibleby 3 }}{{ 'a,b'.split(',')|join('+') }}").unwrap(),
        "Truea+b"
    );
}

#[test]
fn template_nesting_cannot_overflow_the_stack() {
    // stack overflows in minijinja's parser and code generator
    refused(
        &format!("{{{{ {}1 }}}}", "not ".repeat(20_000)),
        &["operators"],
    );
    refused(
        &format!("{{{{ {}1 }}}}", "1+".repeat(20_000)),
        &["operators"],
    );
    refused(
        &format!("{{{{ {}1 }}}}", "-".repeat(20_000)),
        &["operators"],
    );
    refused(
        &format!("{{{{ x{} }}}}", ".a".repeat(20_000)),
        &["operators"],
    );
    refused(
        &format!("{{{{ {}1{} }}}}", "(".repeat(20_000), ")".repeat(20_000)),
        &["operators"],
    );
    // a namespace that holds itself: printing it recursed forever
    refused(
        "{% set ns = namespace() %}{% set ns.x = ns %}{{ ns }}",
        &["namespace attribute may hold"],
    );
    refused(
        "{% set ns = namespace() %}{% set ns.x = [1, {'a': ns}] %}{{ ns }}",
        &["namespace attribute may hold"],
    );
    // recursion through macros stops at the recursion limit, within a 2 MiB stack
    refused(
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        &["recursion"],
    );
    refused(
        &format!(
            "{}{}",
            "{% if true %}".repeat(200),
            "{% endif %}".repeat(200)
        ),
        &["recursion"],
    );
}

#[test]
fn template_overrides_are_checked_when_the_bundle_loads_and_bounded_when_they_answer() {
    use tinychat::pipeline::Pipeline;
    let root = temp_dir("overrides");
    copy_dir(Path::new(BUNDLE), &root);
    let set = |templates: serde_json::Value| {
        let mut p: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(BUNDLE).join("pipeline.json")).unwrap(),
        )
        .unwrap();
        p["templates"] = templates;
        std::fs::write(root.join("pipeline.json"), p.to_string()).unwrap();
    };
    // aborted (stack overflow) while the bundle loaded
    set(serde_json::json!({"violence": format!("{{{{ {}1 }}}}", "-".repeat(20_000))}));
    let r = root.clone();
    let e = within(20, "load", move || {
        Pipeline::load(&r).err().unwrap().to_string()
    });
    assert_has(&e, &["override for \"violence\"", "operators"]);
    let out = tinychat(&["chat", "--pipeline", root.to_str().unwrap()]);
    assert_cli_error(&out, &["override for \"violence\"", "operators"]);

    // hung when a flagged message was answered
    let looping =
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    set(serde_json::json!({"violence": looping, "harassment": looping, "default": looping}));
    let r = root.clone();
    let e = within(60, "reply", move || {
        let p = Pipeline::load(&r).unwrap();
        let msgs = [tinychat::Message::user(
            "I will kill you, you worthless idiot",
        )];
        p.reply(&msgs, &tinychat::SamplingParams::default(), |_| {})
            .err()
            .expect("the override must fail")
            .to_string()
    });
    assert_has(&e, &["template", "more than 1000000 steps"]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn long_conversations_fit_within_the_template_limits() {
    // The limits are far above what real chat templates need: the committed bundle's template and
    // every fixture template render a 2,000-message conversation (400 kB) within them.
    let mut templates: Vec<String> = vec![];
    let tc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(BUNDLE).join("chat/tokenizer_config.json")).unwrap(),
    )
    .unwrap();
    templates.push(tc["chat_template"].as_str().unwrap().into());
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/chat_template/cases.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for c in cases["cases"].as_array().unwrap() {
        templates.push(c["template"].as_str().unwrap().into());
    }
    templates.dedup();
    let mut messages = vec![tinychat::Message::system("Be brief.")];
    for i in 0..1000 {
        messages.push(tinychat::Message::user(&format!(
            "question {i}: {}",
            "word ".repeat(40)
        )));
        messages.push(tinychat::Message::assistant(&format!(
            "answer {i}: {}",
            "text ".repeat(40)
        )));
    }
    for t in templates {
        let m = messages.clone();
        let started = std::time::Instant::now();
        let r = within(30, "long", move || {
            tinychat::ChatTemplate::new(&t, Some("<s>"), Some("</s>")).render(&m, true)
        });
        match r {
            Ok(text) => assert!(text.len() > 400_000),
            // templates that raise on this conversation's shape (alternation rules) say so
            Err(e) => assert!(!e.to_string().contains("template limit"), "{e}"),
        }
        assert!(started.elapsed().as_secs_f64() < 5.0);
    }
}

#[test]
fn tokenizer_merges_must_join_vocabulary_tokens() {
    // Found by the fuzzer: a merge whose result is longer than every vocabulary token panicked
    // while the tokenizer was built (and with a continuing_subword_prefix the crate sliced the
    // second token without checking it starts with the prefix).
    let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
        t["model"]["merges"] = serde_json::json!(["Ġthe Ġthe"]);
    }));
    assert_has(&msg, &["model.merges[0]", "does not join"]);
    let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
        t["model"]["continuing_subword_prefix"] = "##".into();
        t["model"]["merges"] = serde_json::json!([["a", "é"]]);
    }));
    assert_has(&msg, &["model.merges[0]", "continuing_subword_prefix"]);
}

#[test]
fn tokenizer_strip_decoders_strip_only_from_the_start() {
    // Found by the fuzzer: a Strip decoder with "stop" above 0 panicked on a token shorter than
    // stop (the crate's loop from the end underflows) and on one made only of its content.
    let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
        t["decoder"] = serde_json::json!({"type": "Strip", "content": " ", "start": 0, "stop": 4});
    }));
    assert_has(&msg, &["decoder", "Strip", "stop"]);
    // inside a Sequence too
    let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
        t["decoder"] = serde_json::json!({"type": "Sequence", "decoders": [
            {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            {"type": "Strip", "content": " ", "start": 1, "stop": 1}
        ]});
    }));
    assert_has(&msg, &["decoders[1]", "Strip"]);
    // Llama 2's (start 1, stop 0) loads and decodes
    let bytes = tokenizer_json(CHAT_TOKENIZER, |t| {
        t["decoder"] = serde_json::json!({"type": "Sequence", "decoders": [
            {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]});
    });
    let tok = tinychat::Tokenizer::from_bytes(&bytes).unwrap();
    let ids = tok.encode("Hello world", false).unwrap();
    tok.decode(&ids, false).unwrap();
}

/// A moderation head in `dir` on the committed bundle's chat model (width 192, 4 blocks), naming
/// its trunk `trunk` (relative to `dir`): config.json and model.safetensors.
fn write_head(dir: &Path, trunk: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let c = 192;
    let config = serde_json::json!({
        "model_type": "tinychat_moderation_head", "trunk": trunk, "layers": 2, "window": 16,
        "hidden": 0, "hidden_size": c, "id2label": {"0": "violence", "1": "hate"}
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let tensors: Vec<(&str, Vec<usize>)> = vec![
        ("mean", vec![c]),
        ("std", vec![c]),
        ("w2", vec![2, c]),
        ("b2", vec![2]),
    ];
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, shape)| {
            let len: usize = shape.iter().product();
            let bytes = (0..len)
                .flat_map(|i| (0.01 * i as f32).to_le_bytes())
                .collect();
            (n.to_string(), shape, bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(n, shape, b)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b);
            (n.clone(), v.unwrap())
        })
        .collect();
    let st = safetensors::serialize(views, None).unwrap();
    std::fs::write(dir.join("model.safetensors"), st).unwrap();
}

#[test]
fn a_moderation_heads_trunk_stays_inside_the_bundle_natively() {
    // A head names its trunk relative to its own directory ("../chat"): it may climb out of
    // that directory, never out of the bundle.
    let (root, b) = escaping_bundle("head-trunk", "chat", "moderator");
    copy_dir(&root.join("outside/chat"), &b.join("chat"));
    write_head(&b.join("moderator"), "../chat");
    tinychat::pipeline::Pipeline::load(&b).expect("a head on the chat model loads");
    let m = tinychat::moderation::Moderator::open(&b).expect("and on its own");
    assert_eq!(m.scores("hello there").unwrap().len(), 2);

    let outside = root.join("outside/chat").display().to_string();
    for (trunk, want) in [
        ("../../outside/chat", "leaves the bundle"),
        ("../../../../../../etc", "leaves the bundle"),
        ("../chat/../../outside/chat", "leaves the bundle"),
        (outside.as_str(), "is absolute"),
        ("https://evil.example/m", "contains ':'"),
        ("..\\..\\outside\\chat", "contains '\\\\'"),
        ("../%2e%2e/outside/chat", "contains '%'"),
        ("../ chat", "surrounding spaces"),
    ] {
        write_head(&b.join("moderator"), trunk);
        let named = format!("{trunk:?}");
        let want = ["moderator/config.json", named.as_str(), want];
        let e = tinychat::pipeline::Pipeline::load(&b)
            .err()
            .unwrap_or_else(|| panic!("{trunk:?} loaded"))
            .to_string();
        assert_has(&e, &want);
        let e = tinychat::moderation::Moderator::open(&b)
            .err()
            .unwrap()
            .to_string();
        assert_has(&e, &want);
        assert_cli_error(
            &tinychat(&["chat", "--pipeline", b.to_str().unwrap()]),
            &want,
        );
        assert_cli_error(
            &tinychat(&["moderate", "--model", b.to_str().unwrap(), "hi"]),
            &want,
        );
    }

    // A trunk inside the bundle that is a symlink out of it.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("outside/chat"), b.join("trunk")).unwrap();
        write_head(&b.join("moderator"), "../trunk");
        let e = tinychat::pipeline::Pipeline::load(&b)
            .err()
            .expect("must fail")
            .to_string();
        assert_has(&e, &["trunk/config.json", "outside the bundle"]);
        assert_cli_error(
            &tinychat(&["moderate", "--model", b.to_str().unwrap(), "hi"]),
            &["trunk/config.json", "outside the bundle"],
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_moderation_heads_sizes_are_refused_not_wrapped() {
    // Seen while writing the bundle fuzzer's head harness: a window near usize::MAX overflowed
    // the check against the trunk's context (a panic in debug builds; in release the sum wrapped
    // below the context and passed), and max_windows 0 underflowed in the message for a long
    // text.
    let (root, b) = escaping_bundle("head-sizes", "chat", "moderator");
    copy_dir(&root.join("outside/chat"), &b.join("chat"));
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        write_head(&b.join("moderator"), "../chat");
        let p = b.join("moderator/config.json");
        let mut c: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&p, c.to_string()).unwrap();
    };
    edit(&|c| c["window"] = serde_json::json!(u64::MAX));
    let b2 = b.clone();
    let e = within(20, "head", move || {
        tinychat::moderation::Moderator::open(&b2)
            .err()
            .unwrap()
            .to_string()
    });
    assert_has(&e, &["window", "exceeds the trunk's context"]);
    edit(&|c| c["max_windows"] = serde_json::json!(0));
    let e = tinychat::moderation::Moderator::open(&b)
        .err()
        .unwrap()
        .to_string();
    assert_has(&e, &["max_windows must be at least 1"]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn tokenizer_added_tokens_must_match_some_text() {
    // Found by the fuzzer: an added token matched after normalization that the normalizer turns
    // into nothing (BertNormalizer's clean_text drops U+FFFD) made the crate's byte-wise matcher
    // match inside a character, and it sliced the text there: a panic in encode.
    let msg = tokenizer_error(tokenizer_json(MODERATOR_TOKENIZER, |t| {
        t["normalizer"] = serde_json::json!({"type": "BertNormalizer", "clean_text": true,
            "handle_chinese_chars": true, "strip_accents": null, "lowercase": true});
        t["added_tokens"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
            "id": 9999, "content": "\u{fffd}", "single_word": true, "lstrip": true,
            "rstrip": true, "normalized": true, "special": true}));
    }));
    assert_has(&msg, &["added_tokens[", "turns it into nothing"]);
    let msg = tokenizer_error(tokenizer_json(MODERATOR_TOKENIZER, |t| {
        t["added_tokens"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
            "id": 9999, "content": "", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true}));
    }));
    assert_has(&msg, &["added_tokens[", "empty"]);
}

#[test]
fn tokenizer_prepend_normalizers_prepend_something() {
    // Found by the fuzzer: a Prepend normalizer with an empty "prepend" marked the first
    // character as inserted, and ByteLevel's pre-tokenizer then indexed past the alignments.
    let msg = tokenizer_error(tokenizer_json(CHAT_TOKENIZER, |t| {
        t["normalizer"] = serde_json::json!({"type": "Sequence",
            "normalizers": [{"type": "Prepend", "prepend": ""}]});
    }));
    assert_has(&msg, &["normalizer.normalizers[0]", "Prepend"]);
    // Llama's "▁" still loads and encodes.
    let bytes = tokenizer_json(CHAT_TOKENIZER, |t| {
        t["normalizer"] = serde_json::json!({"type": "Prepend", "prepend": "▁"});
    });
    let tok = tinychat::Tokenizer::from_bytes(&bytes).unwrap();
    tok.encode("Hello world", false).unwrap();
}

#[test]
fn a_tokenizer_without_its_word_cache_encodes_the_same() {
    // The fuzz harnesses load a tokenizer per input and drop the crate's BPE word cache, which
    // tokenizers 0.23 keeps per thread after the tokenizer is gone (the fuzzer's 2 GB).
    let bytes = std::fs::read(CHAT_TOKENIZER).unwrap();
    let text = "Hello world, how are you? ÄÖÜ 你好 <|im_start|>user\nhi<|im_end|>";
    let a = tinychat::Tokenizer::from_bytes(&bytes).unwrap();
    let b = tinychat::Tokenizer::from_bytes(&bytes)
        .unwrap()
        .without_word_cache();
    assert_eq!(a.encode(text, true).unwrap(), b.encode(text, true).unwrap());
    assert_eq!(b.encode(text, true).unwrap(), b.encode(text, true).unwrap());
}
