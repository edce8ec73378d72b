//! Reward model: the Bradley–Terry loss and its gradient through head and trunk against finite
//! differences, a tiny run that learns a ranking rule, the saved model scoring through
//! `Model::classify`, and bad rankings.
#![cfg(feature = "train")]

use crate::common;

use crate::train_cli::RewardArgs;
use clap::Parser;
use std::path::{Path, PathBuf};
use tinychat::config::{Family, ModelConfig};
use tinychat::ops::{bradley_terry_backward, bradley_terry_forward, Ranking};
use tinychat::train::eval::reward::{self as eval_reward, EvalRewardOptions};
use tinychat::train::model::init_params;
use tinychat::train::reward::{
    self, self_rankings, source_matches, RewardModel, RewardOptions, RewardTrainer,
};
use tinychat::train::sft::load_model;
use tinychat::train::sft_data::PpoPrompt;

#[test]
fn bt_loss_matches_a_hand_computed_example() {
    // One prompt, K = 3, rewards 2 > 1 > 0: pairs (2,1), (2,0), (1,0) with margins 1, 2, 1.
    // loss = (softplus(-1) + softplus(-2) + softplus(-1)) / 3
    let sp = |x: f64| (1.0 + x.exp()).ln();
    let want = (2.0 * sp(-1.0) + sp(-2.0)) / 3.0;
    let (l, right, pairs) =
        bradley_terry_forward(&[2.0, 1.0, 0.0], &[Ranking { start: 0, len: 3 }]);
    assert!((l as f64 - want).abs() < 1e-6, "{l} vs {want}");
    assert_eq!((right, pairs), (3, 3));
    // Reversed order: every pair is wrong.
    let (_, right, _) = bradley_terry_forward(&[0.0, 1.0, 2.0], &[Ranking { start: 0, len: 3 }]);
    assert_eq!(right, 0);
}

#[test]
fn bt_loss_gradient_matches_finite_differences() {
    let r = [0.3f32, -0.2, 0.9, 0.1, 0.5, -1.0, 7.0];
    let groups = [Ranking { start: 0, len: 4 }, Ranking { start: 4, len: 2 }]; // row 6 unused
    let mut dr = vec![0.0; r.len()];
    bradley_terry_backward(&mut dr, &r, &groups, 1.0);
    for i in 0..r.len() {
        let h = 1e-3;
        let (mut a, mut b) = (r, r);
        a[i] += h;
        b[i] -= h;
        let fd = (bradley_terry_forward(&a, &groups).0 - bradley_terry_forward(&b, &groups).0)
            / (2.0 * h);
        println!("dr[{i}] analytic {:+.6} fd {:+.6}", dr[i], fd);
        assert!((dr[i] - fd).abs() < 1e-3, "dr[{i}]: {} vs {fd}", dr[i]);
    }
    assert_eq!(dr[6], 0.0, "a row outside every group gets no gradient");
}

fn tiny_rm_config() -> ModelConfig {
    ModelConfig {
        family: Family::Llama,
        vocab_size: 37,
        dim: 16,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 4,
        hidden_dim: 24,
        max_seq_len: 7,
        norm_eps: 1e-5,
        rope_theta: 10000.0,
        tie_embeddings: false,
        attn_bias: false,
        mlp_bias: false,
        bos_token_id: None,
        eos_token_ids: vec![],
        pad_token_id: Some(0),
        labels: vec!["reward".into()],
        pooling: Default::default(),
        causal: true,
    }
}

#[test]
fn head_and_trunk_gradient_matches_finite_differences() {
    let cfg = tiny_rm_config();
    let (b, t) = (6, 7);
    let mut p = init_params(&cfg, 11);
    // A non-trivial head so the trunk's gradient is not tiny.
    let head = p.layout.spec(tinychat::Slot::ClsHead).unwrap().clone();
    let mut rng = tinychat::generate::Rng::new(2);
    for x in &mut p.data[head.offset..head.offset + head.len] {
        *x = rng.normal() * 0.5;
    }
    let inputs: Vec<u32> = (0..b * t).map(|_| (rng.next_u64() % 37) as u32).collect();
    let lengths = [7, 3, 5, 2, 7, 1];
    let groups = [Ranking { start: 0, len: 3 }, Ranking { start: 3, len: 2 }];
    let mut rm = RewardTrainer::new(&cfg, b, t).unwrap();
    let mut grads = vec![0.0f32; p.data.len()];
    rm.bt_forward_backward(&p, &mut grads, &inputs, &lengths, &groups, 1.0)
        .unwrap();
    let loss_at = |q: &tinychat::Params| -> f64 {
        let r = rm.forward(q, &inputs, &lengths).unwrap().to_vec();
        bradley_terry_forward(&r, &groups).0 as f64
    };
    // Every head weight, and a spread of trunk weights (embedding, attention, MLP, norms).
    let idx = (head.offset..head.offset + head.len).chain((0..head.offset).step_by(97));
    let (checked, worst) = common::check_grad_fd(&p, &grads, idx, loss_at);
    println!("{checked} parameters: worst relative error {worst:.2e}");
}

#[derive(Parser)]
struct RCli {
    #[command(flatten)]
    a: RewardArgs,
}

fn tmp(name: &str) -> PathBuf {
    common::temp_dir(&format!("rm-{name}"))
}

const WORDS: [&str; 10] = [
    "the", "capital", "of", "is", "paris", "what", "two", "plus", "five", "rude",
];

fn pretrained(root: &Path) {
    common::train::random_corpus(root, &root.join("corpus"), &WORDS, 5, (40, 60), "?");
    common::train::small_tokenizer(root);
    common::train::tiny_pretrain(root, 32, 3);
}

/// Rankings whose rule is: an answer with "paris" > one with "five" > one with "rude".
fn ranked(n: usize, seed: u64) -> String {
    let mut rng = tinychat::generate::Rng::new(seed);
    let mut w = |k: usize| -> String {
        (0..k)
            .map(|_| WORDS[(rng.next_u64() % 8) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = String::new();
    for _ in 0..n {
        let q = w(4);
        let (a, b2, c) = (w(2), w(2), w(2));
        let line = serde_json::json!({"prompt": q, "responses": [
            format!("{a} paris"), format!("{b2} five"), format!("{c} rude rude")
        ]});
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

fn rm_args(root: &Path, out: &str, extra: &[&str]) -> RewardOptions {
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
        "9",
        "--steps",
        "40",
        "--warmup",
        "2",
        "--lr",
        "3e-3",
        "--min-lr",
        "3e-4",
        "--eval-every",
        "20",
        "--save-every",
        "100",
        "--quiet",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    v.extend(extra.iter().map(|x| x.to_string()));
    RCli::parse_from(v).a.into()
}

#[test]
fn reward_model_learns_rankings_resumes_and_scores_through_classify() {
    let root = tmp("run");
    pretrained(&root);
    let sft = root.join("sft");
    std::fs::create_dir_all(&sft).unwrap();
    std::fs::write(sft.join("ranked_train.jsonl"), ranked(60, 1)).unwrap();
    std::fs::write(sft.join("ranked_eval.jsonl"), ranked(20, 2)).unwrap();
    let sum = reward::run(&rm_args(&root, "rm", &[])).unwrap();
    println!(
        "train loss {:.4}, held-out pairwise accuracy {:.3} over {} pairs",
        sum.train_loss, sum.eval_pairwise_accuracy, sum.eval_pairs
    );
    assert_eq!(sum.eval_pairs, 60);
    assert!(
        sum.eval_pairwise_accuracy >= 0.9,
        "{}",
        sum.eval_pairwise_accuracy
    );
    // The saved directory is an HF sequence classifier with one label; Model::classify scores.
    let rm = RewardModel::load(&root.join("rm")).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("rm/checkpoint/config.json")).unwrap(),
    )
    .unwrap();
    println!("architectures {}", cfg["architectures"]);
    let good = rm.score("what is two plus five", "the paris").unwrap();
    let bad = rm.score("what is two plus five", "the rude rude").unwrap();
    assert!(good > bad, "{good} <= {bad}");

    // `tinychat eval reward`: the same held-out pairs scored through Model::classify, broken
    // down by ranks and source; a ranking with an answer beyond the context is counted, not
    // scored; a ranking written against the rule is ordered wrong and listed among the worst.
    let mut held = std::fs::read_to_string(sft.join("ranked_eval.jsonl")).unwrap();
    for line in [
        serde_json::json!({"prompt": "what", "responses": ["paris", "paris ".repeat(200)]}),
        serde_json::json!({"prompt": "what is two plus five",
            "responses": ["the rude rude", "two five", "the paris"],
            "meta": {"source": "test/reversed"}}),
    ] {
        held.push_str(&line.to_string());
        held.push('\n');
    }
    let held_path = root.join("held.jsonl");
    std::fs::write(&held_path, held).unwrap();
    let rep = eval_reward::run(&EvalRewardOptions {
        model: root.join("rm"),
        data: held_path,
        json: false,
        show_errors: 3,
    })
    .unwrap();
    assert_eq!((rep.rankings, rep.skipped_too_long), (21, 1));
    assert_eq!(rep.all.pairs, 63);
    let plain = &rep.by_source["(none)"];
    assert_eq!(plain.pairs, 60);
    assert!(
        (plain.accuracy() - sum.eval_pairwise_accuracy).abs() <= 1.0 / 60.0 + 1e-9,
        "{} vs {} in training",
        plain.accuracy(),
        sum.eval_pairwise_accuracy
    );
    let ranks: Vec<(&str, usize)> = rep
        .by_ranks
        .iter()
        .map(|(k, c)| (k.as_str(), c.pairs))
        .collect();
    assert_eq!(ranks, [("1>2", 21), ("1>3", 21), ("2>3", 21)]);
    assert_eq!(
        rep.by_source.keys().collect::<Vec<_>>(),
        ["(none)", "test/reversed"]
    );
    assert_eq!(rep.by_family["test"], rep.by_source["test/reversed"]);
    assert_eq!(
        rep.by_ranks.values().map(|c| c.right).sum::<usize>(),
        rep.all.right
    );
    // A file with nothing to score is an error naming it.
    let long_only = root.join("long.jsonl");
    std::fs::write(
        &long_only,
        serde_json::json!({"prompt": "what", "chosen": "paris", "rejected": "paris ".repeat(200)})
            .to_string(),
    )
    .unwrap();
    let e = eval_reward::run(&EvalRewardOptions {
        model: root.join("rm"),
        data: long_only.clone(),
        json: true,
        show_errors: 0,
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("long.jsonl") && e.contains("no ranking to score"),
        "{e}"
    );
    // The model learned the rule, so the reversed ranking's pairs are all ordered wrong, and
    // its widest one (paris against rude) is the worst of all. The list holds the lowest
    // margins, ascending; which pairs follow depends on how well the model learned.
    assert_eq!(rep.by_source["test/reversed"].right, 0);
    assert_eq!(rep.worst.len(), 3);
    assert!(rep.worst.windows(2).all(|w| w[0].margin <= w[1].margin));
    assert_eq!(
        (
            rep.worst[0].ranks.as_str(),
            rep.worst[0].source.as_str(),
            rep.worst[0].better.as_str(),
            rep.worst[0].worse.as_str()
        ),
        ("1>3", "test/reversed", "the rude rude", "the paris")
    );
    assert!(rep.worst.iter().all(|e| e.margin < 0.0));

    // Exact resume: 15 steps + 25 resumed == 40 straight.
    reward::run(&rm_args(&root, "split", &["--stop-after", "15"])).unwrap();
    reward::run(&rm_args(&root, "split", &["--resume"])).unwrap();
    for f in ["model.safetensors", "optimizer.safetensors"] {
        let x = std::fs::read(root.join("rm/checkpoint").join(f)).unwrap();
        let y = std::fs::read(root.join("split/checkpoint").join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between the straight and the resumed run"
        );
    }

    // The model's own samples ranked by the checkers: every pair is (passes, fails); with
    // --self-samples they join the training rankings and a tenth of the prompts is held out.
    let check = tinychat::train::checkers::Check::contains_any(&WORDS[..9]);
    let prompts: Vec<PpoPrompt> = (0..12)
        .map(|i| PpoPrompt {
            prompt: format!("what is {} plus five", WORDS[i % 8]),
            check: (i % 4 != 3).then(|| check.clone()),
            meta: Some(
                serde_json::json!({"source": if i % 2 == 0 { "computed/add" } else { "quiz/x" }}),
            ),
        })
        .collect();
    assert!(source_matches(&prompts[0], "computed") && !source_matches(&prompts[1], "computed"));
    assert!(source_matches(&prompts[1], "") && source_matches(&prompts[1], "a, quiz"));
    let lm = load_model(&root.join("pre/checkpoint")).unwrap();
    let (pairs, st) = self_rankings(&lm, &prompts, 6, 6, 1).unwrap();
    println!("own samples: {st:?}");
    assert_eq!(st.prompts, 9, "prompts without a check are skipped");
    assert_eq!(st.samples, 54);
    assert_eq!(st.pairs, pairs.len());
    assert!(
        !pairs.is_empty(),
        "a random model says one of the words sometimes: {st:?}"
    );
    for r in &pairs {
        assert_eq!(r.responses.len(), 2);
        assert!(tinychat::train::checkers::check(&r.responses[0], &check));
        assert!(!tinychat::train::checkers::check(&r.responses[1], &check));
    }
    let lines: String = prompts
        .iter()
        .map(|p| format!("{}\n", serde_json::to_string(p).unwrap()))
        .collect();
    std::fs::write(sft.join("ppo_prompts.jsonl"), lines).unwrap();
    let own = reward::run(&rm_args(
        &root,
        "own",
        &["--self-samples", "6", "--self-prompts", "12"],
    ))
    .unwrap();
    println!("{own:?}");
    // The pairs join the 60 constructed rankings, or are counted as skipped when the ChatML
    // conversation does not fit this model's context of 32 tokens.
    assert!(
        own.train_prompts + own.skipped > 60,
        "the own-sample pairs are neither used nor counted: {own:?}"
    );

    // Bad rankings: fewer than two responses, duplicates — errors naming file and line.
    for (bad, what) in [
        (r#"{"prompt": "q", "responses": ["only one"]}"#, "two"),
        (
            r#"{"prompt": "q", "responses": ["same", "same"]}"#,
            "duplicate",
        ),
    ] {
        std::fs::write(
            sft.join("ranked_train.jsonl"),
            format!("{}{bad}\n", ranked(1, 3)),
        )
        .unwrap();
        let err = reward::run(&rm_args(&root, "bad", &[]))
            .unwrap_err()
            .to_string();
        println!("{err}");
        assert!(err.contains("ranked_train.jsonl:2"), "{err}");
        assert!(err.to_lowercase().contains(what), "{err}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
