//! Pretraining end to end on a tiny corpus: exact resume, and clear errors on bad inputs.
#![cfg(feature = "train")]

use crate::common;

use crate::train_cli::PretrainArgs;
use clap::Parser;
use std::path::{Path, PathBuf};
use tinychat::train::data::{prepare, read_corpus, CorpusOptions};
use tinychat::train::pretrain::{self, PretrainOptions};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    a: PretrainArgs,
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinychat-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small corpus, a 300-token tokenizer, and the args of a tiny model trained on them.
fn setup(root: &Path) -> Vec<String> {
    let words = [
        "the", "whale", "ship", "sea", "captain", "sailed", "over", "a", "dark", "night", "and",
        "saw", "land", "of", "men",
    ];
    common::train::random_corpus(root, &root.join("corpus"), &words, 3, (60, 80), ".");
    common::train::small_tokenizer(root);
    let s = |p: PathBuf| p.display().to_string();
    vec![
        "x".into(),
        "--data".into(),
        s(root.join("corpus")),
        "--tokenizer".into(),
        s(root.join("tok")),
        "--dim".into(),
        "32".into(),
        "--layers".into(),
        "2".into(),
        "--heads".into(),
        "4".into(),
        "--kv-heads".into(),
        "2".into(),
        "--ffn".into(),
        "64".into(),
        "--seq-len".into(),
        "16".into(),
        "--batch-size".into(),
        "2".into(),
        "--grad-accum".into(),
        "2".into(),
        "--steps".into(),
        "8".into(),
        "--warmup".into(),
        "2".into(),
        "--lr".into(),
        "1e-2".into(),
        "--eval-every".into(),
        "3".into(),
        "--eval-batches".into(),
        "2".into(),
        "--save-every".into(),
        "100".into(),
        "--quiet".into(),
    ]
}

fn args(base: &[String], extra: &[&str]) -> PretrainOptions {
    let mut v = base.to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    Cli::parse_from(v).a.into()
}

fn losses(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {} {}",
                v["step"], v["loss"], v["val_loss"], v["grad_norm"]
            )
        })
        .collect()
}

#[test]
fn resume_is_bitwise_exact_and_bad_resumes_fail_cleanly() {
    let root = tmp("resume");
    let base = setup(&root);
    let full = root.join("full");
    let split = root.join("split");
    let fs = |p: &Path| p.display().to_string();

    // N = 8 steps in one run.
    let a = pretrain::run(&args(&base, &["--out", &fs(&full)])).unwrap();
    assert_eq!(a.steps_done, 8);
    // k = 3 steps, "killed", then resumed for the remaining 5.
    let b = pretrain::run(&args(&base, &["--out", &fs(&split), "--stop-after", "3"])).unwrap();
    assert_eq!(b.steps_done, 3);
    pretrain::run(&args(&base, &["--out", &fs(&split), "--resume"])).unwrap();
    for f in ["model.safetensors", "optimizer.safetensors"] {
        let x = std::fs::read(full.join("checkpoint").join(f)).unwrap();
        let y = std::fs::read(split.join("checkpoint").join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between the straight run and the resumed run"
        );
    }
    assert_eq!(losses(&full), losses(&split), "metrics differ");
    println!("8 steps == 3 steps + resume 5 steps: model and optimizer state bitwise identical");

    // The checkpoint is a model directory the inference side loads.
    let chat = tinychat::ChatModel::load(full.join("checkpoint")).unwrap();
    assert_eq!(chat.model.config.max_seq_len, 16);

    // Resuming with another model shape is refused, naming the mismatch.
    let mut other = args(&base, &["--out", &fs(&split), "--resume"]);
    other.overrides.dim = Some(48);
    let e = pretrain::run(&other).unwrap_err();
    assert!(e.to_string().contains("other settings"), "{e}");
    // Resuming where there is no checkpoint says so.
    let e = pretrain::run(&args(
        &base,
        &["--out", &fs(&root.join("nothing")), "--resume"],
    ))
    .unwrap_err();
    assert!(e.to_string().contains("cannot read the checkpoint"), "{e}");
}

#[test]
fn a_failed_checkpoint_write_keeps_the_previous_checkpoint() {
    let root = tmp("ckfail");
    let base = setup(&root);
    let run = root.join("run");
    let fs = |p: &Path| p.display().to_string();
    pretrain::run(&args(&base, &["--out", &fs(&run), "--stop-after", "2"])).unwrap();
    let before = std::fs::read(run.join("checkpoint/model.safetensors")).unwrap();
    // Block the staging directory with a file: the next checkpoint write fails.
    std::fs::write(run.join(".checkpoint.tmp"), b"in the way").unwrap();
    let e = pretrain::run(&args(
        &base,
        &["--out", &fs(&run), "--resume", "--stop-after", "4"],
    ))
    .unwrap_err();
    assert!(e.to_string().contains(".checkpoint.tmp"), "{e}");
    let after = std::fs::read(run.join("checkpoint/model.safetensors")).unwrap();
    assert!(before == after, "the previous checkpoint was changed");
    let st = pretrain::saved_state(&run).unwrap();
    assert_eq!(st["step"], 2);
    // Once the obstacle is gone the run resumes from step 2.
    std::fs::remove_file(run.join(".checkpoint.tmp")).unwrap();
    pretrain::run(&args(
        &base,
        &["--out", &fs(&run), "--resume", "--stop-after", "4"],
    ))
    .unwrap();
    assert_eq!(pretrain::saved_state(&run).unwrap()["step"], 4);
}

#[test]
fn every_crash_point_of_a_checkpoint_save_resumes() {
    // A checkpoint is swapped in through .checkpoint.tmp/ and .checkpoint.old/; a kill can stop
    // the save anywhere, twice in a row, and the run must still resume (issue 24, item 7).
    let root = tmp("ckcrash");
    let base = setup(&root);
    let run = root.join("run");
    let fs = |p: &Path| p.display().to_string();
    let resume_to = |step: &str| {
        pretrain::run(&args(
            &base,
            &["--out", &fs(&run), "--resume", "--stop-after", step],
        ))
        .unwrap()
    };
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    };
    let (ck, staged, old) = (
        run.join("checkpoint"),
        run.join(".checkpoint.tmp"),
        run.join(".checkpoint.old"),
    );
    let step = || pretrain::saved_state(&run).unwrap()["step"].clone();
    pretrain::run(&args(&base, &["--out", &fs(&run), "--stop-after", "2"])).unwrap();

    // The double crash: no checkpoint/, a partly deleted .checkpoint.old (its marker,
    // trainer_state.json, goes first), a complete .checkpoint.tmp. (Before, the only complete
    // copy was deleted and load ignored .checkpoint.tmp.)
    copy(&ck, &staged);
    std::fs::rename(&ck, &old).unwrap();
    std::fs::remove_file(old.join("trainer_state.json")).unwrap();
    std::fs::remove_file(old.join("model.safetensors")).unwrap();
    assert_eq!(step(), 2);
    resume_to("4");
    assert_eq!(step(), 4);
    assert!(!staged.exists() && !old.exists());

    // Killed between the swap's two renames: .checkpoint.old and the staged copy, no checkpoint/.
    copy(&ck, &staged);
    std::fs::rename(&ck, &old).unwrap();
    assert_eq!(step(), 4);
    resume_to("6");
    assert_eq!(step(), 6);
    assert!(!staged.exists() && !old.exists());

    // A finished run killed while it removed .checkpoint.old: the leftover goes at the next load.
    copy(&ck, &old);
    std::fs::remove_file(old.join("trainer_state.json")).unwrap();
    assert_eq!(step(), 6);
    assert!(!old.exists());
}

#[test]
fn bad_corpora_get_errors_that_name_file_and_line() {
    let root = tmp("badcorpus");
    let missing = root.join("nope.txt");
    let e = read_corpus(&missing).unwrap_err().to_string();
    assert!(e.contains("nope.txt"), "{e}");

    let empty = root.join("empty.txt");
    std::fs::write(&empty, "  \n\n").unwrap();
    let e = read_corpus(&empty).unwrap_err().to_string();
    assert!(e.contains("empty.txt") && e.contains("empty"), "{e}");

    let latin1 = root.join("latin1.txt");
    std::fs::write(&latin1, b"caf\xc3\xa9 ok\nna\xefve\n").unwrap();
    let e = read_corpus(&latin1).unwrap_err().to_string();
    assert!(
        e.contains("latin1.txt") && e.contains("line 2") && e.contains("UTF-8"),
        "{e}"
    );

    let jsonl = root.join("bad.jsonl");
    std::fs::write(
        &jsonl,
        "{\"text\": \"fine\"}\n\n{\"text\": \"also fine\"}\n{\"text\": oops}\n",
    )
    .unwrap();
    let e = read_corpus(&jsonl).unwrap_err().to_string();
    assert!(e.contains("bad.jsonl") && e.contains("line 4"), "{e}");

    let notext = root.join("notext.jsonl");
    std::fs::write(&notext, "{\"body\": \"x\"}\n").unwrap();
    let e = read_corpus(&notext).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("\"text\""), "{e}");

    // prepare propagates them, and a corpus dir without train.jsonl is a clear pretrain error.
    let e = prepare(&CorpusOptions {
        out: root.join("out"),
        cache: root.join("cache"),
        input: vec![jsonl],
        no_default: true,
        val_percent: 5,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 4"), "{e}");
}

#[test]
fn a_corpus_splits_the_same_wherever_it_lies() {
    let root = tmp("splitpath");
    let lines: String = (0..60)
        .map(|i| format!("{{\"text\": \"document number {i}\"}}\n"))
        .collect();
    let mut outs = vec![];
    for dir in ["a", "b/deeper"] {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("notes.jsonl"), &lines).unwrap();
        let out = root.join(format!("out-{}", outs.len()));
        prepare(&CorpusOptions {
            out: out.clone(),
            cache: root.join("cache"),
            input: vec![d.join("notes.jsonl")],
            no_default: true,
            val_percent: 10,
        })
        .unwrap();
        outs.push(out);
    }
    for f in ["train.jsonl", "val.jsonl"] {
        let a = std::fs::read_to_string(outs[0].join(f)).unwrap();
        let b = std::fs::read_to_string(outs[1].join(f)).unwrap();
        assert_eq!(a, b, "{f} differs between two copies of one corpus");
        assert!(a.contains("\"source\":\"notes.jsonl\""), "{a}");
    }
    let val = std::fs::read_to_string(outs[0].join("val.jsonl")).unwrap();
    assert!((1..20).contains(&val.lines().count()), "{val}");

    // In a directory, files of one name in different subdirectories are different sources
    // (their path from the directory's parent), so they split independently.
    let docs: Vec<String> = (0..40)
        .map(|i| format!("{{\"text\": \"line {i}\"}}\n"))
        .collect();
    for sub in ["2023", "2024"] {
        let d = root.join("shards").join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("data.jsonl"), docs.concat()).unwrap();
    }
    let read = read_corpus(&root.join("shards")).unwrap();
    assert_eq!(read.len(), 80);
    assert_eq!(read[0].source, "shards/2023/data.jsonl");
    assert_eq!(read[40].source, "shards/2024/data.jsonl");
    let side = |d| tinychat::train::data::is_val(d, 10);
    let differ = (0..40)
        .filter(|&i| side(&read[i]) != side(&read[40 + i]))
        .count();
    assert!(
        differ > 0,
        "line N of both shards always lands on the same side"
    );
}
