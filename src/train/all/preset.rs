//! `train all --preset`: each stage's options as Rust values, and the command line that runs
//! them.

use crate::train::eval::chat::EvalChatOptions;
use crate::train::moderation::ModerationOptions;
use crate::train::ppo::{PpoOptions, PpoSettings};
use crate::train::pretrain::PretrainOptions;
use crate::train::reward::RewardOptions;
use crate::train::settings::{Overrides, Preset, Schedule};
use crate::train::sft::SftOptions;
use crate::train::tokenizer_train::TokenizerOptions;
use crate::train::trainer::RunOptions;
use serde::Serialize;
use serde_json::Value;

/// `train all --preset`: each stage's options are its subcommand's defaults with these changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllPreset {
    /// The default bundle; about an hour on 2 cores.
    Tiny,
    /// The small pretraining and moderation presets, the other stages' defaults; unmeasured.
    Small,
    /// A 32-wide model and a few steps per stage: checks the whole chain in seconds, makes a
    /// useless model.
    Smoke,
}

impl AllPreset {
    pub fn name(self) -> &'static str {
        match self {
            AllPreset::Tiny => "tiny",
            AllPreset::Small => "small",
            AllPreset::Smoke => "smoke",
        }
    }

    pub fn tokenizer(self, o: TokenizerOptions) -> TokenizerOptions {
        match self {
            AllPreset::Smoke => TokenizerOptions {
                vocab_size: 320,
                ..o
            },
            _ => o,
        }
    }

    /// The model preset of the stages that train from scratch (pretrain, moderation): small
    /// under small, else tiny (which smoke shrinks).
    pub fn model(self) -> Preset {
        match self {
            AllPreset::Small => Preset::Small,
            _ => Preset::Tiny,
        }
    }

    pub fn pretrain(self, o: PretrainOptions) -> PretrainOptions {
        let o = PretrainOptions {
            preset: self.model(),
            ..o
        };
        match self {
            AllPreset::Smoke => PretrainOptions {
                overrides: smoke_model(128, 2),
                eval_every: 3,
                eval_batches: 1,
                run: smoke_run(&o.run),
                ..o
            },
            _ => o,
        }
    }

    pub fn sft(self, o: SftOptions) -> SftOptions {
        match self {
            AllPreset::Smoke => SftOptions {
                batch_size: 2,
                schedule: smoke_schedule(&o.schedule),
                eval_every: 3,
                eval_batches: 1,
                run: smoke_run(&o.run),
                ..o
            },
            // 1200 steps (~2 passes over the SFT data): at 300 the model had not learnt to copy
            // operands yet.
            AllPreset::Tiny => SftOptions {
                schedule: Schedule {
                    steps: 1200,
                    ..o.schedule.clone()
                },
                ..o
            },
            AllPreset::Small => o,
        }
    }

    pub fn reward(self, o: RewardOptions) -> RewardOptions {
        match self {
            // A batch holds all the answers of a prompt (up to 5 in the constructed rankings).
            AllPreset::Smoke => RewardOptions {
                schedule: smoke_schedule(&o.schedule),
                run: smoke_run(&o.run),
                batch_size: 6,
                eval_every: 3,
                eval_limit: 4,
                ..o
            },
            // 1400 steps on the constructed rankings plus 4 own samples of 2000 computed PPO
            // prompts ranked by the exact checkers.
            AllPreset::Tiny => RewardOptions {
                schedule: Schedule {
                    steps: 1400,
                    ..o.schedule.clone()
                },
                self_samples: 4,
                self_prompts: 2000,
                self_sources: "computed".into(),
                ..o
            },
            AllPreset::Small => o,
        }
    }

    pub fn ppo(self, o: PpoOptions) -> PpoOptions {
        match self {
            AllPreset::Smoke => PpoOptions {
                iterations: 1,
                settings: PpoSettings {
                    rollouts: 2,
                    minibatch: 2,
                    epochs: 1,
                    max_new_tokens: 4,
                    ..o.settings.clone()
                },
                ..o
            },
            // 64 rollouts per iteration in minibatches of 32 (4 policy steps per iteration
            // instead of 8 noisier ones): the KL per answer fell from 2.5 to 1.9 nats and exact
            // match kept up with SFT, where 32 in 8s lost 6 items.
            AllPreset::Tiny => PpoOptions {
                settings: PpoSettings {
                    rollouts: 64,
                    minibatch: 32,
                    ..o.settings.clone()
                },
                ..o
            },
            AllPreset::Small => o,
        }
    }

    pub fn moderation(self, o: ModerationOptions) -> ModerationOptions {
        let smoke = self == AllPreset::Smoke;
        ModerationOptions {
            preset: self.model(),
            overrides: if smoke {
                smoke_model(32, 4)
            } else {
                o.overrides.clone()
            },
            eval_every: if smoke { 3 } else { o.eval_every },
            eval_examples: if smoke { 16 } else { o.eval_examples },
            run: if smoke {
                smoke_run(&o.run)
            } else {
                o.run.clone()
            },
            ..o
        }
    }

    /// The eval stage's chat evaluations.
    pub fn eval_chat(self, o: EvalChatOptions) -> EvalChatOptions {
        match self {
            AllPreset::Smoke => EvalChatOptions {
                limit: Some(4),
                max_new_tokens: 4,
                ..o
            },
            _ => o,
        }
    }
}

/// The smoke preset's schedule: 3 steps, 1 of them warmup.
fn smoke_schedule(s: &Schedule) -> Schedule {
    Schedule {
        steps: 3,
        warmup: 1,
        ..s.clone()
    }
}

/// The smoke preset's checkpoint: after the third step.
fn smoke_run(r: &RunOptions) -> RunOptions {
    RunOptions {
        save_every: 3,
        ..r.clone()
    }
}

/// The smoke preset's model: 32 wide, one layer, 2 heads sharing one KV head, FFN 64, `seq_len`
/// positions, `batch_size` rows, 3 steps after 1 of warmup.
fn smoke_model(seq_len: usize, batch_size: usize) -> Overrides {
    Overrides {
        dim: Some(32),
        layers: Some(1),
        heads: Some(2),
        kv_heads: Some(1),
        ffn: Some(64),
        seq_len: Some(seq_len),
        batch_size: Some(batch_size),
        steps: Some(3),
        warmup: Some(1),
        ..Default::default()
    }
}

/// The command line that runs `opts`: `tinychat <sub>` and a flag for every option that differs
/// from `defaults`, named as its field (`seq_len` → `--seq-len`; the fields of a nested group
/// such as [`RunOptions`] are flags of their own): a switch for `true`, a value otherwise, one
/// flag per element of a list. Printed before a stage runs and recorded in stages.json.
pub fn command_line<T: Serialize>(sub: &str, opts: &T, defaults: &T) -> String {
    fn text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            // Options hold f32s: the shortest text that reads back as the same f32.
            Value::Number(n) if n.is_f64() => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if (x as f32) as f64 == x {
                    (x as f32).to_string()
                } else {
                    x.to_string()
                }
            }
            v => v.to_string(),
        }
    }
    fn flags(opts: &Value, defaults: &Value, out: &mut Vec<String>) {
        let Some(fields) = opts.as_object() else {
            return;
        };
        for (k, v) in fields {
            let d = &defaults[k];
            let flag = format!("--{}", k.replace('_', "-"));
            match v {
                _ if v == d => {}
                Value::Object(_) => flags(v, d, out),
                Value::Null | Value::Bool(false) => {}
                Value::Bool(true) => out.push(flag),
                Value::Array(xs) => {
                    for x in xs {
                        out.extend([flag.clone(), text(x)]);
                    }
                }
                v => out.extend([flag, text(v)]),
            }
        }
    }
    let as_json = |x: &T| serde_json::to_value(x).expect("options serialise");
    let mut out = vec![format!("tinychat {sub}")];
    flags(&as_json(opts), &as_json(defaults), &mut out);
    out.join(" ")
}
