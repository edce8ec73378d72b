//! Training (feature `train`): every stage, its data, gradients against finite differences and
//! PyTorch. One test binary; each module is one former suite.
#![cfg(feature = "train")]

#[path = "../common/mod.rs"]
mod common;

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
