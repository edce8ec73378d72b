//! The settings the stages share: the shape of tinychat's own models, the optimiser's schedule,
//! and the overrides of a preset's values that `pretrain` and `moderation` take.
//!
//! [`Shape`] and [`Schedule`] sit flattened in the stages' recorded settings
//! (trainer_state.json keeps one flat object: `{"dim", "layers", …, "lr", "adamw", "seed"}`).

use super::optim::AdamWConfig;
use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The one knob of the stages that train a model from scratch (pretrain, moderation): the
/// model's shape and schedule; each stage's `Preset::settings` gives its values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Tiny,
    Small,
}

impl Preset {
    /// This preset's value of two.
    pub fn pick<T>(self, tiny: T, small: T) -> T {
        match self {
            Preset::Tiny => tiny,
            Preset::Small => small,
        }
    }
}

/// A llama-family model's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// C
    pub dim: usize,
    pub layers: usize,
    /// NH, and NKV (grouped-query attention: NH is a multiple of NKV).
    pub heads: usize,
    pub kv_heads: usize,
    /// FF, the SwiGLU hidden size.
    pub ffn: usize,
    /// T: the sequence length of a batch, and the model's context.
    pub seq_len: usize,
}

impl Shape {
    /// (C, L, NH, NKV, FF, T).
    pub fn new(
        dim: usize,
        layers: usize,
        heads: usize,
        kv_heads: usize,
        ffn: usize,
        seq_len: usize,
    ) -> Shape {
        Shape {
            dim,
            layers,
            heads,
            kv_heads,
            ffn,
            seq_len,
        }
    }

    /// Refuses a shape whose heads do not divide the width (HS = C / NH) or each other.
    pub fn check(&self) -> Result<()> {
        let (c, nh, nkv) = (self.dim, self.heads, self.kv_heads);
        if nh == 0 || c % nh != 0 || nkv == 0 || nh % nkv != 0 {
            return Err(Error::InvalidArgument(format!(
                "--dim {c} must be a multiple of --heads {nh}, and --heads of --kv-heads {nkv}"
            )));
        }
        Ok(())
    }

    /// The config of a llama of this shape over `vocab` tokens, as tinychat trains them: no
    /// biases, RMSNorm ε 1e-5, RoPE θ 10 000, causal, untied, no special tokens or labels.
    pub fn llama(&self, vocab: usize) -> ModelConfig {
        ModelConfig {
            family: Family::Llama,
            vocab_size: vocab,
            dim: self.dim,
            n_layers: self.layers,
            n_heads: self.heads,
            n_kv_heads: self.kv_heads,
            head_dim: self.dim / self.heads.max(1),
            hidden_dim: self.ffn,
            max_seq_len: self.seq_len,
            norm_eps: 1e-5,
            rope_theta: 10000.0,
            tie_embeddings: false,
            attn_bias: false,
            mlp_bias: false,
            bos_token_id: None,
            eos_token_ids: vec![],
            pad_token_id: None,
            labels: vec![],
            pooling: Default::default(),
            causal: true,
        }
    }
}

/// The optimiser's schedule: `steps` AdamW steps, the learning rate warming up linearly over
/// `warmup` steps to `lr` and decaying along a cosine to `min_lr`, the gradient norm clipped to
/// `grad_clip` (0: not clipped).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub steps: usize,
    pub lr: f32,
    pub min_lr: f32,
    pub warmup: usize,
    pub grad_clip: f32,
    pub adamw: AdamWConfig,
}

impl Schedule {
    /// `steps` steps from `lr` down to `min_lr` after `warmup`, the gradient norm clipped to 1,
    /// AdamW's defaults with `weight_decay`.
    pub fn new(steps: usize, lr: f32, min_lr: f32, warmup: usize, weight_decay: f32) -> Schedule {
        Schedule {
            steps,
            lr,
            min_lr,
            warmup,
            grad_clip: 1.0,
            adamw: AdamWConfig {
                weight_decay,
                ..AdamWConfig::default()
            },
        }
    }
}

/// Values that replace a preset's, each named as its flag (None: the preset's value).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Overrides {
    pub dim: Option<usize>,
    pub layers: Option<usize>,
    pub heads: Option<usize>,
    pub kv_heads: Option<usize>,
    pub ffn: Option<usize>,
    pub seq_len: Option<usize>,
    pub batch_size: Option<usize>,
    pub steps: Option<usize>,
    pub lr: Option<f32>,
    pub min_lr: Option<f32>,
    pub warmup: Option<usize>,
    pub grad_clip: Option<f32>,
    pub weight_decay: Option<f32>,
    pub seed: Option<u64>,
}

impl Overrides {
    /// Replaces the shape's and the schedule's values that are overridden (the stages set
    /// `batch_size` and `seed` themselves).
    pub fn apply(&self, shape: &mut Shape, schedule: &mut Schedule) {
        let set = |v: Option<usize>, x: &mut usize| *x = v.unwrap_or(*x);
        let setf = |v: Option<f32>, x: &mut f32| *x = v.unwrap_or(*x);
        set(self.dim, &mut shape.dim);
        set(self.layers, &mut shape.layers);
        set(self.heads, &mut shape.heads);
        set(self.kv_heads, &mut shape.kv_heads);
        set(self.ffn, &mut shape.ffn);
        set(self.seq_len, &mut shape.seq_len);
        set(self.steps, &mut schedule.steps);
        setf(self.lr, &mut schedule.lr);
        setf(self.min_lr, &mut schedule.min_lr);
        set(self.warmup, &mut schedule.warmup);
        setf(self.grad_clip, &mut schedule.grad_clip);
        setf(self.weight_decay, &mut schedule.adamw.weight_decay);
    }
}
