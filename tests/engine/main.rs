//! The inference side: parity with transformers, the engines (CPU, GPU on Vulkan), the pipeline,
//! errors and the command-line tool. One test binary (fewer, larger test crates link faster);
//! each module is one former suite.

#[path = "../common/mod.rs"]
mod common;

mod behaviour;
mod chat_template;
mod cli;
mod cli_pipeline;
mod dts;
mod errors;
mod fuzz_regressions;
mod gguf;
mod gguf_smollm2;
mod gpu_decode;
mod gpu_fused;
mod gpu_model;
mod gpu_ops;
mod gpu_quant;
mod gpu_sample;
mod moderation_head;
mod moderation_smollm2;
mod parity;
mod pipeline;
mod pipeline_async;
mod shaders;
mod tokenizer_parity;
mod untrusted;
