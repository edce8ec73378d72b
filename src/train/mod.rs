//! Native training (cargo feature `train`): the training forward/backward of the llama-family
//! transformer, AdamW, data, checkpoints and the stages that use them.
//!
//! ```text
//! model, heads      the trunk's forward/backward (model.rs) and the heads on it (heads.rs; their
//!                   maths is in crate::ops::{head, loss})
//! optim, settings   AdamW and its schedule; the model shape, schedule and preset overrides the
//!                   stages share
//! trainer           the loop every stage runs on: resume, optimiser step, epoch order, progress
//!                   bar, metrics log, periodic validation and checkpoints, plot
//! checkpoint, metrics, data, tokenizer_train, sft_data, word_vectors   what the stages read
//!                   and write
//! tokenizer_train, pretrain, sft, reward, ppo, moderation   the stages: each an *Options
//!                   struct (one field per flag of its subcommand) and a `run`
//! all, bundle       `train all`: the stages under a preset, then the pipeline bundle
//! eval              chat, reward and moderation evaluations, and threshold calibration
//! bench             training throughput
//! ```
//!
//! The command line (`src/bin/tinychat/`) parses flags into the options structs; nothing here
//! depends on clap.

pub mod all;
pub mod bench;
pub mod bundle;
pub mod checkers;
pub mod checkpoint;
pub mod data;
mod data_file;
pub mod eval;
pub mod fetch;
pub mod heads;
pub mod metrics;
pub mod model;
pub mod moderation;
pub mod moderation_data;
pub mod optim;
pub mod ppo;
pub mod pretrain;
pub mod reward;
pub mod settings;
pub mod sft;
pub mod sft_data;
pub mod tokenizer_train;
pub mod trainer;
pub mod word_vectors;
