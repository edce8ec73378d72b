//! Training (feature `train`): every stage, its data, gradients against finite differences and
//! PyTorch. One test binary; each module is one former suite.
#![cfg(feature = "train")]

#[path = "../common/mod.rs"]
mod common;

// The command line's flags, parsed exactly as `tinychat train ...` and `tinychat eval ...` parse
// them.
#[path = "../../src/bin/tinychat/data.rs"]
#[allow(dead_code)]
mod data_cli;
#[path = "../../src/bin/tinychat/eval.rs"]
#[allow(dead_code)]
mod eval_cli;
#[path = "../../src/bin/tinychat/ranges.rs"]
#[allow(dead_code)]
mod ranges;
#[path = "../../src/bin/tinychat/train/mod.rs"]
#[allow(dead_code, unused_imports)]
mod train_cli;

mod all;
mod eval_chat;
mod grad_ops;
mod moderation;
mod moderation_data;
mod parity;
mod plot;
mod ppo;
mod pretrain;
mod reward;
mod sft;
mod sft_data;
