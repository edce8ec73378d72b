//! The moderation classifier: the shared transformer trunk with a multi-label head (one sigmoid
//! per category), behind the text normaliser, with per-category thresholds.

use super::head::{pool, ModerationHead};
use super::implied;
use super::normalize::normalize;
use crate::engine::{Backend, Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Score and decision for one category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub category: String,
    /// Sigmoid probability in [0, 1].
    pub score: f32,
    pub threshold: f32,
    /// Score ≥ threshold, or a sub-category that implies this one flagged ([`implied`]).
    pub flagged: bool,
    /// The flagged sub-category that flagged this one when its own score is under the
    /// threshold (`violence` by `illicit/violent`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implied_by: Option<String>,
}

/// The outcome of one moderation check: flag + score for every category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub flagged: bool,
    pub categories: Vec<CategoryScore>,
}

impl Verdict {
    /// Categories that flagged, in the classifier's label order.
    pub fn flagged_categories(&self) -> Vec<&str> {
        self.categories
            .iter()
            .filter(|c| c.flagged)
            .map(|c| c.category.as_str())
            .collect()
    }
    pub fn score(&self, category: &str) -> Option<f32> {
        self.categories
            .iter()
            .find(|c| c.category == category)
            .map(|c| c.score)
    }
    /// Per-category maximum of several verdicts (a text checked in pieces).
    pub fn merge(&self, other: &Verdict) -> Verdict {
        Verdict::from_scores(self.categories.iter().zip(&other.categories).map(|(a, b)| {
            let best = if b.score > a.score { b } else { a };
            (best.category.clone(), best.score, best.threshold)
        }))
    }

    /// Flags every category whose score reaches its threshold, then the categories those imply
    /// ([`implied`]: a sub-category its parent, threats also violence) that are among `scores`,
    /// so a verdict never says "illicit/violent" without "illicit" and "violence".
    pub fn from_scores(scores: impl IntoIterator<Item = (String, f32, f32)>) -> Verdict {
        let mut categories: Vec<CategoryScore> = scores
            .into_iter()
            .map(|(category, score, threshold)| CategoryScore {
                flagged: score >= threshold,
                category,
                score,
                threshold,
                implied_by: None,
            })
            .collect();
        // `implied` goes one level (sub-category → parents, which imply nothing further), so
        // one pass over the categories flagged by their own scores is enough; the first such
        // sub-category names the cause.
        let own: Vec<(usize, bool)> = categories.iter().map(|c| c.flagged).enumerate().collect();
        for (i, flagged) in own {
            if !flagged {
                continue;
            }
            let child = categories[i].category.clone();
            for parent in implied(&child) {
                debug_assert!(implied(parent).is_empty(), "{parent} implies further");
                if let Some(p) = categories.iter_mut().find(|c| c.category == *parent) {
                    if !p.flagged {
                        p.flagged = true;
                        p.implied_by = Some(child.clone());
                    }
                }
            }
        }
        Verdict {
            flagged: categories.iter().any(|c| c.flagged),
            categories,
        }
    }
}

/// `thresholds.json` beside the classifier: category → threshold, written by calibration.
pub type Thresholds = BTreeMap<String, f32>;

/// The classifier and its thresholds. It runs on the CPU engine ([`Self::check`]), or on any
/// [`Engine`] opened on its model ([`Self::check_async`]; `Engine::new(moderator.model.clone(),
/// …)`), the GPU one included.
///
/// Two kinds: a classifier of its own (`model` has a classification head, as tinychat's
/// from-scratch moderator), or a [`ModerationHead`] on a pretrained trunk (`model` is the trunk,
/// shared with the chat model in a bundle; see `head.rs`).
pub struct Moderator {
    pub model: Arc<Model>,
    /// The head when the moderator is one; `model` is then its trunk.
    pub head: Option<Arc<ModerationHead>>,
    pub tokenizer: Tokenizer,
    /// One per label, in id order.
    pub thresholds: Vec<f32>,
    /// Token ids of the head's prompt around each window (empty for a classifier).
    prefix: Vec<u32>,
    suffix: Vec<u32>,
}

impl Moderator {
    /// Loads a classifier directory: config.json (with id2label), model.safetensors,
    /// tokenizer.json and, when present, thresholds.json (default 0.5 per category); or a
    /// moderation head's directory, whose trunk (named relative to it) may lie beside it.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        match (dir.parent(), dir.file_name().and_then(|n| n.to_str())) {
            (Some(parent), Some(name)) => {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                crate::bundle::load_moderator(&crate::bundle::Dir::new(parent), name)
            }
            _ => crate::bundle::load_moderator(&crate::bundle::Dir::new(dir), ""),
        }
    }

    /// Loads a classifier directory ([`Self::load`]), or a pipeline bundle: the classifier its
    /// pipeline.json names, with that file's threshold overrides.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if crate::bundle::is_bundle(dir) {
            crate::bundle::load_bundle_moderator(&crate::bundle::Dir::new(dir))
        } else {
            // As a directory of its parent: a head's trunk may lie beside it.
            Self::load(dir)
        }
    }

    pub fn new(
        model: Model,
        tokenizer: Tokenizer,
        thresholds: Option<&Thresholds>,
    ) -> Result<Self> {
        if !model.config.is_classifier() {
            return Err(Error::InvalidArgument(
                "the moderation model has no classification head (config.json needs id2label)"
                    .into(),
            ));
        }
        let mut m = Moderator {
            thresholds: vec![0.5; model.config.labels.len()],
            model: Arc::new(model),
            head: None,
            tokenizer,
            prefix: vec![],
            suffix: vec![],
        };
        if let Some(t) = thresholds {
            m.set_thresholds(t)?;
        }
        Ok(m)
    }

    /// A head on `trunk` (which a chat model may share), reading text with the trunk's
    /// `tokenizer`.
    pub fn with_head(
        trunk: Arc<Model>,
        head: ModerationHead,
        tokenizer: Tokenizer,
        thresholds: Option<&Thresholds>,
    ) -> Result<Self> {
        let hc = &head.config;
        if hc.hidden_size != trunk.config.dim || hc.layers == 0 || hc.layers > trunk.config.n_layers
        {
            return Err(Error::InvalidArgument(format!(
                "the moderation head reads {} blocks of a trunk of width {}, but its trunk has {} blocks of width {}: was it trained on another model?",
                hc.layers, hc.hidden_size, trunk.config.n_layers, trunk.config.dim
            )));
        }
        let tuned = head.blocks.as_ref().map_or(0, |b| b.config.n_layers);
        if tuned != hc.tuned_blocks {
            return Err(Error::InvalidArgument(format!(
                "the moderation head tunes {} blocks of its own ({}), but {tuned} are loaded",
                hc.tuned_blocks,
                hc.blocks_file()
            )));
        }
        if let Some(b) = &head.blocks {
            let want = trunk.blocks_config(head.trunk_layers()..hc.layers)?;
            if b.config != want {
                return Err(Error::InvalidArgument(
                    "the moderation head's tuned blocks have another shape than the trunk's blocks they replace: were they trained on another model?".into(),
                ));
            }
        }
        if hc.window == 0 || hc.max_windows == 0 {
            return Err(Error::InvalidArgument(
                "the moderation head's window and max_windows must be at least 1".into(),
            ));
        }
        let prefix = tokenizer.encode(&hc.prefix, false)?;
        let suffix = tokenizer.encode(&hc.suffix, false)?;
        // Checked: the window is untrusted (a window near usize::MAX wrapped the sum below the
        // context and passed).
        let total = prefix
            .len()
            .checked_add(hc.window)
            .and_then(|n| n.checked_add(suffix.len()));
        if total.is_none_or(|n| n > trunk.config.max_seq_len) {
            return Err(Error::InvalidArgument(format!(
                "the moderation head's window ({} tokens and its prompt) exceeds the trunk's context ({})",
                hc.window, trunk.config.max_seq_len
            )));
        }
        let mut m = Moderator {
            thresholds: vec![0.5; head.labels.len()],
            model: trunk,
            head: Some(Arc::new(head)),
            tokenizer,
            prefix,
            suffix,
        };
        if let Some(t) = thresholds {
            m.set_thresholds(t)?;
        }
        Ok(m)
    }

    pub fn labels(&self) -> &[String] {
        match &self.head {
            Some(h) => &h.labels,
            None => &self.model.config.labels,
        }
    }

    /// Positions one check puts in an engine's cache at most: a head's prompt around one
    /// window (prefix + window + suffix), or a classifier's context. Every window of a text
    /// is read from an empty cache, so this is all an engine that only moderates needs.
    pub fn context(&self) -> usize {
        match &self.head {
            Some(h) => self.prefix.len() + h.config.window + self.suffix.len(),
            None => self.model.config.max_seq_len,
        }
    }

    /// Options for an engine that runs this moderator ([`Self::check_async`]) on `backend`:
    /// a KV cache of [`Self::context`] positions (not the trunk's whole context: SmolLM2's
    /// 8,192 would be 377 MB), a window read in one step; with `gpu`, on that device, where
    /// it shares the weights of an engine that runs the same `Arc<Model>` (the chat model that
    /// is a head's trunk) instead of uploading them again.
    pub fn engine_options(
        &self,
        backend: Backend,
        gpu: Option<Arc<crate::gpu::GpuContext>>,
    ) -> EngineOptions {
        let ctx = self.context();
        EngineOptions {
            backend,
            capacity: Some(ctx),
            chunk: Some(ctx),
            gpu,
            ..Default::default()
        }
    }

    /// The trunk's input for one window of text tokens, and where the text sits in it.
    fn head_input(&self, window: &[u32]) -> (Vec<u32>, std::ops::Range<usize>) {
        let mut t = self.prefix.clone();
        t.extend_from_slice(window);
        t.extend_from_slice(&self.suffix);
        (t, self.prefix.len()..self.prefix.len() + window.len())
    }

    /// Overrides thresholds by category name; an unknown name is an error naming it.
    pub fn set_thresholds(&mut self, t: &Thresholds) -> Result<()> {
        for (name, &v) in t {
            let i = self
                .labels()
                .iter()
                .position(|l| l == name)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "threshold for unknown category {name:?}; the classifier's categories are {:?}",
                        self.labels()
                    ))
                })?;
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::InvalidArgument(format!(
                    "threshold for {name:?} must be in [0, 1], got {v}"
                )));
            }
            self.thresholds[i] = v;
        }
        Ok(())
    }

    /// Raw per-category probabilities of `text` on the CPU engine. Text longer than the
    /// classifier's context is scored in overlapping windows and each category takes its
    /// highest window, so nothing hides in the middle of a long text.
    pub fn scores(&self, text: &str) -> Result<Vec<f32>> {
        let mut best = vec![0.0f32; self.labels().len()];
        match &self.head {
            Some(h) => {
                for p in self.pooled(text)? {
                    best_of(&mut best, &h.forward(&p));
                }
            }
            None => {
                for w in self.windows(text)? {
                    best_of(&mut best, &self.model.classify(&w)?);
                }
            }
        }
        Ok(best)
    }

    /// A head moderator's input: the pooled trunk state (C) of each window of `text`, on the
    /// CPU engine (what [`Self::scores`] feeds the head; training a head on a frozen trunk caches
    /// them).
    pub fn pooled(&self, text: &str) -> Result<Vec<Vec<f32>>> {
        let h = self.head.as_ref().ok_or_else(|| {
            Error::InvalidArgument(
                "pooled states are a moderation head's input; this moderator is a classifier"
                    .into(),
            )
        })?;
        self.windows(text)?
            .iter()
            .map(|w| {
                let (tokens, text) = self.head_input(w);
                let x = self.model.trunk_states(&tokens, h.trunk_layers())?;
                let x = h.top_states(x)?;
                Ok(pool(&x, self.model.config.dim, text, h.config.pooling))
            })
            .collect()
    }

    /// A head moderator's trunk states (T, C) after blocks 0..layers, for each window of `text`
    /// as the trunk reads it ([`Self::prompt_lens`] says where the text sits): what a head that
    /// tunes the blocks above them trains on.
    pub fn window_states(&self, text: &str, layers: usize) -> Result<Vec<Vec<f32>>> {
        if self.head.is_none() {
            return Err(Error::InvalidArgument(
                "window states are a moderation head's input; this moderator is a classifier"
                    .into(),
            ));
        }
        self.windows(text)?
            .iter()
            .map(|w| self.model.trunk_states(&self.head_input(w).0, layers))
            .collect()
    }

    /// Tokens of a head's prompt before and after each window's text.
    pub fn prompt_lens(&self) -> (usize, usize) {
        (self.prefix.len(), self.suffix.len())
    }

    /// [`Self::scores`] on `engine`, which must be open on this moderator's model (on the GPU
    /// or the CPU); never blocks on the GPU.
    pub async fn scores_async(&self, engine: &mut Engine, text: &str) -> Result<Vec<f32>> {
        if !Arc::ptr_eq(engine.model_arc(), &self.model) {
            return Err(Error::InvalidArgument(
                "this engine runs another model: open it on the moderator's (Engine::new(moderator.model.clone(), …))"
                    .into(),
            ));
        }
        let mut best = vec![0.0f32; self.labels().len()];
        for w in self.windows(text)? {
            let logits = match &self.head {
                Some(h) if h.blocks.is_some() => {
                    // The trunk's blocks on the engine, the tuned ones on the CPU.
                    let (tokens, text) = self.head_input(&w);
                    let x = engine.states_async(&tokens, h.trunk_layers()).await?;
                    let x = h.top_states(x)?;
                    h.forward(&pool(&x, self.model.config.dim, text, h.config.pooling))
                }
                Some(h) => {
                    let (tokens, text) = self.head_input(&w);
                    let p = engine
                        .pooled_async(&tokens, h.config.layers, text, h.config.pooling)
                        .await?;
                    h.forward(&p)
                }
                None => engine.classify_async(&w).await?,
            };
            best_of(&mut best, &logits);
        }
        Ok(best)
    }

    /// The token windows [`Self::scores`] classifies: the normalised text's tokens in windows
    /// of the classifier's context (half of it, less one, when the trunk reads the text twice)
    /// that overlap by half. Empty text is one lone separator, so its scores stay defined; no
    /// window at all when even that encodes to nothing.
    pub(crate) fn windows(&self, text: &str) -> Result<Vec<Vec<u32>>> {
        let norm = normalize(text);
        let mut ids = self.tokenizer.encode(&norm, false)?;
        if ids.is_empty() {
            ids = self.tokenizer.encode(" ", false)?;
            if ids.is_empty() {
                return Ok(vec![]);
            }
        }
        let ctx = match &self.head {
            Some(h) => h.config.window,
            None => self
                .model
                .config
                .pooling
                .window(self.model.config.max_seq_len),
        };
        let stride = (ctx / 2).max(1);
        if let Some(h) = &self.head {
            let windows = ids.len().saturating_sub(ctx).div_ceil(stride) + 1;
            if windows > h.config.max_windows {
                return Err(Error::InvalidArgument(format!(
                    "the text is too long to moderate at once: {} tokens make {windows} windows of {ctx}, and one check reads at most {} (about {} tokens); split it",
                    ids.len(),
                    h.config.max_windows,
                    ctx.saturating_add(
                        h.config.max_windows.saturating_sub(1).saturating_mul(stride)
                    )
                )));
            }
        }
        let mut out = vec![];
        let mut start = 0;
        loop {
            let end = (start + ctx).min(ids.len());
            out.push(ids[start..end].to_vec());
            if end == ids.len() {
                return Ok(out);
            }
            start += stride;
        }
    }

    pub fn check(&self, text: &str) -> Result<Verdict> {
        let scores = self.scores(text)?;
        Ok(self.verdict(&scores))
    }

    /// [`Self::check`] on `engine` (see [`Self::scores_async`]).
    pub async fn check_async(&self, engine: &mut Engine, text: &str) -> Result<Verdict> {
        let scores = self.scores_async(engine, text).await?;
        Ok(self.verdict(&scores))
    }

    /// Every flag of (N, L) row-major `scores`, as [`verdict`](Self::verdict) sets them
    /// (implied parents included), in the same layout.
    pub fn flags(&self, scores: &[f32]) -> Vec<bool> {
        scores
            .chunks(self.labels().len())
            .flat_map(|row| self.verdict(row).categories.into_iter().map(|c| c.flagged))
            .collect()
    }

    /// The verdict on one text's scores (see [`Verdict::from_scores`]).
    pub fn verdict(&self, scores: &[f32]) -> Verdict {
        Verdict::from_scores(
            self.labels()
                .iter()
                .zip(scores)
                .zip(&self.thresholds)
                .map(|((name, &score), &threshold)| (name.clone(), score, threshold)),
        )
    }
}

/// best[i] = max(best[i], sigmoid(logits[i])).
fn best_of(best: &mut [f32], logits: &[f32]) {
    for (b, &l) in best.iter_mut().zip(logits) {
        *b = b.max(sigmoid(l));
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(scores: &[(&str, f32)]) -> Verdict {
        Verdict::from_scores(scores.iter().map(|&(c, s)| (c.to_string(), s, 0.5)))
    }

    #[test]
    fn a_flagged_sub_category_flags_the_parents_it_implies() {
        let x = v(&[
            ("harassment", 0.1),
            ("harassment/threatening", 0.9),
            ("violence", 0.2),
            ("hate", 0.3),
        ]);
        assert!(x.flagged);
        assert_eq!(
            x.flagged_categories(),
            ["harassment", "harassment/threatening", "violence"]
        );
        let by: Vec<Option<&str>> = x
            .categories
            .iter()
            .map(|c| c.implied_by.as_deref())
            .collect();
        assert_eq!(
            by,
            [
                Some("harassment/threatening"),
                None,
                Some("harassment/threatening"),
                None
            ]
        );
        // A parent flagged by its own score names no cause, and a parent does not flag its
        // children; a category missing from the classifier is simply not there.
        let y = v(&[("self-harm", 0.9), ("self-harm/intent", 0.1)]);
        assert_eq!(y.flagged_categories(), ["self-harm"]);
        assert!(y.categories.iter().all(|c| c.implied_by.is_none()));
        let z = v(&[("sexual/minors", 0.9)]);
        assert_eq!(z.flagged_categories(), ["sexual/minors"]);
        // Nothing over its threshold: nothing flagged.
        assert!(!v(&[("illicit", 0.4), ("illicit/violent", 0.49)]).flagged);
    }

    #[test]
    fn merging_pieces_keeps_the_highest_scores_and_their_implications() {
        let a = v(&[
            ("illicit", 0.2),
            ("illicit/violent", 0.7),
            ("violence", 0.1),
        ]);
        let b = v(&[
            ("illicit", 0.3),
            ("illicit/violent", 0.1),
            ("violence", 0.4),
        ]);
        let m = a.merge(&b);
        let scores: Vec<f32> = m.categories.iter().map(|c| c.score).collect();
        assert_eq!(scores, [0.3, 0.7, 0.4]);
        assert_eq!(
            m.flagged_categories(),
            ["illicit", "illicit/violent", "violence"]
        );
        assert_eq!(
            m.categories[0].implied_by.as_deref(),
            Some("illicit/violent")
        );
        // JSON leaves implied_by out where there is none, and reads it back.
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j.matches("implied_by").count(), 2, "{j}");
        assert_eq!(serde_json::from_str::<Verdict>(&j).unwrap(), m);
    }
}
