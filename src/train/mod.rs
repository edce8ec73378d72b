//! Native training (cargo feature `train`): the training forward/backward of the llama-family
//! transformer, AdamW, data, checkpoints and the CLI stages that use them.

pub mod all;
pub mod bench;
pub mod bundle;
pub mod checkers;
pub mod checkpoint;
pub mod data;
pub mod eval;
pub mod heads;
pub mod metrics;
pub mod model;
pub mod moderation;
pub mod optim;
pub mod ppo;
pub mod pretrain;
pub mod reward;
pub mod sft;
pub mod sft_data;
pub mod tokenizer_train;
pub mod trainer;
pub mod word_vectors;
