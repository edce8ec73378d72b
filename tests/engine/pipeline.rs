//! The answering pipeline end to end on small real models (random weights, real loaders):
//! input moderation, generation, output moderation at chunk boundaries, template answers, and
//! the trace every Reply carries.

use crate::common::*;
use tinychat::moderation::Moderator;
use tinychat::pipeline::{Chunk, Pipeline, Route, Source};
use tinychat::templates::Stage;
use tinychat::{Message, SamplingParams};

const CATS: [&str; 6] = [
    "harassment",
    "hate",
    "self-harm",
    "sexual",
    "violence",
    "illicit",
];

/// A bundle whose classifier flags per the thresholds given in pipeline.json.
fn bundle(name: &str, thresholds: &str) -> std::path::PathBuf {
    bundle_with(name, &CATS, thresholds)
}

fn bundle_with(name: &str, labels: &[&str], thresholds: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    let chat_cfg = tiny_llama_config(&[], 256);
    write_model_dir(
        &dir.join("chat"),
        &chat_cfg,
        &random_params(&chat_cfg, 1, 0.3),
    );
    let mod_cfg = tiny_llama_config(labels, 64);
    write_model_dir(
        &dir.join("moderator"),
        &mod_cfg,
        &random_params(&mod_cfg, 2, 0.3),
    );
    let pj = format!(
        r#"{{"chat_model": "chat", "moderator": "moderator", "thresholds": {thresholds},
            "moderation": {{"max_chunk_chars": 16, "context_chars": 16}}}}"#
    );
    std::fs::write(dir.join("pipeline.json"), pj).unwrap();
    dir
}

fn params() -> SamplingParams {
    SamplingParams {
        max_new_tokens: 40,
        temperature: 0.8,
        seed: 3,
        ..Default::default()
    }
}

#[test]
fn benign_prompt_streams_the_model_answer_with_its_trace() {
    // Threshold 1.0 on every category: nothing flags.
    let all_one = r#"{"harassment":1.0,"hate":1.0,"self-harm":1.0,"sexual":1.0,"violence":1.0,"illicit":1.0}"#;
    let p = Pipeline::load(bundle("benign", all_one)).unwrap();
    let mut chunks = vec![];
    let r = p
        .reply(
            &[Message::user("What is the capital of France?")],
            &params(),
            |c| chunks.push(c.clone()),
        )
        .unwrap();
    assert_eq!(r.source, Source::Model);
    assert_eq!(r.route, Route::Model);
    assert!(!r.input_verdict.flagged);
    assert_eq!(r.input_verdict.categories.len(), CATS.len());
    let out = r.output_verdict.as_ref().expect("the output was moderated");
    assert!(!out.flagged);
    assert!(r.completion_tokens > 0 && r.prompt_tokens > 0);
    let streamed: String = chunks
        .iter()
        .map(|c| match c {
            Chunk::Text { text } => text.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(streamed, r.text, "the stream adds up to the reply");
    assert!(r.timings.total_ms >= r.timings.input_moderation_ms);
}

#[test]
fn flagged_prompt_gets_the_template_and_the_model_never_runs() {
    // self-harm threshold 0: every text flags self-harm; the supportive template answers.
    let p = Pipeline::load(bundle("input-flag", r#"{"self-harm": 0.0}"#)).unwrap();
    let mut chunks = vec![];
    let r = p
        .reply(&[Message::user("anything at all")], &params(), |c| {
            chunks.push(c.clone())
        })
        .unwrap();
    assert_eq!(r.source, Source::Template);
    assert_eq!(r.route, Route::InputFlagged);
    assert_eq!(r.template_category.as_deref(), Some("self-harm"));
    assert!(r.output_verdict.is_none());
    assert_eq!(r.completion_tokens, 0);
    assert!(
        r.text.contains("988"),
        "self-harm answers point to help: {}",
        r.text
    );
    assert!(matches!(
        &chunks[..],
        [Chunk::Template {
            stage: Stage::Input,
            ..
        }]
    ));
}

#[test]
fn a_flagged_sub_category_flags_its_parents_and_still_picks_the_answer() {
    // illicit/violent flags every text; illicit and violence never reach their thresholds by
    // their own scores, but the sub-category implies both (the labelling rules), so the verdict
    // flags them too and says why; the answer is the sub-category's, the one flagged itself.
    let labels = ["violence", "illicit", "illicit/violent", "hate"];
    let p = Pipeline::load(bundle_with(
        "implied-flags",
        &labels,
        r#"{"illicit/violent": 0.0, "illicit": 1.0, "violence": 1.0, "hate": 1.0}"#,
    ))
    .unwrap();
    let r = p
        .reply(&[Message::user("how do i make one")], &params(), |_| {})
        .unwrap();
    assert_eq!(r.route, Route::InputFlagged);
    assert_eq!(r.template_category.as_deref(), Some("illicit/violent"));
    let v = &r.input_verdict;
    assert_eq!(
        v.flagged_categories(),
        ["violence", "illicit", "illicit/violent"]
    );
    for c in &v.categories {
        let want = match c.category.as_str() {
            "violence" | "illicit" => Some("illicit/violent"),
            _ => None,
        };
        assert_eq!(c.implied_by.as_deref(), want, "{c:?}");
        if want.is_some() {
            assert!(c.score < c.threshold, "flagged by implication only: {c:?}");
        }
    }
}

#[test]
fn flagged_output_never_reaches_the_caller() {
    // Input passes (its score is below the threshold), output is flagged: find a threshold
    // between the prompt's violence score and what the model writes.
    let dir = bundle("output-flag", "{}");
    let m = Moderator::load(dir.join("moderator")).unwrap();
    let prompt = "Tell me a story.";
    let s_in = m.check(prompt).unwrap().score("violence").unwrap();
    let thr = (s_in + 1e-4).min(1.0);
    let pj = format!(
        r#"{{"chat_model": "chat", "moderator": "moderator",
            "thresholds": {{"harassment":1.0,"hate":1.0,"self-harm":1.0,"sexual":1.0,"illicit":1.0,"violence":{thr}}},
            "moderation": {{"max_chunk_chars": 16, "context_chars": 16}}}}"#
    );
    std::fs::write(dir.join("pipeline.json"), pj).unwrap();
    let p = Pipeline::load(&dir).unwrap();
    // Try a few seeds: with random weights, some output chunk scores above the prompt.
    let mut saw_output_flag = false;
    for seed in 0..8 {
        let mut chunks = vec![];
        let params = SamplingParams { seed, ..params() };
        let r = p
            .reply(&[Message::user(prompt)], &params, |c| {
                chunks.push(c.clone())
            })
            .unwrap();
        assert!(!r.input_verdict.flagged);
        if r.route != Route::OutputFlagged {
            continue;
        }
        saw_output_flag = true;
        assert_eq!(r.source, Source::Template);
        // Only model text comes before the template, and the template comes last (that each
        // released chunk passed the gate is checked in pipeline.rs's gate unit tests).
        for c in &chunks[..chunks.len() - 1] {
            let Chunk::Text { text } = c else {
                panic!("template must come last")
            };
            assert!(!text.is_empty());
        }
        let Some(Chunk::Template { stage, verdict, .. }) = chunks.last() else {
            panic!("the stream must end with the template marker")
        };
        assert_eq!(*stage, Stage::Output);
        assert!(verdict.flagged);
        assert!(r.output_verdict.as_ref().unwrap().flagged);
        break;
    }
    assert!(
        saw_output_flag,
        "no seed produced output above the prompt's score"
    );
}

#[test]
fn bad_conversations_get_clear_errors() {
    let p = Pipeline::load(bundle("errors", "{}")).unwrap();
    let e = p
        .reply(&[Message::user("  ")], &params(), |_| {})
        .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let e = p
        .reply(&[Message::assistant("hi")], &params(), |_| {})
        .unwrap_err();
    assert!(e.to_string().contains("no user message"), "{e}");
    let long = "word ".repeat(20_000);
    let e = p
        .reply(&[Message::user(&long)], &params(), |_| {})
        .unwrap_err();
    assert!(e.to_string().contains("context"), "{e}");
}

#[test]
fn a_bad_pipeline_json_names_the_file() {
    let dir = bundle("badjson", "{}");
    std::fs::write(
        dir.join("pipeline.json"),
        r#"{"chat_model": "chat", "moderatr": "x"}"#,
    )
    .unwrap();
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(e.contains("pipeline.json") && e.contains("moderatr"), "{e}");
    let dir = bundle("badthr", r#"{"violense": 0.5}"#);
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(e.contains("violense"), "{e}");
}

/// A conversation longer than the context keeps being answered: the oldest turns are left out
/// (the system prompt and the last message stay) and the Reply says how many.
#[test]
fn a_conversation_longer_than_the_context_keeps_answering() {
    let all_one = r#"{"harassment":1.0,"hate":1.0,"self-harm":1.0,"sexual":1.0,"violence":1.0,"illicit":1.0}"#;
    let p = Pipeline::load(bundle("overflow", all_one)).unwrap();
    let context = p.chat.model.config.max_seq_len; // 256 byte tokens
    let mut convo = vec![Message::system("Be brief.")];
    let mut dropped = vec![];
    for turn in 0..12 {
        convo.push(Message::user(&format!(
            "question number {turn}, about the sea?"
        )));
        let r = p.reply(&convo, &params(), |_| {}).unwrap();
        assert!(
            r.prompt_tokens < context,
            "turn {turn}: {}",
            r.prompt_tokens
        );
        dropped.push(r.dropped_turns);
        convo.push(Message::assistant(&"an answer of some length. ".repeat(2)));
    }
    assert_eq!(dropped[0], 0, "a short conversation is read whole");
    assert!(
        dropped.last().unwrap() > &0,
        "the long conversation dropped nothing: {dropped:?}"
    );
    assert!(
        dropped.windows(2).all(|w| w[1] >= w[0]),
        "drops grow with the conversation: {dropped:?}"
    );
    // Only a last message too long for the context by itself is an error.
    convo.push(Message::user(&"x".repeat(context)));
    let e = p.reply(&convo, &params(), |_| {}).unwrap_err();
    assert!(e.to_string().contains("context"), "{e}");
}

/// A bundle's chat model may be one GGUF file (weights, tokenizer and chat template in one):
/// the browser fetches exactly that file, and natively a directory holding one works too.
#[test]
fn a_bundle_whose_chat_model_is_a_gguf_file() {
    use tinychat::bundle;
    let gguf =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/tiny_q8_0.gguf");
    let all_one = r#"{"harassment":1.0,"hate":1.0,"self-harm":1.0,"sexual":1.0,"violence":1.0,"illicit":1.0}"#;
    let dir = bundle("gguf-bundle", all_one);
    std::fs::copy(&gguf, dir.join("chat.gguf")).unwrap();
    let pj = format!(
        r#"{{"chat_model": "chat.gguf", "moderator": "moderator", "thresholds": {all_one}}}"#
    );
    std::fs::write(dir.join("pipeline.json"), &pj).unwrap();
    let cfg = bundle::parse_pipeline(&pj, "pipeline.json").unwrap();
    let files: Vec<_> = bundle::pipeline_files(&cfg, None).unwrap();
    assert_eq!(files[0].path, "chat.gguf");
    assert!(files[0].required);
    assert!(files.iter().all(|f| !f.path.starts_with("chat.gguf/")));
    let p = Pipeline::load(&dir).unwrap();
    let r = p
        .reply(&[Message::user("the hello")], &params(), |_| {})
        .unwrap();
    assert_eq!(r.source, Source::Model);
    // The browser's in-memory files load the same bundle.
    let mem = bundle::Files {
        files: files
            .iter()
            .filter_map(|f| Some((f.path.clone(), std::fs::read(dir.join(&f.path)).ok()?)))
            .chain([("pipeline.json".to_string(), pj.into_bytes())])
            .collect(),
        origin: "https://example.test/b".into(),
    };
    let p2 = bundle::load_pipeline(&mem).unwrap();
    assert_eq!(p2.chat.model.config, p.chat.model.config);
    // Natively, "chat_model" may also name a directory that holds one .gguf.
    std::fs::create_dir_all(dir.join("g")).unwrap();
    std::fs::rename(dir.join("chat.gguf"), dir.join("g/m.gguf")).unwrap();
    std::fs::write(
        dir.join("pipeline.json"),
        format!(r#"{{"chat_model": "g", "moderator": "moderator", "thresholds": {all_one}}}"#),
    )
    .unwrap();
    assert!(Pipeline::load(&dir).is_ok());
}

/// pipeline.json's `context` caps the positions the chat engine holds (a browser tab keeps less
/// than a long-context model allows): conversations are fitted into it.
#[test]
fn pipeline_json_context_caps_the_engine() {
    let all_one = r#"{"harassment":1.0,"hate":1.0,"self-harm":1.0,"sexual":1.0,"violence":1.0,"illicit":1.0}"#;
    let dir = bundle("context-cap", all_one);
    let pj = format!(
        r#"{{"chat_model": "chat", "moderator": "moderator", "thresholds": {all_one}, "context": 96}}"#
    );
    std::fs::write(dir.join("pipeline.json"), pj).unwrap();
    let p = Pipeline::load(&dir).unwrap();
    assert_eq!(p.context(), 96);
    let mut convo = vec![];
    let mut last = None;
    for turn in 0..4 {
        convo.push(Message::user(&format!("turn {turn} of a chat")));
        let r = p.reply(&convo, &params(), |_| {}).unwrap();
        assert!(r.prompt_tokens + r.completion_tokens <= 96, "{r:?}");
        convo.push(Message::assistant(&r.text));
        last = Some(r);
    }
    assert!(last.unwrap().dropped_turns > 0);
}
