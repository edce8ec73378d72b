//! Native training (cargo feature `train`): the training forward/backward of the llama-family
//! transformer, AdamW, data, checkpoints and the CLI stages that use them.

pub mod model;
pub mod optim;
pub mod checkers;
pub mod sft_data;
