//! The moderation classifier: the shared transformer trunk with a multi-label head (one sigmoid
//! per category), behind the text normaliser, with per-category thresholds.

use super::normalize::normalize;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Score and decision for one category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub category: String,
    /// Sigmoid probability in [0, 1].
    pub score: f32,
    pub threshold: f32,
    pub flagged: bool,
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
        let categories: Vec<CategoryScore> = self
            .categories
            .iter()
            .zip(&other.categories)
            .map(|(a, b)| {
                if b.score > a.score {
                    b.clone()
                } else {
                    a.clone()
                }
            })
            .map(|mut c| {
                c.flagged = c.score >= c.threshold;
                c
            })
            .collect();
        Verdict {
            flagged: categories.iter().any(|c| c.flagged),
            categories,
        }
    }
}

/// `thresholds.json` beside the classifier: category → threshold, written by calibration.
pub type Thresholds = BTreeMap<String, f32>;

pub struct Moderator {
    pub model: Model,
    pub tokenizer: Tokenizer,
    /// One per label, in id order.
    pub thresholds: Vec<f32>,
}

impl Moderator {
    /// Loads a classifier directory: config.json (with id2label), model.safetensors,
    /// tokenizer.json and, when present, thresholds.json (default 0.5 per category).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let model = Model::load(dir)?;
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))?;
        let tpath = dir.join("thresholds.json");
        let thresholds =
            match std::fs::read_to_string(&tpath) {
                Ok(text) => Some(serde_json::from_str::<Thresholds>(&text).map_err(|source| {
                    Error::Json {
                        path: tpath.clone(),
                        source,
                    }
                })?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(tpath, e)),
            };
        Self::new(model, tokenizer, thresholds.as_ref())
    }

    /// Builds a moderator from file contents (the browser path): config.json, model.safetensors,
    /// tokenizer.json and an optional thresholds.json. `origin` names the source in errors.
    pub fn from_bytes(
        config_json: &str,
        safetensors: &[u8],
        tokenizer_json: &[u8],
        thresholds_json: Option<&str>,
        origin: &str,
    ) -> Result<Self> {
        let model = Model::from_bytes(config_json, safetensors, origin)?;
        let tokenizer = Tokenizer::from_bytes(tokenizer_json)
            .map_err(|e| Error::Tokenizer(format!("{origin}/tokenizer.json: {e}")))?;
        let thresholds = thresholds_json
            .map(|t| {
                serde_json::from_str::<Thresholds>(t).map_err(|source| Error::Json {
                    path: format!("{origin}/thresholds.json").into(),
                    source,
                })
            })
            .transpose()?;
        Self::new(model, tokenizer, thresholds.as_ref())
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
            model,
            tokenizer,
        };
        if let Some(t) = thresholds {
            m.set_thresholds(t)?;
        }
        Ok(m)
    }

    pub fn labels(&self) -> &[String] {
        &self.model.config.labels
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

    /// Raw per-category probabilities of `text`. Text longer than the classifier's context is
    /// scored in overlapping windows and each category takes its highest window, so nothing
    /// hides in the middle of a long text.
    pub fn scores(&self, text: &str) -> Result<Vec<f32>> {
        let norm = normalize(text);
        let mut ids = self.tokenizer.encode(&norm, false)?;
        if ids.is_empty() {
            // Empty text cannot be harmful; classify a lone separator so scores stay defined.
            ids = self.tokenizer.encode(" ", false)?;
            if ids.is_empty() {
                return Ok(vec![0.0; self.labels().len()]);
            }
        }
        // Text tokens per pass (half the context, less one, when the trunk reads the text twice).
        let ctx = self
            .model
            .config
            .pooling
            .window(self.model.config.max_seq_len);
        let stride = (ctx / 2).max(1);
        let mut best = vec![0.0f32; self.labels().len()];
        let mut start = 0;
        loop {
            let end = (start + ctx).min(ids.len());
            let logits = self.model.classify(&ids[start..end])?;
            for (b, l) in best.iter_mut().zip(logits) {
                *b = b.max(sigmoid(l));
            }
            if end == ids.len() {
                break;
            }
            start += stride;
        }
        Ok(best)
    }

    pub fn check(&self, text: &str) -> Result<Verdict> {
        let scores = self.scores(text)?;
        Ok(self.verdict(&scores))
    }

    pub fn verdict(&self, scores: &[f32]) -> Verdict {
        let categories: Vec<CategoryScore> = self
            .labels()
            .iter()
            .zip(scores)
            .zip(&self.thresholds)
            .map(|((name, &score), &threshold)| CategoryScore {
                category: name.clone(),
                score,
                threshold,
                flagged: score >= threshold,
            })
            .collect();
        Verdict {
            flagged: categories.iter().any(|c| c.flagged),
            categories,
        }
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
