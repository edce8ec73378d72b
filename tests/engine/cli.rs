//! The `tinychat` binary, run as a user runs it: help texts, generate, the chat REPL on piped
//! stdin, the tokenizer subcommands, and clear `error: ...` messages with a non-zero status.
//!
//! The model is made here: a tiny byte-level vocabulary converted by `tinychat tokenizer
//! from-gpt2`, and a random llama of the fixture's shape with a vocabulary to match.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tinychat::{ChatModel, Message, SamplingParams};

const TEMPLATE: &str = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tinychat"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run tinychat")
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tinychat");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a failed run: status 1 and stderr `error: <...want...>`, never a panic.
fn assert_error(out: &Output, want: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    assert!(err.contains(want), "expected {want:?} in stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinychat-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// encoder.json and vocab.bpe of a tiny GPT-2-style vocabulary: the 256 bytes, a few merges,
/// then `<|endoftext|>`. Returns the vocabulary size.
fn write_tiny_gpt2_vocab(dir: &Path) -> usize {
    let bytes = tinychat::tokenizer::gpt2::byte_to_unicode();
    let mut vocab: Vec<String> = bytes.iter().map(|c| c.to_string()).collect();
    let merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("e", "r"), ("Ġ", "a")];
    for (a, b) in merges {
        vocab.push(format!("{a}{b}"));
    }
    vocab.push("<|endoftext|>".into());
    let enc: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i.into()))
        .collect();
    std::fs::write(
        dir.join("encoder.json"),
        serde_json::to_string(&enc).unwrap(),
    )
    .unwrap();
    let bpe: String = std::iter::once("#version: 0.2".to_string())
        .chain(merges.iter().map(|(a, b)| format!("{a} {b}")))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("vocab.bpe"), bpe + "\n").unwrap();
    vocab.len()
}

/// A complete model directory: tokenizer from `tinychat tokenizer from-gpt2`, llama_tiny's
/// config with the vocabulary resized, random weights, a chat template.
fn make_model(name: &str, with_template: bool) -> PathBuf {
    let dir = temp_dir(name);
    let v = write_tiny_gpt2_vocab(&dir);
    let out = run(&[
        "tokenizer",
        "from-gpt2",
        "--encoder",
        dir.join("encoder.json").to_str().unwrap(),
        "--vocab",
        dir.join("vocab.bpe").to_str().unwrap(),
        "--out",
        dir.join("tokenizer.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("({v} tokens)")));

    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/llama_tiny");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{fixture}/config.json")).unwrap())
            .unwrap();
    let eos = v - 1;
    cfg["vocab_size"] = v.into();
    cfg["bos_token_id"] = eos.into();
    cfg["eos_token_id"] = eos.into();
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let cfg = tinychat::ModelConfig::from_file(dir.join("config.json")).unwrap();

    let mut params = tinychat::Params::zeros(&cfg);
    let mut rng = tinychat::generate::Rng::new(7);
    for spec in params.layout.specs.clone() {
        let dst = &mut params.data[spec.offset..spec.offset + spec.len];
        if spec.shape.len() == 1 {
            dst.fill(1.0); // norm weights
        } else {
            dst.iter_mut().for_each(|x| *x = 0.3 * rng.normal());
        }
    }
    tinychat::weights::save(
        &params,
        &cfg,
        dir.join("model.safetensors"),
        tinychat::weights::DType::F32,
    )
    .unwrap();
    if with_template {
        let tc = serde_json::json!({"chat_template": TEMPLATE, "eos_token": "<|endoftext|>"});
        std::fs::write(dir.join("tokenizer_config.json"), tc.to_string()).unwrap();
    }
    std::fs::write(
        dir.join("generation_config.json"),
        format!(r#"{{"eos_token_id": {eos}}}"#),
    )
    .unwrap();
    dir
}

fn greedy(max_new_tokens: usize) -> SamplingParams {
    SamplingParams {
        max_new_tokens,
        ..Default::default()
    }
}

#[test]
fn every_command_has_help_with_an_example() {
    for args in [
        vec!["--help"],
        vec!["generate", "--help"],
        vec!["chat", "--help"],
        vec!["tokenizer", "from-gpt2", "--help"],
        vec!["tokenizer", "encode", "--help"],
        vec!["bench", "infer", "--help"],
        vec!["bench", "moderate", "--help"],
        vec!["moderate", "--help"],
    ] {
        let out = run(&args);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        assert!(
            help.contains("Example") && help.contains("tinychat "),
            "{args:?}: {help}"
        );
    }
    // A usage error is clap's: status 2 and the usage line.
    let out = run(&["generate", "--prompt", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--model <DIR>"));
}

#[test]
fn generate_streams_what_the_library_generates() {
    let dir = make_model("generate", true);
    let d = dir.to_str().unwrap();
    let model = ChatModel::load(&dir).unwrap();

    // Greedy (the default without a do_sample generation config): deterministic.
    let out = run(&[
        "generate",
        "--model",
        d,
        "--prompt",
        "the weather",
        "--max-new-tokens",
        "12",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lib = model
        .complete("the weather", &greedy(12), |_| true)
        .unwrap();
    assert_eq!(lib.tokens.len(), 12);
    assert_eq!(text(&out.stdout), format!("{}\n", lib.text));

    // --chat wraps the prompt in the template, with --system first.
    let out = run(&[
        "generate",
        "--model",
        d,
        "--chat",
        "--system",
        "be brief",
        "--prompt",
        "hello there",
        "--max-new-tokens",
        "10",
        "--stats",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let msgs = [Message::system("be brief"), Message::user("hello there")];
    let lib = model.chat(&msgs, &greedy(10), |_| true).unwrap();
    assert_eq!(text(&out.stdout), format!("{}\n", lib.text));
    assert!(text(&out.stderr).contains("prompt tokens"), "--stats line");

    // Sampling with a seed repeats; another seed (almost surely) differs.
    let sample = |seed: &str| {
        let out = run(&[
            "generate",
            "--model",
            d,
            "--prompt",
            "the",
            "--temperature",
            "1.5",
            "--top-k",
            "50",
            "--top-p",
            "0.95",
            "--repetition-penalty",
            "1.1",
            "--seed",
            seed,
            "--max-new-tokens",
            "24",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(sample("3"), sample("3"));
    assert_ne!(sample("3"), sample("4"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn chat_repl_keeps_history_and_resets() {
    let dir = make_model("chat", true);
    let d = dir.to_str().unwrap();
    let model = ChatModel::load(&dir).unwrap();
    let p = greedy(8);

    let out = run_with_stdin(
        &["chat", "--model", d, "--max-new-tokens", "8"],
        "hello\n\nhow are you\n/reset\nhello\n/help\n/quit\nnot read\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replies: Vec<String> = text(&out.stdout).lines().map(String::from).collect();

    // Turn 1, turn 2 with the first exchange as history, then after /reset turn 1 again.
    let r1 = model.chat(&[Message::user("hello")], &p, |_| true).unwrap();
    let history = [
        Message::user("hello"),
        Message::assistant(&r1.text),
        Message::user("how are you"),
    ];
    let r2 = model.chat(&history, &p, |_| true).unwrap();
    let expected: Vec<String> = [&r1.text, &r2.text, &r1.text]
        .iter()
        .flat_map(|t| {
            format!("{t}\n")
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(replies, expected);
    assert!(
        text(&out.stderr).contains("/reset"),
        "/help prints the commands"
    );

    // --system starts every conversation.
    let out = run_with_stdin(
        &[
            "chat",
            "--model",
            d,
            "--system",
            "be brief",
            "--max-new-tokens",
            "8",
        ],
        "hello\n",
    );
    assert!(out.status.success());
    let r = model
        .chat(
            &[Message::system("be brief"), Message::user("hello")],
            &p,
            |_| true,
        )
        .unwrap();
    assert_eq!(text(&out.stdout), format!("{}\n", r.text));

    // A turn that fails is reported, dropped, and the conversation goes on; the status says so.
    let long = "x".repeat(300);
    let out = run_with_stdin(
        &["chat", "--model", d, "--max-new-tokens", "8"],
        &format!("{long}\nhello\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error: the prompt has") && err.contains("send a shorter one"),
        "{err}"
    );
    assert_eq!(text(&out.stdout), format!("{}\n", r1.text));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = make_model("errors", false);
    let d = dir.to_str().unwrap();
    assert_error(
        &run(&["generate", "--model", d, "--prompt", ""]),
        "the prompt is empty",
    );
    assert_error(
        &run(&["generate", "--model", d, "--prompt", &"word ".repeat(100)]),
        "but the model's context holds 128",
    );
    // A value out of a flag's range is a usage error: clap's status 2, the range named.
    let out = run(&["generate", "--model", d, "--prompt", "hi", "--top-p", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("2 is not in (0, 1]"));
    assert_error(
        &run(&["generate", "--model", d, "--prompt", "hi", "--chat"]),
        "no chat template",
    );
    assert_error(&run(&["chat", "--model", d]), "no chat template");
    let missing = dir.join("nope");
    assert_error(
        &run(&[
            "generate",
            "--model",
            missing.to_str().unwrap(),
            "--prompt",
            "hi",
        ]),
        "config.json",
    );
    assert_error(
        &run(&[
            "tokenizer",
            "from-gpt2",
            "--encoder",
            dir.join("vocab.bpe").to_str().unwrap(),
            "--vocab",
            dir.join("vocab.bpe").to_str().unwrap(),
            "--out",
            dir.join("t.json").to_str().unwrap(),
        ]),
        "encoder.json",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokenizer_encode_prints_ids() {
    let dir = make_model("encode", false);
    let out = run(&[
        "tokenizer",
        "encode",
        "--model",
        dir.to_str().unwrap(),
        "--text",
        "the the<|endoftext|>",
        "--ids-only",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // "t" "he" (no merge for a word-initial "the"), "Ġthe", then the special token.
    let (t, he, space_the, eot) = (b't' as u32, 257, 258, 261);
    assert_eq!(
        text(&out.stdout).trim(),
        serde_json::to_string(&[t, he, space_the, eot]).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    // `tinychat … | head`: the reader goes away while tinychat still writes. The output here
    // (20k token ids, ~80 KB) is larger than a pipe's buffer, so the write meets the closed pipe.
    let dir = make_model("pipe", false);
    let long = "the ".repeat(20_000);
    let mut child = bin()
        .args([
            "tokenizer",
            "encode",
            "--model",
            dir.to_str().unwrap(),
            "--text",
            &long,
            "--ids-only",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tinychat");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "stderr: {err}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // Ended by SIGPIPE, as `yes | head` is.
        assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "stderr: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tinychat bench moderate` on the bundle's moderator: a row per engine (the GPU one where an
/// adapter exists) with checks/s and the score difference; a malformed texts file is named with
/// its line.
#[test]
fn bench_moderate_prints_both_engines_and_names_bad_lines() {
    let dir = temp_dir("bench-moderate");
    let texts = dir.join("texts.jsonl");
    std::fs::write(
        &texts,
        "{\"text\": \"how do i bake bread\"}\nyou are a worthless idiot\n\n{\"text\": \"i will hurt you\"}\n",
    )
    .unwrap();
    let bundle = concat!(env!("CARGO_MANIFEST_DIR"), "/web/models/default");
    let out = run(&[
        "bench",
        "moderate",
        "--model",
        bundle,
        "--texts",
        texts.to_str().unwrap(),
        "--repeat",
        "1",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("3 texts from"), "{stdout}");
    assert!(stdout.contains("| CPU ("), "{stdout}");
    assert!(stdout.contains("| GPU"), "{stdout}");
    std::fs::write(
        &texts,
        "{\"text\": \"fine\"}\n{\"txt\": \"no text field\"}\n",
    )
    .unwrap();
    assert_error(
        &run(&[
            "bench",
            "moderate",
            "--model",
            bundle,
            "--texts",
            texts.to_str().unwrap(),
        ]),
        "texts.jsonl:2: no \"text\" string",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
