//! Writes the seed corpora of the fuzz targets (fuzz/README.md) from the test fixtures and the
//! committed bundle, each in the "files as they are" shape of `tinychat::fuzzing::frame`.
//!
//!   cargo run --example fuzz_seeds -- fuzz/corpus
//!
//! Seeds are derived, not committed: the script `scripts/fuzz.sh` runs this before fuzzing.

use std::path::{Path, PathBuf};
use tinychat::fuzzing::frame;

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let mut n = 0;
    let mut write = |target: &str, name: &str, data: Vec<u8>| {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        n += 1;
    };

    let models = [
        "tests/fixtures/llama_tiny",
        "tests/fixtures/gpt2_tiny",
        "tests/fixtures/gpt2_tiny_noprefix",
        "tests/fixtures/train_llama",
        "web/models/default/chat",
        "web/models/default/moderator",
    ];
    for (i, m) in models.iter().enumerate() {
        let cfg = read(&format!("{m}/config.json"));
        let st = read(&format!("{m}/model.safetensors"));
        write("model", &format!("{i}"), frame(&[&cfg, &st]));
        // The structured shape too: the first byte odd, the rest drawn from the file's bytes.
        let mut structured = vec![1u8];
        structured.extend_from_slice(&st[st.len() / 2..][..64.min(st.len() / 2)]);
        write("model", &format!("{i}-structured"), structured);
        if let Ok(g) = std::fs::read(root.join(m).join("generation_config.json")) {
            write(
                "generation_config",
                &format!("{i}"),
                frame(&[&g, b"\x03\x05\x07\x09"]),
            );
        }
    }

    let texts: [&[u8]; 3] = [
        b"Hello world, how are you?",
        "ÄÖÜ 你好 <|im_start|>user\nhi<|im_end|> \u{1F600}".as_bytes(),
        b"  leading and trailing  \t\n",
    ];
    for (i, t) in ["web/models/default/chat", "web/models/default/moderator"]
        .iter()
        .enumerate()
    {
        let tok = read(&format!("{t}/tokenizer.json"));
        for (j, text) in texts.iter().enumerate() {
            write("tokenizer", &format!("{i}-{j}"), frame(&[&tok, text]));
        }
    }
    write(
        "tokenizer",
        "structured",
        vec![1, 7, 3, 9, 2, 0, 5, 1, 1, 4, 8, 2, 6],
    );

    let cases: serde_json::Value =
        serde_json::from_slice(&read("tests/fixtures/chat_template/cases.json")).unwrap();
    for (i, c) in cases["cases"].as_array().unwrap().iter().enumerate() {
        let t = c["template"].as_str().unwrap().as_bytes();
        let m = c["messages"].to_string();
        write(
            "chat_template",
            &format!("case{i}"),
            frame(&[t, m.as_bytes()]),
        );
    }
    let tc: serde_json::Value =
        serde_json::from_slice(&read("web/models/default/chat/tokenizer_config.json")).unwrap();
    if let Some(t) = tc["chat_template"].as_str() {
        write("chat_template", "bundle", frame(&[t.as_bytes(), b""]));
    }
    // The issue's reproducers, as starting points for their neighbours.
    for (i, t) in [
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
        "{{ [1]*1000000000000 }}",
        "{{ 'abc'.count('') }}",
        "{% set ns = namespace() %}{% set ns.x = ns %}{{ ns }}",
        "{{ '%999999999999d'|format(1) }}",
        "{{ 'x'|indent(10**12) }}",
        "{{ ([1]*10**12)|list }}",
        "{{ 5 is divisibleby 0 }}",
        "{{ '%.999999999f'|format(1.0) }}",
        "{{ not not not not 1 }}",
        "{{ 1+1+1+1+1 }}",
    ]
    .iter()
    .enumerate()
    {
        write(
            "chat_template",
            &format!("issue{i}"),
            frame(&[t.as_bytes(), b""]),
        );
        let o = serde_json::json!({ "violence": t }).to_string();
        write(
            "template_overrides",
            &format!("issue{i}"),
            frame(&[o.as_bytes()]),
        );
    }
    write(
        "template_overrides",
        "plain",
        frame(&[br#"{"violence": "No ({{ category }}, {{ categories|join(', ') }}, {{ stage }}, {{ '%.2f'|format(score) }})."}"#]),
    );

    let pipeline = read("web/models/default/pipeline.json");
    let paths = "chat\nmoderator\n../../../../etc\n/etc/passwd\nhttps://evil.example/m\n..\\..\\x\n%2e%2e/%2e%2e/x\n.\t./x\n chat\n\\\\evil.example\\m\n\\/evil.example/m\nlink\nout/secret\nchat/rel\n./chat/./config.json";
    // A moderation head names its trunk relative to itself; the escapes again, as trunks.
    let head = |trunk: &str| {
        serde_json::json!({
            "model_type": "tinychat_moderation_head", "trunk": trunk, "layers": 2,
            "pooling": "mean", "prefix": "a ", "suffix": " b", "window": 8, "max_windows": 4,
            "hidden": 0, "hidden_size": 8, "id2label": {"0": "violence", "1": "hate"}
        })
        .to_string()
    };
    write(
        "bundle",
        "default",
        frame(&[&pipeline, paths.as_bytes(), head("../chat").as_bytes()]),
    );
    for (i, trunk) in [
        "../../../../etc",
        "../../x.gguf",
        "..\\..\\x",
        "../%2e%2e/x",
        "../link",
    ]
    .iter()
    .enumerate()
    {
        write(
            "bundle",
            &format!("head{i}"),
            frame(&[&pipeline, b"moderator", head(trunk).as_bytes()]),
        );
    }
    write(
        "bundle",
        "structured",
        vec![1, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    write(
        "generation_config",
        "huge",
        frame(&[
            br#"{"max_new_tokens": 1e30, "do_sample": true, "top_k": 1e30}"#,
            b"\x01",
        ]),
    );
    // GGUF: every fixture as it is, and structured starts from each base.
    let mut ggufs: Vec<_> = std::fs::read_dir(root.join("tests/fixtures/gguf"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
        .collect();
    ggufs.sort();
    for p in ggufs {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        write("gguf", &name, frame(&[&std::fs::read(&p).unwrap()]));
    }
    for i in 0..4u8 {
        write(
            "gguf",
            &format!("structured{i}"),
            vec![1, i, 2 * i, 3, 5, 7, 11],
        );
    }
    eprintln!("fuzz_seeds: wrote {n} seeds under {}", out.display());
}
