//! `Pipeline::reply_async` (the browser's driver: the chat model on an `Engine`, awaiting
//! between tokens) against `Pipeline::reply` (the blocking CPU driver): the same chunks, text,
//! route and trace on the same bundle and seed; errors from the between-tokens hook end the reply.
//! The moderator runs on the CPU engine, or on an `Engine` of its own (the GPU where one exists).

use crate::common::*;
use tinychat::engine::{Backend, Engine, EngineOptions};
use tinychat::pipeline::{Chunk, Pipeline, Route, Source};
use tinychat::{Error, Message, SamplingParams};

const CATS: [&str; 6] = [
    "harassment",
    "hate",
    "self-harm",
    "sexual",
    "violence",
    "illicit",
];

fn bundle(name: &str, thresholds: &str) -> Pipeline {
    let dir = temp_dir(name);
    let chat_cfg = tiny_llama_config(&[], 256);
    write_model_dir(
        &dir.join("chat"),
        &chat_cfg,
        &random_params(&chat_cfg, 1, 0.3),
    );
    let mod_cfg = tiny_llama_config(&CATS, 64);
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
    Pipeline::load(&dir).unwrap()
}

fn thresholds(v: f32) -> String {
    let parts: Vec<String> = CATS.iter().map(|c| format!("\"{c}\": {v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn params() -> SamplingParams {
    SamplingParams {
        max_new_tokens: 40,
        temperature: 0.8,
        seed: 3,
        ..Default::default()
    }
}

fn run_async(
    p: &Pipeline,
    engine: &mut Engine,
    messages: &[Message],
    hook: impl FnMut() -> tinychat::Result<()>,
) -> (tinychat::Result<tinychat::pipeline::Reply>, Vec<Chunk>) {
    run_async_moderated(p, engine, None, messages, hook)
}

fn run_async_moderated(
    p: &Pipeline,
    engine: &mut Engine,
    moderator: Option<&mut Engine>,
    messages: &[Message],
    hook: impl FnMut() -> tinychat::Result<()>,
) -> (tinychat::Result<tinychat::pipeline::Reply>, Vec<Chunk>) {
    let mut chunks = vec![];
    let mut hook = hook;
    let r = pollster::block_on(p.reply_async(
        engine,
        moderator,
        messages,
        &params(),
        &mut |c| chunks.push(c.clone()),
        || std::future::ready(hook()),
    ));
    (r, chunks)
}

#[test]
fn async_driver_matches_the_blocking_one_on_the_cpu_engine() {
    let p = bundle("async-benign", &thresholds(1.0));
    let messages = [Message::user("What is the capital of France?")];
    let mut sync_chunks = vec![];
    let expected = p
        .reply(&messages, &params(), |c| sync_chunks.push(c.clone()))
        .unwrap();

    let mut engine =
        Engine::new(p.chat.model.clone(), EngineOptions::backend(Backend::Cpu)).unwrap();
    let mut calls = 0;
    let (r, chunks) = run_async(&p, &mut engine, &messages, || {
        calls += 1;
        Ok(())
    });
    let r = r.unwrap();
    assert_eq!(r.source, Source::Model);
    assert_eq!(r.route, Route::Model);
    assert_eq!(r.text, expected.text);
    assert_eq!(chunks, sync_chunks);
    assert_eq!(r.input_verdict, expected.input_verdict);
    assert_eq!(r.output_verdict, expected.output_verdict);
    assert_eq!(r.completion_tokens, expected.completion_tokens);
    assert_eq!(r.prompt_tokens, expected.prompt_tokens);
    assert_eq!(r.finish_reason, expected.finish_reason);
    assert_eq!(
        calls, r.completion_tokens,
        "the hook runs after every token"
    );

    // A second reply on the same engine starts from an empty cache: same answer again.
    let (again, _) = run_async(&p, &mut engine, &messages, || Ok(()));
    assert_eq!(again.unwrap().text, expected.text);
}

#[test]
fn async_driver_takes_the_template_paths() {
    // Threshold 0 on every category: the prompt is flagged, the model never runs.
    let p = bundle("async-flagged", &thresholds(0.0));
    let mut engine =
        Engine::new(p.chat.model.clone(), EngineOptions::backend(Backend::Cpu)).unwrap();
    let (r, chunks) = run_async(&p, &mut engine, &[Message::user("hello")], || {
        panic!("no token may be generated for a flagged prompt")
    });
    let r = r.unwrap();
    assert_eq!(r.route, Route::InputFlagged);
    assert_eq!(r.source, Source::Template);
    assert_eq!(r.completion_tokens, 0);
    assert!(matches!(&chunks[..], [Chunk::Template { .. }]));
}

#[test]
fn a_failing_hook_ends_the_reply_with_its_error() {
    let p = bundle("async-cancel", &thresholds(1.0));
    let mut engine =
        Engine::new(p.chat.model.clone(), EngineOptions::backend(Backend::Cpu)).unwrap();
    let mut n = 0;
    let (r, _) = run_async(&p, &mut engine, &[Message::user("hello there")], || {
        n += 1;
        if n == 3 {
            Err(Error::Other("cancelled".into()))
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(Error::Other(m)) if m == "cancelled"));
    assert_eq!(n, 3);
}

#[test]
fn an_engine_on_another_model_is_refused() {
    let p = bundle("async-wrong-engine", &thresholds(1.0));
    let other = bundle("async-wrong-engine-2", &thresholds(1.0));
    let mut engine = Engine::new(
        other.chat.model.clone(),
        EngineOptions::backend(Backend::Cpu),
    )
    .unwrap();
    let (r, _) = run_async(&p, &mut engine, &[Message::user("hi")], || Ok(()));
    let e = r.unwrap_err().to_string();
    assert!(e.contains("this pipeline's chat model"), "{e}");
}

#[test]
fn async_driver_on_the_default_engine_streams_what_it_returns() {
    // Auto: the GPU where an adapter exists (lavapipe in CI), else the CPU.
    let p = bundle("async-auto", &thresholds(1.0));
    let mut engine = Engine::new(p.chat.model.clone(), EngineOptions::default()).unwrap();
    let (r, chunks) = run_async(
        &p,
        &mut engine,
        &[Message::user("Say something")],
        || Ok(()),
    );
    let r = r.unwrap();
    let streamed: String = chunks
        .iter()
        .map(|c| match c {
            Chunk::Text { text } => text.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(streamed, r.text, "on {}", engine.describe());
    assert!(r.completion_tokens > 0);
}

/// The scores of every category of a verdict.
fn scores(v: &tinychat::moderation::Verdict) -> Vec<f32> {
    v.categories.iter().map(|c| c.score).collect()
}

#[test]
fn the_moderator_on_an_engine_of_its_own_gives_the_same_replies() {
    // Thresholds 1.0: the model answers and every chunk is checked; 0.0: the prompt is flagged.
    for (name, t, route) in [
        ("async-mod-engine", 1.0, Route::Model),
        ("async-mod-engine-flag", 0.0, Route::InputFlagged),
    ] {
        let p = bundle(name, &thresholds(t));
        let messages = [Message::user("What is the capital of France?")];
        let mut sync_chunks = vec![];
        let expected = p
            .reply(&messages, &params(), |c| sync_chunks.push(c.clone()))
            .unwrap();
        assert_eq!(expected.route, route);
        // On the CPU engine the moderator is the same code: equal bit for bit. On the GPU
        // (Backend::Gpu: lavapipe in CI; skipped without an adapter) the scores agree within
        // 1e-5, so the same flags and the same text.
        let mut backends = vec![Backend::Cpu];
        if pollster::block_on(tinychat::gpu::GpuContext::new()).is_ok() {
            backends.push(Backend::Gpu);
        }
        for backend in backends {
            let mut chat =
                Engine::new(p.chat.model.clone(), EngineOptions::backend(Backend::Cpu)).unwrap();
            let mut m =
                Engine::new(p.moderator.model.clone(), EngineOptions::backend(backend)).unwrap();
            let (r, chunks) =
                run_async_moderated(&p, &mut chat, Some(&mut m), &messages, || Ok(()));
            let r = r.unwrap();
            println!("moderator on {}: {:?}", m.describe(), r.route);
            assert_eq!(m.is_gpu(), backend == Backend::Gpu);
            assert_eq!(r.route, expected.route, "{backend:?}");
            assert_eq!(r.text, expected.text, "{backend:?}");
            assert_eq!(chunks.len(), sync_chunks.len(), "{backend:?}");
            let (got, want) = (scores(&r.input_verdict), scores(&expected.input_verdict));
            let d = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            println!("input scores, {backend:?} against the CPU: max abs diff {d:.2e}");
            match backend {
                Backend::Cpu => {
                    assert_eq!(chunks, sync_chunks);
                    assert_eq!(r.output_verdict, expected.output_verdict);
                }
                _ => assert!(d <= 1e-5, "{got:?} vs {want:?}"),
            }
            assert_eq!(
                r.output_verdict.is_some(),
                expected.output_verdict.is_some()
            );
        }
    }
}

#[test]
fn a_moderator_engine_on_another_model_is_refused() {
    let p = bundle("async-wrong-mod", &thresholds(1.0));
    let mut chat = Engine::new(p.chat.model.clone(), EngineOptions::backend(Backend::Cpu)).unwrap();
    let mut wrong =
        Engine::new(p.chat.model.clone(), EngineOptions::backend(Backend::Cpu)).unwrap();
    let (r, _) = run_async_moderated(
        &p,
        &mut chat,
        Some(&mut wrong),
        &[Message::user("hi")],
        || panic!("nothing runs with the wrong moderator"),
    );
    let e = r.unwrap_err().to_string();
    assert!(e.contains("moderator"), "{e}");
}
