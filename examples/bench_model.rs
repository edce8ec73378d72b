//! The native half of the Node benchmark (`web/bench/node-bench.mjs`), which compares the CPU
//! engine compiled to wasm with the native one on the same model files:
//!
//! ```text
//! cargo run --release --example bench_model -- write DIR [--layers N]   # random SmolLM2-135M-shaped llama
//! cargo run --release --example bench_model -- native DIR --prompt 32 --tokens 16
//! ```
//!
//! `write` stores a random model shaped like SmolLM2-135M (V=49152, C=576, NH=9, NKV=3, HS=64,
//! FF=1536, tied embeddings; 30 layers unless `--layers`) with a 512-token context, as
//! config.json + model.safetensors (f32). `native` runs `tinychat bench infer` on the CPU engine
//! (its thread count is RAYON_NUM_THREADS, default all cores).

use std::path::PathBuf;
use tinychat::gpu::bench::{random_model, run, smollm2_135m_config, InferBenchArgs};

fn usage() -> ! {
    eprintln!(
        "usage: bench_model write DIR [--layers N]\n       bench_model native DIR [--prompt N] [--tokens N]"
    );
    std::process::exit(2)
}

fn flag(args: &[String], name: &str, default: usize) -> usize {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage()),
        None => default,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, dir) = match (args.first(), args.get(1)) {
        (Some(c), Some(d)) => (c.as_str(), PathBuf::from(d)),
        _ => usage(),
    };
    let result = match cmd {
        "write" => {
            let mut cfg = smollm2_135m_config();
            cfg.n_layers = flag(&args, "--layers", cfg.n_layers);
            // The KV cache is allocated for the whole context: keep it small for wasm.
            cfg.max_seq_len = 512;
            let model = random_model(&cfg, 0);
            std::fs::create_dir_all(&dir).expect("create the model directory");
            tinychat::io::write_json_atomic(&dir.join("config.json"), &cfg.to_hf_json()).and_then(
                |_| {
                    tinychat::weights::save(
                        &model.to_params(),
                        &cfg,
                        dir.join("model.safetensors"),
                        tinychat::weights::DType::F32,
                    )
                },
            )
        }
        "native" => run(&InferBenchArgs {
            model: Some(dir),
            smollm: false,
            prompt: flag(&args, "--prompt", 32),
            tokens: flag(&args, "--tokens", 16),
            quick: false,
            engines: "cpu".into(),
            weights: "f32".into(),
            rounds: 1,
            ..InferBenchArgs::default()
        }),
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
