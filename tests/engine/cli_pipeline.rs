//! `tinychat moderate` and `tinychat chat --pipeline` on a bundle of small real models (random
//! weights, thresholds chosen so that the flag/pass outcome is known).

use crate::common::*;
use std::process::{Command, Stdio};

const CATS: [&str; 3] = ["self-harm", "violence", "illicit"];

fn bundle(name: &str, thresholds: &str) -> std::path::PathBuf {
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
    std::fs::write(
        dir.join("pipeline.json"),
        format!(
            r#"{{"chat_model": "chat", "moderator": "moderator", "thresholds": {thresholds}}}"#
        ),
    )
    .unwrap();
    dir
}

fn tinychat(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tinychat"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn moderate_prints_every_category_as_json_for_each_line() {
    let dir = bundle("cli-moderate", r#"{"violence": 0.0}"#);
    let d = dir.to_str().unwrap();
    let out = tinychat(
        &["moderate", "--model", d, "--json", "-"],
        "first text\n\nsecond text\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "blank lines are skipped: {stdout}");
    for l in &lines {
        assert_eq!(l["flagged"], true, "violence threshold 0 flags everything");
        let cats: Vec<&str> = l["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["category"].as_str().unwrap())
            .collect();
        assert_eq!(cats, CATS);
    }
    // the classifier directory alone works too, with its own thresholds (0.5 by default)
    let out = tinychat(
        &["moderate", "--model", &format!("{d}/moderator"), "hello"],
        "",
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("violence"));
}

#[test]
fn chat_with_a_pipeline_says_when_a_template_answered() {
    let dir = bundle("cli-chat-pipeline", r#"{"self-harm": 0.0}"#);
    let out = tinychat(
        &[
            "chat",
            "--pipeline",
            dir.to_str().unwrap(),
            "--max-new-tokens",
            "8",
        ],
        "hello there\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("your message was flagged for self-harm"),
        "stderr: {stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("988"));
}

#[test]
fn moderate_names_a_missing_classifier() {
    let out = tinychat(&["moderate", "--model", "/nonexistent/dir", "x"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error:") && err.contains("/nonexistent/dir"),
        "{err}"
    );
}

#[test]
fn moderate_on_the_gpu_engine_gives_the_cpu_scores() {
    let dir = bundle("cli-moderate-gpu", r#"{"violence": 0.5}"#);
    let d = dir.to_str().unwrap();
    let texts = "first text\nyou are a worthless idiot\n";
    let scores = |backend: &str| -> Option<Vec<f64>> {
        let out = tinychat(
            &[
                "moderate",
                "--model",
                d,
                "--json",
                "--backend",
                backend,
                "-",
            ],
            texts,
        );
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if backend == "gpu" && !out.status.success() && err.contains("adapter") {
            println!("SKIP: no GPU adapter ({err})");
            return None;
        }
        assert!(out.status.success(), "{backend}: {err}");
        if backend == "gpu" {
            assert!(err.contains("the classifier runs on GPU"), "{err}");
        }
        let stdout = String::from_utf8(out.stdout).unwrap();
        Some(
            stdout
                .lines()
                .flat_map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["categories"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["score"].as_f64().unwrap())
                        .collect::<Vec<_>>()
                })
                .collect(),
        )
    };
    let cpu = scores("cpu").unwrap();
    assert_eq!(cpu.len(), 2 * CATS.len());
    let Some(gpu) = scores("gpu") else { return };
    let diff = cpu
        .iter()
        .zip(&gpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("tinychat moderate --backend gpu against cpu: max abs score diff {diff:.2e}");
    assert!(diff <= 1e-5, "{cpu:?} vs {gpu:?}");
    let out = tinychat(&["moderate", "--model", d, "--backend", "tpu", "x"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown backend"));
}
