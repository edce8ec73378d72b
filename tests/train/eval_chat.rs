//! `tinychat eval chat`'s bookkeeping: which held-out items it asks (checkable ones, filtered by
//! source, `--limit` spread over the file), the per-source exact match, and the win rates; and
//! greedy against sampled answers, run on the committed demo chat model.
#![cfg(feature = "train")]

use crate::common;

use tinychat::tokenizer::Message;
use tinychat::train::checkers::Check;
use tinychat::train::eval::chat::{
    answer_all, by_source, checkable, win_rate, wins_losses_ties, Answers,
};
use tinychat::train::sft_data::SftExample;

fn item(q: &str, a: &str, source: &str, check: bool) -> SftExample {
    SftExample {
        messages: vec![Message::user(q), Message::assistant(a)],
        check: check.then(|| Check::number(&[a])),
        meta: Some(serde_json::json!({"source": source})),
    }
}

#[test]
fn checkable_items_sources_and_an_evenly_spread_limit() {
    let mut items = vec![item("hi", "hello", "chatterbot/greetings", false)];
    for i in 0..6 {
        items.push(item(
            &format!("capital {i}"),
            &i.to_string(),
            "quiz/capital",
            true,
        ));
    }
    for i in 0..4 {
        items.push(item(
            &format!("{i} + 1"),
            &(i + 1).to_string(),
            "computed/add",
            true,
        ));
    }
    let all = checkable(&items, None, None);
    assert_eq!(all.len(), 10, "only items with a check");
    // The conversation stops before the answer; the question is the last user turn.
    assert_eq!(all[0].messages.len(), 1);
    assert_eq!(all[0].question(), "capital 0");
    assert_eq!(checkable(&items, None, Some("computed")).len(), 4);
    assert_eq!(checkable(&items, None, Some("computed/add")).len(), 4);
    assert!(checkable(&items, None, Some("moderation")).is_empty());
    // --limit 5 takes items 0, 2, 4, 6, 8: both sources, not the first five (all quiz).
    let some = checkable(&items, Some(5), None);
    let srcs: Vec<&str> = some.iter().map(|x| x.source.as_str()).collect();
    assert_eq!(
        srcs,
        [
            "quiz/capital",
            "quiz/capital",
            "quiz/capital",
            "computed/add",
            "computed/add"
        ]
    );
    assert_eq!(checkable(&items, Some(50), None).len(), 10);

    let ans = Answers {
        texts: vec![String::new(); 10],
        correct: (0..10).map(|i| i % 3 == 0).collect(),
        scores: vec![],
        tokens: vec![],
    };
    let g = by_source(&all, &ans);
    assert_eq!(g["quiz"], (2, 6)); // items 0, 3
    assert_eq!(g["computed"], (2, 4)); // items 6, 9
    assert!((ans.accuracy() - 0.4).abs() < 1e-12);
    assert!(ans.mean_score().is_nan());
}

#[test]
fn win_rates_count_decided_items_only() {
    let a = [true, true, false, false, true];
    let b = [false, true, true, false, false];
    let wlt = wins_losses_ties(&a, &b, |x, y| *x && !*y);
    assert_eq!(wlt, (2, 1, 2));
    assert!((win_rate(wlt) - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(win_rate((0, 0, 7)), 0.5);
    // By scores: equal scores (the same answer) are ties.
    let (x, y) = ([1.0f32, 0.5, 2.0], [0.0f32, 0.5, 3.0]);
    assert_eq!(wins_losses_ties(&x, &y, |p, q| p > q), (1, 1, 1));
}

#[derive(clap::Parser)]
struct ECli {
    #[command(flatten)]
    a: crate::eval_cli::EvalChatArgs,
}

#[test]
fn sampled_answers_count_each_sample_and_pair_both_models_on_the_same_draws() {
    use clap::Parser;
    let root = common::temp_dir("eval-sampled");
    let data = root.join("eval.jsonl");
    let mut lines = String::new();
    for (q, a, src) in [
        ("Which is greater, 41 or 17?", "41", "computed/greater"),
        ("What is 3 plus 4?", "7", "computed/add"),
        (
            "How many words are in \"red green blue\"?",
            "3",
            "computed/word_count",
        ),
    ] {
        let ex = item(q, a, src, true);
        lines.push_str(&serde_json::to_string(&ex).unwrap());
        lines.push('\n');
    }
    std::fs::write(&data, lines).unwrap();
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/web/models/default/chat");
    let d = data.display().to_string();
    let argv = |extra: &[&'static str]| {
        let mut argv = vec!["x", "--model", model, "--against", model, "--json"];
        argv.extend(["--data", d.as_str(), "--max-new-tokens", "12"]);
        argv.extend(extra);
        argv
    };
    let run = |extra: &[&'static str]| {
        tinychat::train::eval::chat::run(&ECli::parse_from(argv(extra)).a.into())
    };
    // Greedy: one answer per item.
    let g = run(&[]).unwrap();
    assert_eq!((g.items, g.answers, g.decoding.as_str()), (3, 3, "greedy"));
    // Sampled: every sample is one answer; the model against itself draws the same answers
    // (sample j of item i has the same seed for both), so every pair is a tie.
    let s = run(&["--temperature", "1.5", "--samples", "4", "--seed", "7"]).unwrap();
    assert_eq!((s.items, s.answers), (3, 12));
    assert!(s.decoding.contains("4 per item"), "{}", s.decoding);
    assert_eq!(s.checker_wins_losses_ties, Some((0, 0, 12)));
    assert_eq!(s.against_exact_match, Some(s.exact_match));
    let per: usize = s.exact_match_by_source.values().map(|(_, n)| n).sum();
    assert_eq!(per, 12, "{:?}", s.exact_match_by_source);
    // The samples of one item are different draws (each answer has its own seed), and the same
    // seeds give the same answers.
    let chat = tinychat::chat::ChatModel::load(model).unwrap();
    let one = checkable(
        &[item("What is 3 plus 4?", "7", "computed/add", true)],
        None,
        None,
    );
    let four: Vec<_> = std::iter::repeat(one[0].clone()).take(4).collect();
    let sp = tinychat::SamplingParams {
        temperature: 1.5,
        seed: 7,
        max_new_tokens: 12,
        ..Default::default()
    };
    let a = answer_all(&chat, &four, &sp).unwrap();
    assert!(a.texts.iter().any(|t| t != &a.texts[0]), "{:?}", a.texts);
    assert_eq!(answer_all(&chat, &four, &sp).unwrap().texts, a.texts);
    // Several samples of a greedy answer, or a negative temperature, are refused.
    let err = run(&["--samples", "4"]).unwrap_err().to_string();
    assert!(err.contains("--samples 4 needs --temperature"), "{err}");
    // (A negative temperature is the flag's usage error; the library refuses it too, for
    // callers that fill the options themselves.)
    let err = ECli::try_parse_from(argv(&["--temperature=-1"]))
        .err()
        .expect("--temperature=-1 is refused")
        .to_string();
    assert!(err.contains("--temperature"), "{err}");
    let mut o: tinychat::train::eval::chat::EvalChatOptions = ECli::parse_from(argv(&[])).a.into();
    o.temperature = -1.0;
    let err = tinychat::train::eval::chat::run(&o)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--temperature must be 0"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}
