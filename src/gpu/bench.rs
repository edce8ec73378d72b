//! `tinychat bench infer`: prefill and decode tokens/s of the CPU and GPU engines side by side on
//! the same model (batch 1), and the weight bandwidth each decode step achieves.
//!
//! Decode is memory-bound: every generated token reads every weight matrix once, so
//! GB/s = (bytes of weight matrices) × (decode tokens/s); compare it with the card's memory
//! bandwidth (`--peak-gbs`). By default the model is a random one shaped like SmolLM2-135M
//! (llama: V=49152, C=576, L=30, NH=9, NKV=3, HS=64, FF=1536, tied embeddings), measured with f32
//! and f16 weights on the GPU (`--weights` takes any storage format; the GPU table, with
//! dispatches per token and `--context`, is `bench_decode`'s). `--quick` measures a few tokens,
//! for software adapters (lavapipe).

use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::generate::{argmax, Rng};
use crate::model::{Logits, Model};
use crate::params::Params;
use crate::quant::QType;
use crate::weights::DType;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `tinychat bench infer`.
#[derive(Clone, Debug)]
pub struct InferBenchArgs {
    /// A model directory (config.json + model.safetensors) instead of the random SmolLM2-shaped one.
    pub model: Option<PathBuf>,
    /// Use the random SmolLM2-135M-shaped model (the default when --model is not given).
    pub smollm: bool,
    /// Prompt tokens of the prefill measurement.
    pub prompt: usize,
    /// Decode steps measured (one token each).
    pub tokens: usize,
    /// A few tokens only (prompt 16, decode 4): for slow software adapters such as lavapipe.
    pub quick: bool,
    /// Which engines: cpu, gpu or both.
    pub engines: String,
    /// GPU weight storage, comma-separated: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k,
    /// stored (as the model stores it), or both (f32,f16).
    pub weights: String,
    /// GPU: decode after a context of this many positions (0: right after the prompt).
    pub context: usize,
    /// The GPU's memory bandwidth in GB/s (e.g. 3350 for an H100 SXM), to print the fraction
    /// of it that decoding achieves.
    pub peak_gbs: Option<f64>,
    /// CPU weight storage types, comma-separated: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k
    /// (every matrix cast to it; see `tinychat::bench::bench_type` for the exceptions).
    pub dtype: String,
    /// Measured runs per engine and type, interleaved with the peer's; medians are reported.
    pub rounds: usize,
    /// Also run a peer on the same model and types, interleaved: `llamacpp`
    /// (scripts/bench_llamacpp.py; its first run builds llama.cpp, about 4 minutes).
    pub peer: Option<String>,
}

impl Default for InferBenchArgs {
    fn default() -> Self {
        InferBenchArgs {
            model: None,
            smollm: true,
            prompt: 128,
            tokens: 128,
            quick: false,
            engines: "both".into(),
            weights: "both".into(),
            context: 0,
            peak_gbs: None,
            dtype: "f32".into(),
            rounds: 3,
            peer: None,
        }
    }
}

/// SmolLM2-135M's shape (its config.json), with random weights.
pub fn smollm2_135m_config() -> ModelConfig {
    ModelConfig {
        family: Family::Llama,
        vocab_size: 49152,
        dim: 576,
        n_layers: 30,
        n_heads: 9,
        n_kv_heads: 3,
        head_dim: 64,
        hidden_dim: 1536,
        max_seq_len: 8192,
        norm_eps: 1e-5,
        rope_theta: 100000.0,
        tie_embeddings: true,
        attn_bias: false,
        mlp_bias: false,
        bos_token_id: Some(1),
        eos_token_ids: vec![2],
        pad_token_id: None,
        labels: vec![],
        pooling: Default::default(),
        causal: true,
    }
}

/// A model of shape `cfg` with small random weights (uniform, std 0.02) and unit norm weights.
pub fn random_model(cfg: &ModelConfig, seed: u64) -> Model {
    let mut params = Params::zeros(cfg);
    let mut rng = Rng::new(seed);
    let a = 0.02 * 3f32.sqrt();
    for spec in params.layout.specs.clone() {
        let t = &mut params.data[spec.offset..spec.offset + spec.len];
        if spec.shape.len() == 1 && spec.name.contains("norm") && spec.name.ends_with("weight") {
            t.fill(1.0);
        } else {
            t.iter_mut()
                .for_each(|x| *x = (rng.uniform() * 2.0 - 1.0) * a);
        }
    }
    Model::new(cfg.clone(), params, DType::F32)
}

/// One CPU storage type's measurements: tinychat's runs and the peer's, interleaved.
struct CpuRuns {
    qtype: QType,
    /// Bytes of weights the engine holds / reads per decode step.
    held: u64,
    streamed: u64,
    prefill: Vec<f64>,
    decode: Vec<f64>,
    peer: Option<crate::bench::PeerRuns>,
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn prompt_tokens(n: usize, vocab: usize) -> Vec<u32> {
    let mut rng = Rng::new(7);
    (0..n)
        .map(|_| (rng.next_u64() % vocab as u64) as u32)
        .collect()
}

fn bench_cpu(model: &Model, prompt: &[u32], steps: usize) -> Result<(f64, f64)> {
    // Warm-up: rayon's threads, page faults on the weights.
    model.forward(&prompt[..1], &mut model.new_cache(), Logits::Last)?;
    let mut cache = model.new_cache();
    let t = Instant::now();
    let mut tok = argmax(&model.forward(prompt, &mut cache, Logits::Last)?);
    let prefill = prompt.len() as f64 / secs(t);
    let t = Instant::now();
    for _ in 0..steps {
        tok = argmax(&model.forward(&[tok], &mut cache, Logits::Last)?);
    }
    Ok((prefill, steps as f64 / secs(t)))
}

/// Bytes of weight matrices a CPU decode step reads, in their storage types (the embedding
/// lookup reads one row; a tied head reads the whole embedding).
fn cpu_weight_bytes(model: &Model) -> u64 {
    let w = &model.weights;
    let matrices: usize = w
        .layout
        .specs
        .iter()
        .zip(&w.tensors)
        .filter(|(s, _)| s.is_matrix())
        .map(|(_, t)| t.bytes())
        .sum();
    let head = if w.get(crate::params::Slot::LmHead).is_none() {
        w.lm_head().bytes()
    } else {
        0 // lm_head is a matrix spec already
    };
    (matrices + head) as u64
}

/// Runs the benchmark and prints the table to stdout.
pub fn run(args: &InferBenchArgs) -> Result<()> {
    let (prompt_len, steps) = if args.quick {
        (args.prompt.min(16), args.tokens.min(4))
    } else {
        (args.prompt, args.tokens)
    };
    if prompt_len == 0 || steps == 0 {
        return Err(Error::InvalidArgument(
            "--prompt and --tokens must be at least 1 (example: tinychat bench infer --smollm --prompt 64 --tokens 16)".into(),
        ));
    }
    let (cpu_on, gpu_on) = match args.engines.as_str() {
        "both" => (true, true),
        "cpu" => (true, false),
        "gpu" => (false, true),
        e => {
            return Err(Error::InvalidArgument(format!(
                "--engines {e:?}: use cpu, gpu or both"
            )))
        }
    };
    let formats = super::bench_decode::parse_formats(&args.weights)?;

    let (model, name) = match &args.model {
        Some(dir) => (Model::load(dir)?, dir.display().to_string()),
        None => {
            eprintln!("building a random SmolLM2-135M-shaped model...");
            (
                random_model(&smollm2_135m_config(), 0),
                "random SmolLM2-135M-shaped llama".to_string(),
            )
        }
    };
    let cfg = &model.config;
    if prompt_len + steps + 1 > cfg.max_seq_len {
        return Err(Error::InvalidArgument(format!(
            "--prompt {prompt_len} + --tokens {steps} exceed the model's context ({})",
            cfg.max_seq_len
        )));
    }
    let n_params = model.weights.numel();
    println!(
        "model: {name}: {} V={} C={} L={} NH={} NKV={} HS={} FF={}{}, {:.1}M parameters",
        cfg.family.model_type(),
        cfg.vocab_size,
        cfg.dim,
        cfg.n_layers,
        cfg.n_heads,
        cfg.n_kv_heads,
        cfg.head_dim,
        cfg.hidden_dim,
        if cfg.tie_embeddings {
            ", tied embeddings"
        } else {
            ""
        },
        n_params as f64 / 1e6
    );
    println!("batch 1, prompt {prompt_len} tokens (prefill), then {steps} decode steps of one token (CPU: the logits of the last position read back each step; GPU: the GPU-resident loop, greedy on the GPU)");
    let prompt = prompt_tokens(prompt_len, cfg.vocab_size);

    let mut cpu_runs = vec![];
    if cpu_on {
        cpu_runs = bench_cpu_types(args, &model, &prompt, steps)?;
    }
    let mut gpu_desc = None;
    if gpu_on {
        let (ctx, peak) = (args.context, args.peak_gbs);
        gpu_desc = super::bench_decode::run(&model, &prompt, steps, &formats, ctx, peak)?;
    }

    if let Some(d) = gpu_desc {
        println!("GPU adapter: {d}");
    }
    if !cpu_runs.is_empty() {
        print_cpu_table(args, &cpu_runs, prompt_len, steps);
    }
    Ok(())
}

/// The CPU engine on each `--dtype`, `--rounds` times, each run followed by the peer's.
fn bench_cpu_types(
    args: &InferBenchArgs,
    model: &Model,
    prompt: &[u32],
    steps: usize,
) -> Result<Vec<CpuRuns>> {
    let mut types = vec![];
    for name in args
        .dtype
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        types.push(QType::from_name(name).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "--dtype {name:?}: use f32, f16, bf16, q8_0, q4_0, q4_1, q4_k or q6_k (example: --dtype f32,q4_1)"
            ))
        })?);
    }
    let peer = match args.peer.as_deref() {
        None => false,
        Some("llamacpp" | "llama.cpp") => true,
        Some(p) => {
            return Err(Error::InvalidArgument(format!(
                "--peer {p:?}: the peer is llamacpp (example: --peer llamacpp)"
            )))
        }
    };
    let mut out = vec![];
    for q in types {
        eprintln!("CPU, {q} weights...");
        let mut weights = model.weights.clone();
        crate::bench::cast_for_bench(&mut weights, q);
        let m = Model::from_weights(model.config.clone(), weights);
        let mut r = CpuRuns {
            qtype: q,
            held: m.weights.bytes() as u64,
            streamed: cpu_weight_bytes(&m),
            prefill: vec![],
            decode: vec![],
            peer: None,
        };
        for round in 0..args.rounds.max(1) {
            let (p, d) = bench_cpu(&m, prompt, steps)?;
            eprintln!(
                "  tinychat {q} round {round}: prefill {p:.1} tok/s, decode {d:.2} tok/s (load {})",
                crate::bench::loadavg()
            );
            r.prefill.push(p);
            r.decode.push(d);
            if peer {
                let pr = crate::bench::run_llamacpp(q, prompt.len(), steps, 1)?;
                eprintln!(
                    "  {} {q} round {round}: prefill {:.1} tok/s, decode {:.2} tok/s",
                    pr.engine, pr.prefill_tps[0], pr.decode_tps[0]
                );
                match &mut r.peer {
                    None => r.peer = Some(pr),
                    Some(all) => {
                        all.prefill_tps.extend(pr.prefill_tps);
                        all.decode_tps.extend(pr.decode_tps);
                    }
                }
            }
        }
        out.push(r);
    }
    Ok(out)
}

fn print_cpu_table(args: &InferBenchArgs, runs: &[CpuRuns], prompt: usize, steps: usize) {
    use crate::bench::{loadavg, median, min_max};
    eprintln!("measuring the memory read roof (1 GiB, all threads)...");
    let roof = crate::bench::dram_read_gbs();
    let threads = crate::ops::num_threads();
    println!();
    println!(
        "CPU, {threads} threads, kernels: {}; prompt {prompt} tokens then {steps} decode steps; median of {} interleaved rounds [min-max]; memory read roof {roof:.1} GB/s; load average {}",
        crate::ops::matvec::Isa::current().name(),
        args.rounds.max(1),
        loadavg()
    );
    println!("| engine | weights | prefill tok/s | decode tok/s | weights held MB | read per token MB | decode GB/s | of roof |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let span = |v: &[f64]| {
        let (lo, hi) = min_max(v);
        format!("{:.1} [{lo:.1}-{hi:.1}]", median(v))
    };
    for r in runs {
        let gbs = r.streamed as f64 * median(&r.decode) / 1e9;
        println!(
            "| tinychat | {} | {} | {} | {:.1} | {:.1} | {gbs:.1} | {:.0}% |",
            r.qtype,
            span(&r.prefill),
            span(&r.decode),
            r.held as f64 / 1e6,
            r.streamed as f64 / 1e6,
            100.0 * gbs / roof
        );
        if let Some(p) = &r.peer {
            // llama.cpp reads its whole file per token, less the one embedding row it looks up.
            let gbs = p.file_bytes as f64 * median(&p.decode_tps) / 1e9;
            println!(
                "| {} | {} | {} | {} | {:.1} (file) | | {gbs:.1} | {:.0}% |",
                p.engine,
                r.qtype,
                span(&p.prefill_tps),
                span(&p.decode_tps),
                p.file_bytes as f64 / 1e6,
                100.0 * gbs / roof
            );
            println!(
                "| ratio tinychat / llama.cpp | {} | {:.2}x | {:.2}x | | | | |",
                r.qtype,
                median(&r.prefill) / median(&p.prefill_tps),
                median(&r.decode) / median(&p.decode_tps)
            );
        }
    }
}

/// Options of `tinychat bench moderate`.
#[derive(Clone, Debug)]
pub struct ModerateBenchArgs {
    /// A classifier directory or a pipeline bundle.
    pub model: PathBuf,
    /// Texts to check: JSONL with a "text" field (the moderation data's format) or one text per
    /// line. Default: data/moderation_challenge.jsonl (420 hand-written chat messages).
    pub texts: Option<PathBuf>,
    /// At most this many texts.
    pub limit: Option<usize>,
    /// Passes over the texts per engine (the best pass counts).
    pub repeat: usize,
}

/// Texts from JSONL ("text" fields) or plain lines; errors name the file and line.
fn read_texts(path: &std::path::Path, limit: Option<usize>) -> Result<Vec<String>> {
    let body = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = vec![];
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if line.trim_start().starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                Error::InvalidArgument(format!("{}:{}: {e}", path.display(), i + 1))
            })?;
            let t = v["text"].as_str().ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{}:{}: no \"text\" string in this JSON object",
                    path.display(),
                    i + 1
                ))
            })?;
            out.push(t.to_string());
        } else {
            out.push(line.to_string());
        }
        if limit.is_some_and(|n| out.len() >= n) {
            break;
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no texts",
            path.display()
        )));
    }
    Ok(out)
}

/// `tinychat bench moderate`: moderation checks per second of one classifier on the CPU engine
/// and on the GPU engine, over the same texts (each a whole `Moderator::check`: normalising,
/// tokenizing, every window of a long text), with the largest score difference between them.
pub fn run_moderate(args: &ModerateBenchArgs) -> Result<()> {
    use crate::engine::{Backend, Engine};
    use crate::moderation::Moderator;
    let m = Moderator::open(&args.model)?;
    let path = args
        .texts
        .clone()
        .unwrap_or_else(|| PathBuf::from("data/moderation_challenge.jsonl"));
    let texts = read_texts(&path, args.limit)?;
    let repeat = args.repeat.max(1);
    let cfg = &m.model.config;
    // Tokens the classifier reads: of the normalised text, every window counted.
    let tokens: usize = texts
        .iter()
        .map(|t| m.windows(t).map(|w| w.iter().map(Vec::len).sum::<usize>()))
        .sum::<Result<usize>>()?;
    if let Some(h) = &m.head {
        println!(
            "moderation head: {}: the first {} of the trunk's {} blocks{} (C={}, {:.2}M parameters, {} weights), {:?} pooling over windows of {} tokens, hidden {}, {} labels",
            args.model.display(),
            h.config.layers,
            cfg.n_layers,
            match &h.blocks {
                Some(b) => format!(
                    ", the top {} of them the head's own ({} weights, run on the CPU)",
                    h.config.tuned_blocks,
                    b.storage().name()
                ),
                None => String::new(),
            },
            cfg.dim,
            m.model.weights.numel() as f64 / 1e6,
            m.model.storage().name(),
            h.config.pooling,
            h.config.window,
            h.config.hidden,
            h.labels.len()
        );
    } else {
        println!(
        "classifier: {}: V={} C={} L={} NH={} HS={} FF={}, pooling {}, {} labels, {:.2}M parameters ({} weights)",
        args.model.display(),
        cfg.vocab_size,
        cfg.dim,
        cfg.n_layers,
        cfg.n_heads,
        cfg.head_dim,
        cfg.hidden_dim,
        cfg.pooling,
        cfg.labels.len(),
        m.model.weights.numel() as f64 / 1e6,
        m.model.storage().name(),
    );
    }
    println!(
        "{} texts from {} ({:.1} tokens each on average), one check at a time; best of {repeat} passes",
        texts.len(),
        path.display(),
        tokens as f64 / texts.len() as f64
    );
    // The best pass of `repeat`, after one warm-up check; returns (seconds, the scores).
    let time = |check: &mut dyn FnMut(&str) -> Result<Vec<f32>>| -> Result<(f64, Vec<f32>)> {
        check(&texts[0])?;
        let mut best = f64::INFINITY;
        let mut scores = vec![];
        for _ in 0..repeat {
            let t = Instant::now();
            scores.clear();
            for text in &texts {
                scores.extend(check(text)?);
            }
            best = best.min(secs(t));
        }
        Ok((best, scores))
    };
    eprintln!("CPU...");
    let (cpu_s, cpu_scores) = time(&mut |t| m.scores(t))?;
    let n = texts.len() as f64;
    println!(
        "| engine | checks/s | ms per check | speed-up over the CPU | max abs score diff vs CPU |\n| --- | ---: | ---: | ---: | ---: |"
    );
    println!(
        "| CPU ({} threads) | {:.1} | {:.3} | 1.00 | — |",
        crate::ops::num_threads(),
        n / cpu_s,
        1e3 * cpu_s / n
    );
    match Engine::new(m.model.clone(), m.engine_options(Backend::Gpu, None)) {
        Err(e) => println!("| GPU | not measured ({e}) | | | |"),
        Ok(mut engine) => {
            eprintln!("GPU...");
            let what = engine.describe();
            let (gpu_s, gpu_scores) =
                time(&mut |t| pollster::block_on(m.scores_async(&mut engine, t)))?;
            let diff = gpu_scores
                .iter()
                .zip(&cpu_scores)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            println!(
                "| {what} | {:.1} | {:.3} | {:.2} | {diff:.2e} |",
                n / gpu_s,
                1e3 * gpu_s / n,
                cpu_s / gpu_s
            );
            if !engine.is_gpu() {
                println!(
                    "(the GPU failed during the run; it finished on the CPU: {})",
                    engine.fallback_reason().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
