//! Behaviour lock: the committed bundle (web/models/default) gives the same answers as when the
//! values in tests/fixtures/behaviour/default_bundle.json were recorded — the moderator's scores
//! on every message of data/moderation_challenge.jsonl and the chat model's greedy tokens on a
//! fixed list of prompts. Refactors must leave both unchanged; a change of the bundle or of the
//! numerics on purpose re-records them:
//!
//! ```sh
//! TINYCHAT_RECORD=1 cargo test --test engine behaviour
//! ```

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tinychat::moderation::Moderator;
use tinychat::tokenizer::Message;
use tinychat::{ChatModel, SamplingParams};

/// The prompts whose greedy answers are locked (chat template applied, as in `tinychat chat`).
const PROMPTS: &[&str] = &[
    "What is the capital of France?",
    "hi",
    "What is 12 plus 7?",
    "Name a young cat.",
    "Tell me about the ocean.",
    "How do I bake bread?",
    "Who wrote Moby Dick?",
    "thanks!",
];
const NEW_TOKENS: usize = 40;
/// Scores come from the same f32 arithmetic; SIMD or threading changes may reorder sums.
const SCORE_TOL: f32 = 2e-5;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    root().join("tests/fixtures/behaviour/default_bundle.json")
}

fn challenge_texts() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("data/moderation_challenge.jsonl")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect()
}

fn record() -> Value {
    let bundle = root().join("web/models/default");
    let moderator = Moderator::open(&bundle).unwrap();
    let scores: Vec<Vec<f32>> = challenge_texts()
        .iter()
        .map(|t| moderator.scores(t).unwrap())
        .collect();
    let chat = ChatModel::load(bundle.join("chat")).unwrap();
    let params = SamplingParams {
        temperature: 0.0,
        max_new_tokens: NEW_TOKENS,
        ..Default::default()
    };
    let greedy: Vec<Value> = PROMPTS
        .iter()
        .map(|p| {
            let g = chat.chat(&[Message::user(p)], &params, |_| true).unwrap();
            json!({ "prompt": p, "tokens": g.tokens, "text": g.text })
        })
        .collect();
    json!({
        "what": "the committed bundle's moderator scores on data/moderation_challenge.jsonl and its chat model's greedy tokens (CPU engine)",
        "labels": moderator.labels(),
        "scores": scores,
        "greedy": greedy,
    })
}

fn write(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string(v).unwrap() + "\n").unwrap();
}

#[test]
fn the_committed_bundle_answers_as_recorded() {
    let now = record();
    if std::env::var_os("TINYCHAT_RECORD").is_some() {
        write(&fixture(), &now);
        eprintln!("recorded {}", fixture().display());
        return;
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    assert_eq!(now["labels"], want["labels"]);
    let (got_s, want_s) = (
        now["scores"].as_array().unwrap(),
        want["scores"].as_array().unwrap(),
    );
    assert_eq!(got_s.len(), want_s.len(), "number of challenge texts");
    let mut worst = 0f32;
    for (i, (g, w)) in got_s.iter().zip(want_s).enumerate() {
        for (a, b) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()) {
            let d = (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() as f32;
            worst = worst.max(d);
            assert!(
                d <= SCORE_TOL,
                "challenge text {i}: score {a} now, {b} recorded\n---> HINT: if the bundle changed on purpose, re-record (see this file's header)"
            );
        }
    }
    println!(
        "moderator: {} texts, largest score difference {worst:e}",
        got_s.len()
    );
    for (g, w) in now["greedy"]
        .as_array()
        .unwrap()
        .iter()
        .zip(want["greedy"].as_array().unwrap())
    {
        assert_eq!(
            g["tokens"], w["tokens"],
            "greedy tokens for {}: now {:?}, recorded {:?}",
            w["prompt"], g["text"], w["text"]
        );
    }
}
