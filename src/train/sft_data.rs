//! Fine-tuning data: SFT conversations, ranked answers for the reward model, PPO prompts, and the
//! held-out evaluation set — made deterministically from three sources.
//!
//! | source | what it gives | licence |
//! | --- | --- | --- |
//! | PyPI `chatterbot-corpus` (english/*.yml) | chit-chat conversations | BSD-3-Clause |
//! | Debian `bsdgames` quiz tables | facts (capitals, elements, presidents, …) phrased through question templates | BSD-3-Clause |
//! | this module ([`computed`]) | questions whose answers code computes: arithmetic, counting, ordering, dates, comparisons | MIT OR Apache-2.0 |
//!
//! Output files (all JSONL, one object per line), written by [`build_sft_data`]:
//!
//! - `sft_train.jsonl`, `sft_eval.jsonl`: `{"messages": [{"role": "user", …}, {"role":
//!   "assistant", …}], "check": {"kind": "exact"|"number"|"contains_any", "answers": […]},
//!   "meta": {…}}` — `check` only on checkable items; `meta` names the source and template.
//! - `ranked_train.jsonl`, `ranked_eval.jsonl`: `{"prompt": …, "responses": [best, …, worst]}`.
//! - `ppo_prompts.jsonl`: `{"prompt": …, "check": …}`, none of them an evaluation prompt.
//! - `manifest.json`: sources with licences and versions, counts, the held-out entities and
//!   templates ([`Manifest`]).
//!
//! **Held out for evaluation.** Whole entities (about 15% of countries, elements, presidents, …,
//! chosen by a seeded hash of the entity's name, so "Armenia" is held out in the Asian and the
//! European table alike) and one whole question template per relation or task never appear in
//! the training files: an evaluation item either asks about a held-out entity or uses a held-out
//! phrasing. For computed questions the "entity" is the operands ("add 37 41", the word counted).
//!
//! **Rankings are constructed, not collected.** No ranked-answer data set exists in the package
//! registries, so every ranking is built from rules whose order is known:
//! correct and complete > correct but terse > plausible but wrong > off-topic > rude
//! (see [`ranked`]). A reward model trained on these files learns these rules and nothing more;
//! rankings of the SFT model's own samples by the exact checkers ([`crate::train::checkers`]) can
//! be added to the same format.

mod chatterbot;
mod computed;
mod formats;
mod quiz;
mod ranked;

pub use chatterbot::{
    fetch_chatterbot, parse_chatterbot_yaml, ChatterbotFile, Fetched,
    SAMPLE_YAML as CHATTERBOT_SAMPLE_YAML,
};
pub use computed::computed_items;
pub use formats::{
    line_error, read_ppo_jsonl, read_ranked_jsonl, read_sft_jsonl, PpoPrompt, RankedExample,
    SftExample,
};
pub use quiz::{fetch_bsdgames, parse_quiz_table, QuizPattern, QuizRow};
pub use ranked::{pairs_by_check, rank_responses, RUDE};

use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::tokenizer::Message;
use crate::train::checkers::Check;
use formats::write_jsonl;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The seed `tinychat data prepare` uses.
pub const DEFAULT_SEED: u64 = 0;

/// Fraction of entities (countries, elements, operand tuples, chatterbot prompts) held out.
pub const HELD_OUT_FRACTION: f64 = 0.15;

/// One question with its answers, before the train/eval split.
#[derive(Clone, Debug, PartialEq)]
pub struct QaItem {
    /// "quiz/capital", "computed/add", "chatterbot/greetings".
    pub source: String,
    /// The question template: "capital#2", "add#0"; for chatterbot the file.
    pub template: String,
    /// This template is reserved for evaluation.
    pub template_held_out: bool,
    /// The entities the item is about (held out if any of them is).
    pub entities: Vec<String>,
    /// The conversation: alternating user/assistant turns, ending with the assistant.
    pub messages: Vec<Message>,
    /// The last answer, correct but terse ("Paris."); `None` when there is no such thing (chit-chat).
    pub terse: Option<String>,
    /// A plausible but wrong answer, as complete as the right one.
    pub wrong: Option<String>,
    pub check: Option<Check>,
}

impl QaItem {
    /// The user's question (the last user turn).
    pub fn prompt(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }
    /// The reference answer (the last assistant turn).
    pub fn answer(&self) -> &str {
        self.messages
            .last()
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }
}

/// Which split an item belongs to, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    /// Asks about a held-out entity.
    EvalEntity,
    /// Uses a held-out question template.
    EvalTemplate,
}

/// Deterministic hold-out decisions, shared by every generator.
#[derive(Clone, Debug)]
pub struct HoldOut {
    pub seed: u64,
    pub fraction: f64,
}

impl HoldOut {
    pub fn new(seed: u64) -> Self {
        HoldOut {
            seed,
            fraction: HELD_OUT_FRACTION,
        }
    }
    /// Is this entity held out? A seeded hash of its normalised name, so the same name gets the
    /// same answer in every table and on every platform.
    pub fn entity(&self, key: &str) -> bool {
        let h = fnv1a(self.seed, crate::train::checkers::normalize(key).as_bytes());
        (h >> 11) as f64 / (1u64 << 53) as f64 <= self.fraction
    }
    pub fn split(&self, item: &QaItem) -> Split {
        if item.entities.iter().any(|e| self.entity(e)) {
            Split::EvalEntity
        } else if item.template_held_out {
            Split::EvalTemplate
        } else {
            Split::Train
        }
    }
}

/// 64-bit FNV-1a of the seed's bytes then `bytes`: a stable hash (std's hasher is not).
pub fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.to_le_bytes().iter().chain(bytes) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An RNG for one named purpose, so adding a generator never shifts another one's stream.
pub fn rng_for(seed: u64, purpose: &str) -> Rng {
    Rng::new(fnv1a(seed, purpose.as_bytes()))
}

/// Uniform integer in `lo..=hi`.
pub fn pick_range(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    lo + (rng.next_u64() % (hi - lo + 1) as u64) as i64
}

/// Uniform index into a slice of length `n` (> 0).
pub fn pick(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

// ---------------------------------------------------------------------------------------------
// Building the files

/// Where the sources are on disk; `None` leaves a source out (it is then recorded as skipped).
#[derive(Clone, Debug, Default)]
pub struct SftSources {
    /// chatterbot-corpus's `data/english` directory.
    pub chatterbot_dir: Option<PathBuf>,
    /// bsdgames's `quiz` directory.
    pub quiz_dir: Option<PathBuf>,
    /// Package versions, for the manifest.
    pub chatterbot_version: Option<String>,
    pub bsdgames_version: Option<String>,
}

/// How many items each generator makes. `Default` is what `tinychat data prepare` writes.
#[derive(Clone, Debug)]
pub struct SftDataConfig {
    /// Computed questions per task for training, and per task for evaluation.
    pub computed_train_per_task: usize,
    pub computed_eval_per_task: usize,
    /// Computed PPO prompts per task (fresh operands, never held out).
    pub computed_ppo_per_task: usize,
    /// Of the training-entity items asked in a held-out template, one in this many goes to eval.
    pub template_eval_every: usize,
    /// Cap on chit-chat items in the evaluation files.
    pub chatterbot_eval_max: usize,
    /// Ranked prompts: computed ones per task.
    pub ranked_computed_per_task: usize,
    /// Ranked prompts: chit-chat ones at most.
    pub ranked_chatterbot_max: usize,
}

impl Default for SftDataConfig {
    fn default() -> Self {
        SftDataConfig {
            computed_train_per_task: 2000,
            computed_eval_per_task: 30,
            computed_ppo_per_task: 200,
            template_eval_every: 4,
            chatterbot_eval_max: 120,
            ranked_computed_per_task: 240,
            ranked_chatterbot_max: 600,
        }
    }
}

/// What was written, from where, under which licence, and what was held out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    pub held_out_fraction: f64,
    pub sources: Vec<SourceInfo>,
    /// Conversations per source (train + eval), e.g. "quiz/capital".
    pub conversations_per_source: BTreeMap<String, usize>,
    pub sft_train: usize,
    pub sft_eval: usize,
    /// Eval items that carry a "check".
    pub sft_eval_checkable: usize,
    pub ranked_train: usize,
    pub ranked_eval: usize,
    pub ppo_prompts: usize,
    /// Entities held out, per source.
    pub held_out_entities: BTreeMap<String, Vec<String>>,
    /// Question templates held out, as "source#index: text".
    pub held_out_templates: Vec<String>,
    /// Relative paths of the files written.
    pub files: Vec<String>,
}

impl Manifest {
    /// One line for the console: "8272 SFT conversations (925 eval, 805 checkable), …".
    pub fn summary(&self) -> String {
        format!(
            "{} SFT conversations ({} eval, {} checkable), {} ranked prompts ({} eval), {} PPO prompts",
            self.sft_train + self.sft_eval,
            self.sft_eval,
            self.sft_eval_checkable,
            self.ranked_train + self.ranked_eval,
            self.ranked_eval,
            self.ppo_prompts
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub name: String,
    /// "pypi:chatterbot-corpus", "debian:bsdgames", "generated".
    pub package: String,
    pub version: Option<String>,
    pub licence: String,
    /// Conversations it gave (train + eval).
    pub conversations: usize,
    /// Why it is missing, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Fetches the sources into `cache_dir` (idempotent: a fetched source is reused) and writes the
/// fine-tuning files into `out_dir`. Same seed and sources, same bytes. A source that cannot be
/// fetched is left out with a warning and marked `skipped` in the manifest.
pub fn prepare_sft_data(cache_dir: &Path, out_dir: &Path, seed: u64) -> Result<Manifest> {
    // A source that cannot be fetched (no network, no pip or apt-get) is skipped with a warning
    // and recorded in the manifest; the computed questions need nothing.
    let mut skipped = Vec::new();
    let mut sources = SftSources::default();
    match fetch_chatterbot(cache_dir) {
        Ok(f) => {
            sources.chatterbot_dir = Some(f.dir);
            sources.chatterbot_version = Some(f.version);
        }
        Err(e) => skipped.push(("chatterbot-corpus", e.to_string())),
    }
    match fetch_bsdgames(cache_dir) {
        Ok(f) => {
            sources.quiz_dir = Some(f.dir);
            sources.bsdgames_version = Some(f.version);
        }
        Err(e) => skipped.push(("bsdgames quiz", e.to_string())),
    }
    let mut manifest = build_sft_data(&sources, out_dir, seed, &SftDataConfig::default())?;
    if !skipped.is_empty() {
        for (name, why) in &skipped {
            eprintln!("warning: fine-tuning data without {name}: {why}");
            if let Some(info) = manifest.sources.iter_mut().find(|s| s.name == *name) {
                info.skipped = Some(format!("fetch failed: {why}"));
            }
        }
        let value = serde_json::to_value(&manifest).expect("the manifest always serialises");
        crate::io::write_json_atomic(&out_dir.join("manifest.json"), &value)?;
    }
    Ok(manifest)
}

/// Writes the small built-in samples of both sources (a few chatterbot conversations, a few
/// lines of each quiz table) under `dir` and returns them as sources: what tests and offline
/// builds use in place of the fetched packages.
pub fn write_builtin_sample(dir: &Path) -> Result<SftSources> {
    let chat = dir.join("chatterbot");
    let quiz_dir = dir.join("quiz");
    for d in [&chat, &quiz_dir] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    crate::io::write_atomic(&chat.join("sample.yml"), chatterbot::SAMPLE_YAML.as_bytes())?;
    for (name, text) in quiz::SAMPLE_TABLES {
        crate::io::write_atomic(&quiz_dir.join(name), text.as_bytes())?;
    }
    Ok(SftSources {
        chatterbot_dir: Some(chat),
        quiz_dir: Some(quiz_dir),
        chatterbot_version: Some("built-in sample".into()),
        bsdgames_version: Some("built-in sample".into()),
    })
}

/// Generates every item of every available source (before the split).
pub fn generate_items(sources: &SftSources, seed: u64) -> Result<(Vec<QaItem>, Vec<SourceInfo>)> {
    let mut items = Vec::new();
    let mut infos = Vec::new();

    let mut info = SourceInfo {
        name: "chatterbot-corpus".into(),
        package: "pypi:chatterbot-corpus".into(),
        version: sources.chatterbot_version.clone(),
        licence: "BSD-3-Clause".into(),
        ..Default::default()
    };
    match &sources.chatterbot_dir {
        Some(dir) => {
            let got = chatterbot::chatterbot_items(dir)?;
            info.conversations = got.len();
            items.extend(got);
        }
        None => info.skipped = Some("not fetched".into()),
    }
    infos.push(info);

    let mut info = SourceInfo {
        name: "bsdgames quiz".into(),
        package: "debian:bsdgames".into(),
        version: sources.bsdgames_version.clone(),
        licence: "BSD-3-Clause (University of California; see usr/share/doc/bsdgames/copyright)"
            .into(),
        ..Default::default()
    };
    match &sources.quiz_dir {
        Some(dir) => {
            let got = quiz::quiz_items(dir, seed)?;
            info.conversations = got.len();
            items.extend(got);
        }
        None => info.skipped = Some("not fetched".into()),
    }
    infos.push(info);
    Ok((items, infos))
}

fn meta(item: &QaItem, split: Split) -> Value {
    let mut m = json!({"source": item.source, "template": item.template});
    match split {
        Split::Train => {}
        Split::EvalEntity => m["held_out"] = json!("entity"),
        Split::EvalTemplate => m["held_out"] = json!("template"),
    }
    m
}

fn sft_example(item: &QaItem, split: Split) -> SftExample {
    SftExample {
        messages: item.messages.clone(),
        check: item.check.clone(),
        meta: Some(meta(item, split)),
    }
}

/// An item with the split it went to.
type Labeled = (QaItem, Split);

/// Splits the sourced items. Held-out entities go to eval (one item per entity and relation, in a
/// seeded template); training entities asked in a held-out template go to eval one in
/// `template_eval_every`; everything else trains. Returns (train, eval).
fn split_items(
    items: Vec<QaItem>,
    hold: &HoldOut,
    seed: u64,
    config: &SftDataConfig,
) -> (Vec<Labeled>, Vec<Labeled>) {
    let mut train: Vec<(QaItem, Split)> = Vec::new();
    let mut eval: Vec<(QaItem, Split)> = Vec::new();
    let mut by_entity: BTreeMap<(String, Vec<String>), Vec<QaItem>> = BTreeMap::new();
    let mut rng = rng_for(seed, "split");
    let mut chatterbot_eval = 0;
    for item in items {
        let split = hold.split(&item);
        match split {
            Split::Train => train.push((item, split)),
            Split::EvalEntity if item.source.starts_with("chatterbot") => {
                if chatterbot_eval < config.chatterbot_eval_max {
                    chatterbot_eval += 1;
                    eval.push((item, split));
                }
            }
            Split::EvalEntity => by_entity
                .entry((item.source.clone(), item.entities.clone()))
                .or_default()
                .push(item),
            Split::EvalTemplate => {
                if pick(&mut rng, config.template_eval_every.max(1)) == 0 {
                    eval.push((item, split));
                }
            }
        }
    }
    // one question per held-out entity and relation, in a seeded template
    for (_, mut group) in by_entity {
        let k = pick(&mut rng, group.len());
        eval.push((group.swap_remove(k), Split::EvalEntity));
    }
    (train, eval)
}

/// PPO prompts: training prompts (single-turn, not computed) plus fresh computed ones, minus
/// anything asked in eval, each once.
fn ppo_prompts(
    train: &[(QaItem, Split)],
    eval: &[(QaItem, Split)],
    computed_ppo: &[QaItem],
) -> Vec<PpoPrompt> {
    let eval_prompts: BTreeSet<&str> = eval.iter().map(|(i, _)| i.prompt()).collect();
    let mut ppo = Vec::new();
    let mut ppo_seen = BTreeSet::new();
    let ppo_sources = train
        .iter()
        .map(|(i, _)| i)
        // single-turn only: the last line of a multi-turn chat means little without the rest
        .filter(|i| !i.source.starts_with("computed") && i.messages.len() == 2)
        .chain(computed_ppo);
    for item in ppo_sources {
        let p = item.prompt();
        if eval_prompts.contains(p) || !ppo_seen.insert(p.to_string()) {
            continue;
        }
        ppo.push(PpoPrompt {
            prompt: p.to_string(),
            check: item.check.clone(),
            meta: Some(json!({"source": item.source, "template": item.template})),
        });
    }
    ppo
}

/// Splits, ranks and writes everything; returns the manifest (also written as manifest.json).
pub fn build_sft_data(
    sources: &SftSources,
    out_dir: &Path,
    seed: u64,
    config: &SftDataConfig,
) -> Result<Manifest> {
    let hold = HoldOut::new(seed);
    let (items, infos) = generate_items(sources, seed)?;
    let computed = computed_items(seed, config);

    let mut manifest = Manifest {
        seed,
        held_out_fraction: hold.fraction,
        sources: infos,
        ..Default::default()
    };
    manifest.sources.push(SourceInfo {
        name: "computed questions".into(),
        package: "generated".into(),
        version: None,
        licence: "MIT OR Apache-2.0".into(),
        conversations: computed.train.len() + computed.eval.len(),
        skipped: None,
    });

    let (mut train, mut eval) = split_items(items, &hold, seed, config);
    for item in computed.train {
        train.push((item, Split::Train));
    }
    for (item, split) in computed.eval {
        eval.push((item, split));
    }

    for (item, _) in train.iter().chain(eval.iter()) {
        *manifest
            .conversations_per_source
            .entry(item.source.clone())
            .or_default() += 1;
    }
    for (item, split) in &eval {
        if *split == Split::EvalEntity {
            for e in &item.entities {
                if hold.entity(e) {
                    let list = manifest
                        .held_out_entities
                        .entry(item.source.clone())
                        .or_default();
                    if !list.contains(e) {
                        list.push(e.clone());
                    }
                }
            }
        }
    }
    for list in manifest.held_out_entities.values_mut() {
        list.sort();
    }
    manifest.held_out_templates = quiz::held_out_templates()
        .into_iter()
        .chain(computed::held_out_templates())
        .collect();

    // Rankings: from the training side for ranked_train (so no held-out entity leaks in as a
    // "wrong" answer), from everything for ranked_eval.
    let train_items: Vec<&QaItem> = train.iter().map(|(i, _)| i).collect();
    let eval_items: Vec<&QaItem> = eval.iter().map(|(i, _)| i).collect();
    let all_items: Vec<&QaItem> = train_items
        .iter()
        .chain(eval_items.iter())
        .copied()
        .collect();
    let ranked_train = ranked::build_rankings(&train_items, &train_items, seed, "train", config);
    let ranked_eval = ranked::build_rankings(&eval_items, &all_items, seed, "eval", config);

    let ppo = ppo_prompts(&train, &eval, &computed.ppo);

    let sft_train: Vec<SftExample> = train.iter().map(|(i, s)| sft_example(i, *s)).collect();
    let sft_eval: Vec<SftExample> = eval.iter().map(|(i, s)| sft_example(i, *s)).collect();
    manifest.sft_train = sft_train.len();
    manifest.sft_eval = sft_eval.len();
    manifest.sft_eval_checkable = sft_eval.iter().filter(|e| e.check.is_some()).count();
    manifest.ranked_train = ranked_train.len();
    manifest.ranked_eval = ranked_eval.len();
    manifest.ppo_prompts = ppo.len();

    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    write_jsonl(&out_dir.join("sft_train.jsonl"), &sft_train)?;
    write_jsonl(&out_dir.join("sft_eval.jsonl"), &sft_eval)?;
    write_jsonl(&out_dir.join("ranked_train.jsonl"), &ranked_train)?;
    write_jsonl(&out_dir.join("ranked_eval.jsonl"), &ranked_eval)?;
    write_jsonl(&out_dir.join("ppo_prompts.jsonl"), &ppo)?;
    for name in [
        "sft_train.jsonl",
        "sft_eval.jsonl",
        "ranked_train.jsonl",
        "ranked_eval.jsonl",
        "ppo_prompts.jsonl",
    ] {
        manifest.files.push(name.to_string());
    }
    manifest.files.push("manifest.json".into());
    let value = serde_json::to_value(&manifest).expect("the manifest always serialises");
    crate::io::write_json_atomic(&out_dir.join("manifest.json"), &value)?;
    Ok(manifest)
}

/// Capitalises the first letter: templates may start with an entity written in lower case.
pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
