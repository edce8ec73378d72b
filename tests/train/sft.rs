//! Supervised fine-tuning: the assistant-only loss mask, a tiny run that learns, exact resume,
//! and bad inputs.
#![cfg(feature = "train")]

use crate::common;

use crate::train_cli::SftArgs;
use clap::Parser;
use std::path::{Path, PathBuf};
use tinychat::ops::IGNORE;
use tinychat::train::sft::{self, encode_conversation, load_model, Packer, SftOptions};
use tinychat::Message;

#[derive(Parser)]
struct SCli {
    #[command(flatten)]
    a: SftArgs,
}

fn tmp(name: &str) -> PathBuf {
    common::temp_dir(&format!("sft-{name}"))
}

const WORDS: [&str; 12] = [
    "the", "capital", "of", "france", "is", "paris", "what", "two", "plus", "three", "five", "yes",
];

/// A tokenizer (with the ChatML specials) and a tiny model pretrained for a few steps on
/// random text over WORDS, in root/pre.
fn pretrained(root: &Path) -> PathBuf {
    common::train::random_corpus(root, &root.join("corpus"), &WORDS, 5, (40, 60), "?");
    common::train::small_tokenizer(root);
    common::train::tiny_pretrain(root, 48, 4);
    root.join("pre")
}

fn convo(q: &str, a: &str) -> serde_json::Value {
    serde_json::json!({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
}

/// sft_train.jsonl / sft_eval.jsonl: a few fixed Q&A pairs (one too long for T = 48).
fn write_sft_data(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let pairs = [
        ("what is the capital of france?", "paris"),
        ("what is two plus three?", "five"),
        ("is paris the capital of france?", "yes"),
        ("what is three plus two?", "five"),
    ];
    let mut train = String::new();
    for _ in 0..6 {
        for (q, a) in pairs {
            train.push_str(&convo(q, a).to_string());
            train.push('\n');
        }
    }
    let long = WORDS
        .iter()
        .cycle()
        .take(80)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    train.push_str(&convo(&long, "yes").to_string());
    train.push('\n');
    std::fs::write(dir.join("sft_train.jsonl"), train).unwrap();
    let mut eval = String::new();
    for (q, a) in pairs {
        eval.push_str(&convo(q, a).to_string());
        eval.push('\n');
    }
    std::fs::write(dir.join("sft_eval.jsonl"), eval).unwrap();
}

fn sft_args(root: &Path, out: &str, extra: &[&str]) -> SftOptions {
    let s = |p: PathBuf| p.display().to_string();
    let mut v: Vec<String> = [
        "x",
        "--init",
        &s(root.join("pre")),
        "--data",
        &s(root.join("sft")),
        "--out",
        &s(root.join(out)),
        "--batch-size",
        "2",
        "--steps",
        "80",
        "--warmup",
        "2",
        "--lr",
        "1e-2",
        "--min-lr",
        "1e-3",
        "--eval-every",
        "20",
        "--eval-batches",
        "2",
        "--save-every",
        "100",
        "--quiet",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    v.extend(extra.iter().map(|x| x.to_string()));
    SCli::parse_from(v).a.into()
}

#[test]
fn only_assistant_replies_and_their_end_token_are_targets() {
    let root = tmp("mask");
    let pre = pretrained(&root);
    let m = load_model(&pre.join("checkpoint")).unwrap();
    let messages = vec![
        Message::system("be brief"),
        Message::user("what is two plus three?"),
        Message::assistant("five"),
        Message::user("the capital of france?"),
        Message::assistant("paris is"),
    ];
    let e = encode_conversation(&m.template, &m.tokenizer, &messages).unwrap();
    assert_eq!(e.tokens.len(), e.target.len());
    let tok = &m.tokenizer;
    let im_end = tok.token_to_id("<|im_end|>").unwrap();
    let im_start = tok.token_to_id("<|im_start|>").unwrap();
    // The counted tokens, in order, are exactly the two replies each with its <|im_end|>.
    let counted: Vec<u32> = e
        .tokens
        .iter()
        .zip(&e.target)
        .filter(|(_, &t)| t)
        .map(|(&x, _)| x)
        .collect();
    let want: Vec<u32> = [
        tok.encode("five", false).unwrap(),
        vec![im_end],
        tok.encode("paris is", false).unwrap(),
        vec![im_end],
    ]
    .concat();
    assert_eq!(counted, want, "counted tokens");
    // Everything before the first reply (system, user, "<|im_start|>assistant\n") is not
    // counted; the reply starts right after the header.
    let header = tok.encode("<|im_start|>assistant\n", false).unwrap();
    let first = e.target.iter().position(|&t| t).unwrap();
    assert_eq!(&e.tokens[first - header.len()..first], &header[..]);
    // The newline after each <|im_end|> and the next turn's <|im_start|> are not counted.
    for (i, (&x, &t)) in e.tokens.iter().zip(&e.target).enumerate() {
        if x == im_end && t && i + 1 < e.tokens.len() {
            assert!(!e.target[i + 1], "the token after <|im_end|> counts");
        }
        if x == im_start {
            assert!(!t, "<|im_start|> counts");
        }
    }
    // Tokenizing reply by reply gives the same ids as tokenizing the whole rendered text here.
    let full = m.template.render(&messages, false).unwrap();
    assert_eq!(e.tokens, tok.encode(&full, false).unwrap());
    println!(
        "{} tokens, {} counted: {:?}",
        e.tokens.len(),
        counted.len(),
        tok.decode(&counted, false).unwrap()
    );

    // Packed into a batch, target j is token j+1 where it counts and IGNORE elsewhere.
    let t = e.tokens.len() - 1;
    let mut p = Packer::new(1, 0, false);
    let (mut inp, mut tgt) = (vec![0; t], vec![0; t]);
    p.next_batch(std::slice::from_ref(&e), 1, t, 0, &mut inp, &mut tgt);
    assert_eq!(&inp[..], &e.tokens[..t]);
    for j in 0..t {
        let want = if e.target[j + 1] {
            e.tokens[j + 1]
        } else {
            IGNORE
        };
        assert_eq!(tgt[j], want, "position {j}");
    }

    // No assistant turn: a clear error.
    let err = encode_conversation(&m.template, tok, &[Message::user("hi")]).unwrap_err();
    assert!(err.to_string().contains("no assistant turn"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

fn metric(run: &Path, key: &str) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Some((v["step"].as_u64()?, v[key].as_f64()?))
        })
        .collect()
}

#[test]
fn sft_learns_resumes_exactly_and_skips_long_conversations() {
    let root = tmp("run");
    pretrained(&root);
    write_sft_data(&root.join("sft"));
    let full = sft::run(&sft_args(&root, "full", &[])).unwrap();
    assert_eq!(full.steps_done, 80);
    assert_eq!(
        full.skipped_too_long, 1,
        "the 80-word conversation is skipped"
    );
    assert_eq!(full.train_conversations, 24);
    let val = metric(&root.join("full"), "val_loss");
    let (first, last) = (val[0].1, val[val.len() - 1].1);
    println!(
        "held-out assistant loss: step 20 {first:.4} -> step 80 {last:.4}; train {:.4}",
        full.train_loss
    );
    assert!(last < first, "held-out loss did not fall: {val:?}");
    assert!(last < 0.5, "the fixed answers are not learned: {last}");
    // The fine-tuned checkpoint loads in the inference engine and answers.
    let chat = tinychat::chat::ChatModel::load(root.join("full/checkpoint")).unwrap();
    let g = chat
        .chat(
            &[Message::user("what is two plus three?")],
            &tinychat::generate::SamplingParams {
                temperature: 0.0,
                max_new_tokens: 8,
                ..Default::default()
            },
            |_| true,
        )
        .unwrap();
    println!("answer: {:?} ({:?})", g.text, g.finish_reason);
    assert_eq!(g.text.trim(), "five");

    // 30 steps, "killed", resumed for 50: bitwise the same model, optimizer and log.
    sft::run(&sft_args(&root, "split", &["--stop-after", "30"])).unwrap();
    sft::run(&sft_args(&root, "split", &["--resume"])).unwrap();
    for f in ["model.safetensors", "optimizer.safetensors"] {
        let x = std::fs::read(root.join("full/checkpoint").join(f)).unwrap();
        let y = std::fs::read(root.join("split/checkpoint").join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between the straight and the resumed run"
        );
    }
    assert_eq!(
        metric(&root.join("full"), "loss"),
        metric(&root.join("split"), "loss")
    );
    // Resuming with other settings is refused.
    let err = sft::run(&sft_args(
        &root,
        "split",
        &["--resume", "--weight-decay", "0.1"],
    ))
    .unwrap_err();
    assert!(err.to_string().contains("other settings"), "{err}");

    // A conversation with no assistant turn: the reader names the file and line.
    std::fs::write(
        root.join("sft/sft_train.jsonl"),
        format!(
            "{}\n{}\n",
            convo("a", "b"),
            serde_json::json!({"messages": [{"role": "user", "content": "hi"}]})
        ),
    )
    .unwrap();
    let err = sft::run(&sft_args(&root, "bad", &[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sft_train.jsonl:2") && err.contains("no assistant turn"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
