//! The moderation stage's settings: its presets, what a run records, and its options.

use crate::config::Pooling;
use crate::train::settings::{Overrides, Schedule, Shape};
use crate::train::trainer::RunOptions;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// tiny: ~0.9M parameters with a 4096 vocabulary (random init), max pooling, 8000 steps with
/// word dropout 0.25; about 15 minutes on 2 cores. On the composed data set with its larger
/// pools (about 120 phrases a pool) 1500 and 4000 steps underfit (README); earlier, on the
/// template-only data, bigger models and a 10-minute pretrained trunk generalised worse.
/// small: ~3.5M parameters (random init); untuned (an estimated 10–15 minutes on 2 cores; in
/// the sweep, models this size overfit the training templates more than tiny).
pub use crate::train::settings::Preset;

/// Everything that determines a run's numbers (saved in trainer_state.json; a resume must match).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModerationSettings {
    /// Model shape (ignored with `--init`, which brings its own). T: texts are cut to their last
    /// T tokens; also the classifier's context window.
    #[serde(flatten)]
    pub shape: Shape,
    pub batch_size: usize,
    #[serde(flatten)]
    pub schedule: Schedule,
    pub seed: u64,
    /// `none`, `auto` (√(negatives/positives) per category, in [1, 10]) or a number.
    pub pos_weight: String,
    /// Word dropout: each training token is left out with this probability (regularises
    /// against memorising templates). 0 disables.
    #[serde(default)]
    pub token_dropout: f32,
    /// The pretrained model directory the trunk came from, if any.
    pub init: Option<PathBuf>,
    /// How the head reads the sequence: `last` token (transformers' default) or `max` over
    /// positions. Runs saved before the option existed were `last`.
    #[serde(default)]
    pub pooling: Pooling,
    /// Bidirectional attention in the trunk (`--bidirectional`; config.json `"is_causal":
    /// false`): every position reads the whole text. Runs saved before the option were causal.
    #[serde(default)]
    pub bidirectional: bool,
    /// Word vectors for the token embeddings (`--word-vectors`): the classifier then uses a
    /// word-level tokenizer built from them (see [`super::word_vectors`]).
    #[serde(default)]
    pub word_vectors: Option<PathBuf>,
    /// With word vectors: how many of the most frequent vector words join the vocabulary
    /// (besides every training word).
    #[serde(default)]
    pub vocab_top: usize,
    /// With word vectors: keep the rows that came from vectors fixed during training.
    #[serde(default)]
    pub freeze_word_vectors: bool,
    /// With word vectors: their standard deviation in the embedding table.
    #[serde(default)]
    pub word_vector_std: f32,
    /// With word vectors: each training token is replaced by one of its nearest vector words
    /// with this probability (`--word-swap`). 0 disables; runs saved before it had none.
    #[serde(default)]
    pub word_swap: f32,
}

/// The settings of a preset (see [`Preset`]).
pub fn preset(p: Preset) -> ModerationSettings {
    ModerationSettings {
        shape: p.pick(
            Shape::new(128, 2, 4, 2, 384, 64),
            Shape::new(256, 4, 8, 4, 768, 64),
        ),
        batch_size: 32,
        schedule: p.pick(
            Schedule::new(8000, 1e-3, 1e-4, 30, 0.1),
            Schedule::new(1000, 5e-4, 5e-5, 50, 0.1),
        ),
        seed: 1337,
        pos_weight: "auto".into(),
        token_dropout: 0.25,
        init: None,
        pooling: Pooling::Max,
        bidirectional: false,
        word_vectors: None,
        vocab_top: 0,
        freeze_word_vectors: false,
        word_vector_std: 0.0,
        word_swap: 0.0,
    }
}

/// With word vectors: the most frequent vector words in the vocabulary (`--vocab-top`).
pub const DEFAULT_VOCAB_TOP: usize = 20000;
/// With word vectors: their standard deviation in the embedding table (`--word-vector-std`).
pub const DEFAULT_WORD_VECTOR_STD: f32 = 1.0;
/// With word vectors: the word dropout unless `--token-dropout` says otherwise. With the vector
/// rows fixed, 0.1 generalised better than the BPE runs' 0.25 (and than 0) on the held-out split
/// of an earlier version of the data (README).
pub const DEFAULT_WORD_VECTOR_DROPOUT: f32 = 0.1;

/// `tinychat train moderation`, option for option (each field is named as its flag). Every
/// `None` takes the preset's value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModerationOptions {
    /// Model shape and schedule; the options below override single values. Default tiny.
    pub preset: Preset,
    /// Prepared moderation data (train.jsonl and val.jsonl, from `tinychat data prepare`).
    /// Default data/moderation.
    pub data: PathBuf,
    /// Directory with tokenizer.json, for a random init (with `init` the trunk's tokenizer is
    /// used). Default data/tokenizer.
    pub tokenizer: PathBuf,
    /// Start the trunk from a pretrained model directory (or a pretrain run directory) instead
    /// of a random init; its shape and tokenizer are used.
    pub init: Option<PathBuf>,
    pub overrides: Overrides,
    /// Weight of positive examples per category: `auto`, `none` or a number.
    pub pos_weight: Option<String>,
    /// Word dropout (0.25 in the presets, 0.1 with `word_vectors`).
    pub token_dropout: Option<f32>,
    /// How the head reads the sequence: last, max or echo_max.
    pub pooling: Option<Pooling>,
    /// Attend both ways in the trunk.
    pub bidirectional: bool,
    /// Word vectors for the token embeddings (see [`word_vectors`]), with a word-level
    /// tokenizer; the four options after it apply only with them.
    pub word_vectors: Option<PathBuf>,
    /// The most frequent vector words put in the vocabulary (default 20000).
    pub vocab_top: Option<usize>,
    /// Train the vector rows too (they are kept fixed by default).
    pub train_word_vectors: bool,
    /// Replace each training token by one of its nearest vector words with this probability
    /// (default 0).
    pub word_swap: Option<f32>,
    /// The vectors' standard deviation in the embedding table (default 1).
    pub word_vector_std: Option<f32>,
    /// Thresholds: the lowest whose validation precision reaches this (best F1 when none does).
    /// Default 0.9.
    pub target_precision: f32,
    /// Then raise the target precision of the category that flags the most benign validation
    /// texts while more than this fraction of them is flagged (1 turns the budget off). Default
    /// 0.01.
    pub max_benign_fpr: f32,
    /// Validate every this many steps (and at the end). Default 100.
    pub eval_every: usize,
    /// Most validation examples per periodic validation (all of them for calibration). Default
    /// 2048.
    pub eval_examples: usize,
    /// Also calibrate on the whole validation split every this many steps and log the macro F1
    /// the thresholds give (0, the default: only at the end).
    pub calibrate_every: usize,
    /// Run directory (default runs/moderation): checkpoint/, classifier/, metrics.jsonl,
    /// loss.png; resume; a checkpoint every 200 steps.
    pub run: RunOptions,
}

impl ModerationOptions {
    /// The preset's settings with the options that are set (and the word-vector defaults
    /// with `word_vectors`).
    pub fn settings(&self) -> ModerationSettings {
        let mut s = preset(self.preset);
        let o = &self.overrides;
        o.apply(&mut s.shape, &mut s.schedule);
        s.batch_size = o.batch_size.unwrap_or(s.batch_size);
        s.seed = o.seed.unwrap_or(s.seed);
        if let Some(v) = &self.pos_weight {
            s.pos_weight = v.clone();
        }
        s.token_dropout = self.token_dropout.unwrap_or(s.token_dropout);
        s.pooling = self.pooling.unwrap_or(s.pooling);
        s.init = self.init.clone();
        s.bidirectional |= self.bidirectional;
        // The word-vector settings stay at their zero values without vectors, as runs saved
        // before they existed have them.
        if self.word_vectors.is_some() {
            s.word_vectors = self.word_vectors.clone();
            s.vocab_top = self.vocab_top.unwrap_or(DEFAULT_VOCAB_TOP);
            s.word_vector_std = self.word_vector_std.unwrap_or(DEFAULT_WORD_VECTOR_STD);
            s.freeze_word_vectors = !self.train_word_vectors;
            s.word_swap = self.word_swap.unwrap_or(0.0);
            if self.token_dropout.is_none() {
                s.token_dropout = DEFAULT_WORD_VECTOR_DROPOUT;
            }
        }
        s
    }
}

impl Default for ModerationOptions {
    fn default() -> Self {
        ModerationOptions {
            preset: Preset::Tiny,
            data: "data/moderation".into(),
            tokenizer: "data/tokenizer".into(),
            init: None,
            overrides: Overrides::default(),
            pos_weight: None,
            token_dropout: None,
            pooling: None,
            bidirectional: false,
            word_vectors: None,
            vocab_top: None,
            train_word_vectors: false,
            word_swap: None,
            word_vector_std: None,
            target_precision: 0.9,
            max_benign_fpr: 0.01,
            eval_every: 100,
            eval_examples: 2048,
            calibrate_every: 0,
            run: RunOptions::new("runs/moderation", 200),
        }
    }
}
