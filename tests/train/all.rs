//! `tinychat train all --preset smoke` end to end on data made offline (a small corpus, the
//! computed fine-tuning questions, the moderation templates): every stage runs, the bundle loads
//! through the pipeline loader and answers, a rerun skips every stage, `--from` redoes the stages
//! from the named one on, and a bundle is replaced only by a complete one.
#![cfg(feature = "train")]

use crate::common;

use std::path::{Path, PathBuf};
use tinychat::generate::SamplingParams;
use tinychat::pipeline::{Pipeline, Route};
use tinychat::tokenizer::template::Message;
use tinychat::train::all::{self, AllOptions, AllPreset, Stages, STAGES};
use tinychat::train::moderation_data::{prepare as prepare_moderation, PrepareOptions};
use tinychat::train::sft_data::{build_sft_data, SftDataConfig, SftSources};

fn tmp(name: &str) -> PathBuf {
    common::temp_dir(name)
}

/// data/{corpus,sft,moderation} as `tinychat data prepare` lays them out, made without a network.
fn make_data(root: &Path) -> PathBuf {
    let words = [
        "the", "whale", "ship", "sea", "captain", "sailed", "over", "a", "dark", "night", "and",
        "saw", "land", "of", "men", "what", "is", "two", "plus", "three",
    ];
    let data = root.join("data");
    common::train::random_corpus(root, &data.join("corpus"), &words, 5, (40, 60), ".");
    build_sft_data(
        &SftSources::default(),
        &data.join("sft"),
        7,
        &SftDataConfig::default(),
    )
    .unwrap();
    let mut opts = PrepareOptions::new(&root.join("empty-cache"), &data.join("moderation"), 7);
    opts.fetch = false;
    opts.per_group = 40;
    opts.benign_templates = 400;
    prepare_moderation(&opts).unwrap();
    data
}

fn args(root: &Path, data: &Path) -> AllOptions {
    AllOptions {
        preset: AllPreset::Smoke,
        data: data.to_path_buf(),
        out: root.join("runs"),
        bundle: root.join("bundle"),
        from: None,
        until: None,
        bundle_dtype: "f16".into(),
        quiet: true,
    }
}

#[test]
fn every_stage_runs_and_the_bundle_answers_then_reruns_skip_and_from_redoes() {
    let root = tmp("train-all");
    let data = make_data(&root);
    let a = args(&root, &data);

    // Up to the reward model only: later stages are not recorded, no bundle yet.
    let partial = all::run(&AllOptions {
        until: Some("reward".into()),
        ..a.clone()
    })
    .unwrap();
    let done: Vec<&str> = partial.done.keys().map(|s| s.as_str()).collect();
    for s in ["data", "tokenizer", "pretrain", "sft", "reward"] {
        assert!(done.contains(&s), "{s} missing from {done:?}");
    }
    assert!(!done.contains(&"ppo"));
    assert!(!a.bundle.exists());

    // The rest; the finished stages are skipped (their records keep their first wall time).
    let sft_wall = partial.done["sft"].wall_s;
    let stages = all::run(&a).unwrap();
    assert_eq!(stages.done.len(), STAGES.len(), "{:?}", stages.done.keys());
    // (read back from stages.json: serde_json's default float parser may differ in the last bit)
    let kept = stages.done["sft"].wall_s;
    assert!((kept - sft_wall).abs() < 1e-9, "{kept} vs {sft_wall}");
    assert_eq!(Stages::load(&a.out).unwrap().done.len(), STAGES.len());
    for f in [
        "pipeline.json",
        "provenance.json",
        "chat/config.json",
        "chat/model.safetensors",
        "chat/tokenizer.json",
        "chat/tokenizer_config.json",
        "moderator/config.json",
        "moderator/model.safetensors",
        "moderator/thresholds.json",
        "moderator/tokenizer.json",
    ] {
        assert!(a.bundle.join(f).is_file(), "bundle lacks {f}");
    }
    assert!(!a.bundle.join("chat/optimizer.safetensors").exists());
    assert!(!a.bundle.join("chat/trainer_state.json").exists());
    for f in [
        "chat-sft-vs-pretrain.json",
        "chat-ppo-vs-sft.json",
        "reward.json",
        "moderation.json",
    ] {
        assert!(a.out.join("eval").join(f).is_file(), "eval lacks {f}");
    }
    // PPO against SFT also as the chat model answers by default: sampled by its
    // generation_config.json, 8 answers per item, each counted.
    let sampled: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(a.out.join("eval/chat-ppo-vs-sft-sampled.json")).unwrap(),
    )
    .unwrap();
    assert!(
        sampled["decoding"]
            .as_str()
            .unwrap()
            .starts_with("sampled: temperature 0.8, top-k 50"),
        "{sampled}"
    );
    assert_eq!(
        sampled["answers"].as_u64().unwrap(),
        8 * sampled["items"].as_u64().unwrap()
    );

    // The bundle loads as the CLI loads it and answers a prompt through the seven steps.
    let pipe = Pipeline::load(&a.bundle).unwrap();
    let msgs = vec![Message {
        role: "user".into(),
        content: "What is two plus three?".into(),
    }];
    let params = SamplingParams {
        max_new_tokens: 6,
        ..SamplingParams::default()
    };
    let reply = pipe.reply(&msgs, &params, |_| {}).unwrap();
    assert!(
        matches!(
            reply.route,
            Route::Model | Route::InputFlagged | Route::OutputFlagged
        ) && !reply.text.is_empty()
    );

    // A stage missing from stages.json whose run has a checkpoint (an interrupted stage) is
    // resumed, not started again: its run directory stays.
    let mut st = Stages::load(&a.out).unwrap();
    st.done.remove("reward");
    std::fs::write(
        a.out.join("stages.json"),
        serde_json::to_string(&st).unwrap(),
    )
    .unwrap();
    std::fs::write(a.out.join("reward").join("resumed"), "").unwrap();
    let resumed = all::run(&a).unwrap();
    assert!(resumed.done.contains_key("reward"));
    assert!(a.out.join("reward").join("resumed").exists());

    // A rerun does nothing; --from ppo redoes ppo, moderation, bundle and eval only.
    let before = std::fs::read(a.bundle.join("chat/model.safetensors")).unwrap();
    let provenance = std::fs::read_to_string(a.bundle.join("provenance.json")).unwrap();
    std::fs::write(a.out.join("ppo").join("marker"), "").unwrap();
    std::fs::write(a.out.join("reward").join("marker"), "").unwrap();
    let again = all::run(&a).unwrap();
    assert_eq!(again.done["ppo"].finished, stages.done["ppo"].finished);
    assert!(a.out.join("ppo").join("marker").exists());
    let redo = all::run(&AllOptions {
        from: Some("ppo".into()),
        ..a.clone()
    })
    .unwrap();
    assert_eq!(
        redo.done["reward"].finished,
        resumed.done["reward"].finished
    );
    assert!(a.out.join("reward").join("marker").exists());
    assert!(
        !a.out.join("ppo").join("marker").exists(),
        "ppo was not redone"
    );
    assert_eq!(redo.done.len(), STAGES.len());
    assert_ne!(
        std::fs::read_to_string(a.bundle.join("provenance.json")).unwrap(),
        provenance,
        "the bundle was written again"
    );
    // Same seeds, same stages: the redone policy is the same model.
    assert_eq!(
        std::fs::read(a.bundle.join("chat/model.safetensors")).unwrap(),
        before
    );

    // A bundle path that would replace the runs, or a directory that is not a bundle, is refused
    // before anything runs.
    for bundle in [a.out.clone(), root.clone(), data.join("sft")] {
        let e = all::run(&AllOptions {
            bundle: bundle.clone(),
            ..a.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--bundle"), "{e}");
    }
    assert!(a.out.join("stages.json").is_file() && data.join("sft").is_dir());

    // Another preset in the same --out is refused, naming the one there.
    let e = all::run(&AllOptions {
        preset: AllPreset::Tiny,
        ..a.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("--preset smoke"), "{e}");

    // A bundle write that fails (the moderator is missing) leaves the old bundle as it was.
    let e = tinychat::train::bundle::write_bundle(
        &a.out.join("ppo").join("checkpoint"),
        &root.join("no-such-moderator"),
        &a.bundle,
        tinychat::weights::DType::F16,
        &stages,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no-such-moderator"), "{e}");
    assert_eq!(
        std::fs::read(a.bundle.join("chat/model.safetensors")).unwrap(),
        before
    );
    Pipeline::load(&a.bundle).unwrap();
}

/// The library's options are the commands' flags: parsed from no flags (but the required ones),
/// each command gives its options' `Default`, so `train all`, which starts every stage from the
/// defaults, runs what the subcommand runs.
#[test]
fn every_command_without_flags_gives_the_default_options() {
    use crate::{data_cli::DataCommand, eval_cli::EvalCommand, train_cli::TrainCommand};
    use clap::Parser;
    use tinychat::train::eval::{chat, moderation, reward};
    use tinychat::train::{data, ppo, pretrain, sft, tokenizer_train};

    #[derive(Parser)]
    #[allow(clippy::large_enum_variant)] // parsed once
    enum Cli {
        #[command(subcommand)]
        Train(TrainCommand),
        #[command(subcommand)]
        Eval(EvalCommand),
        #[command(subcommand)]
        Data(DataCommand),
    }
    let parse = |argv: &str| Cli::parse_from(std::iter::once("x").chain(argv.split(' ')));
    for argv in [
        "train tokenizer",
        "train pretrain",
        "train sft",
        "train reward",
        "train ppo",
        "train moderation",
        "train all",
        "eval chat --model m",
        "eval reward --model m",
        "eval moderation --model m",
        "data prepare",
    ] {
        let same = match parse(argv) {
            Cli::Train(TrainCommand::Tokenizer(a)) => {
                tokenizer_train::TokenizerOptions::from(a) == Default::default()
            }
            Cli::Train(TrainCommand::Pretrain(a)) => {
                pretrain::PretrainOptions::from(a) == Default::default()
            }
            Cli::Train(TrainCommand::Sft(a)) => sft::SftOptions::from(a) == Default::default(),
            Cli::Train(TrainCommand::Reward(a)) => {
                tinychat::train::reward::RewardOptions::from(a) == Default::default()
            }
            Cli::Train(TrainCommand::Ppo(a)) => ppo::PpoOptions::from(a) == Default::default(),
            Cli::Train(TrainCommand::Moderation(a)) => {
                tinychat::train::moderation::ModerationOptions::from(a) == Default::default()
            }
            Cli::Train(TrainCommand::All(a)) => AllOptions::from(a) == Default::default(),
            Cli::Eval(EvalCommand::Chat(a)) => {
                chat::EvalChatOptions::from(a) == chat::EvalChatOptions::new("m")
            }
            Cli::Eval(EvalCommand::Reward(a)) => {
                reward::EvalRewardOptions::from(a) == reward::EvalRewardOptions::new("m")
            }
            Cli::Eval(EvalCommand::Moderation(a)) => {
                moderation::EvalModerationOptions::from(a)
                    == moderation::EvalModerationOptions {
                        model: "m".into(),
                        ..Default::default()
                    }
            }
            Cli::Data(DataCommand::Prepare(a)) => {
                data::CorpusOptions::from(a) == Default::default()
            }
        };
        assert!(
            same,
            "tinychat {argv}: the flags' defaults differ from the options' Default"
        );
    }
}

/// The command line `train all` prints and records for a stage runs that stage: parsed by the
/// subcommand, it gives the very options the stage ran with, under every preset.
#[test]
fn the_recorded_command_of_every_stage_parses_back_to_its_options() {
    use crate::train_cli::TrainCommand;
    use all::StageOptions;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        c: TrainCommand,
    }
    for preset in [AllPreset::Tiny, AllPreset::Small, AllPreset::Smoke] {
        let a = AllOptions {
            preset,
            data: "/d/data".into(),
            out: "/d/runs".into(),
            bundle: "/d/bundle".into(),
            quiet: true,
            ..Default::default()
        };
        for stage in STAGES {
            let Some(o) = StageOptions::of(&a, stage) else {
                continue;
            };
            let command = o.command();
            let argv = command.split(' ').skip(2);
            let parsed = match Cli::parse_from(std::iter::once("x").chain(argv)).c {
                TrainCommand::Tokenizer(a) => StageOptions::Tokenizer(a.into()),
                TrainCommand::Pretrain(a) => StageOptions::Pretrain(a.into()),
                TrainCommand::Sft(a) => StageOptions::Sft(a.into()),
                TrainCommand::Reward(a) => StageOptions::Reward(a.into()),
                TrainCommand::Ppo(a) => StageOptions::Ppo(a.into()),
                TrainCommand::Moderation(a) => StageOptions::Moderation(a.into()),
                TrainCommand::All(_) => unreachable!("{command}"),
            };
            assert_eq!(parsed, o, "{}: {command}", preset.name());
        }
    }
}

#[test]
fn every_numeric_training_flag_has_a_range() {
    // The reproducers: --save-every 0 and --eval-every 0 divided by zero, --lr nan made
    // an all-NaN checkpoint with exit status 0, --lr=-1 was accepted. Each is a usage error now
    // (clap's: exit status 2), naming the flag and the range.
    use crate::data_cli::DataCommand;
    use crate::eval_cli::EvalCommand;
    use crate::train_cli::TrainCommand;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[allow(clippy::large_enum_variant)] // parsed once
    enum Cli {
        #[command(subcommand)]
        Train(TrainCommand),
        #[command(subcommand)]
        Eval(EvalCommand),
        #[command(subcommand)]
        Data(DataCommand),
    }
    for (argv, flag) in [
        ("train pretrain --save-every 0", "--save-every"),
        ("train pretrain --eval-every 0", "--eval-every"),
        ("train pretrain --lr nan", "--lr"),
        ("train pretrain --lr=-1", "--lr"),
        ("train pretrain --lr inf", "--lr"),
        ("train pretrain --beta2 1", "--beta2"),
        ("train pretrain --dim 1000000", "--dim"),
        ("train pretrain --seq-len 0", "--seq-len"),
        ("train sft --eval-every 0", "--eval-every"),
        ("train sft --lr 11", "--lr"),
        ("train sft --grad-accum 0", "--grad-accum"),
        ("train reward --batch-size 0", "--batch-size"),
        ("train ppo --gamma 1.5", "--gamma"),
        ("train ppo --temperature 0", "--temperature"),
        ("train ppo --epochs 0", "--epochs"),
        ("train moderation --eval-every 0", "--eval-every"),
        ("train moderation --train-limit 0", "--train-limit"),
        ("train tokenizer --vocab-size 10", "--vocab-size"),
        ("eval chat --model m --top-p 0", "--top-p"),
        (
            "eval chat --model m --max-new-tokens 18446744073709551615",
            "--max-new-tokens",
        ),
        ("data prepare --val-percent 100", "--val-percent"),
    ] {
        let e = Cli::try_parse_from(std::iter::once("x").chain(argv.split(' ')))
            .expect_err(argv)
            .to_string();
        assert!(
            e.contains(flag) && e.contains("invalid value"),
            "{argv}: {e}"
        );
    }
    // The defaults are inside their ranges.
    for argv in [
        "train pretrain",
        "train sft",
        "train reward",
        "train ppo",
        "train moderation",
    ] {
        Cli::try_parse_from(std::iter::once("x").chain(argv.split(' '))).expect(argv);
    }
}
