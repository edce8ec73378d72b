//! The GPU engine: every transformer op as a WGSL compute shader (`shaders/<op>.wgsl`), run through
//! wgpu — WebGPU in the browser, Vulkan / Metal / DX12 natively.
//!
//! - [`GpuContext`]: adapter and device (async), the limits and features they offer, a
//!   device-loss flag, and the compute pipelines, each built once and cached by (op, variant).
//! - [`buffers`]: weight upload in the storage format (f32, f16, bf16, GGUF blocks), storage
//!   buffers, async readback.
//! - [`kernels`]: one dispatch function per op, each the twin of a CPU op in `crate::ops`, and the
//!   [`kernels::Recorder`] that encodes a sequence of dispatches into one submission.
//! - [`model`]: [`GpuModel`] (weights uploaded once, Q/K/V and gate/up stacked).
//! - [`session`]: [`GpuSession`] (activations and KV cache allocated once; a whole step — or
//!   several decode steps — encoded into one submission).
//! - [`decode`]: the GPU-resident decode loop: sampling on the GPU, tokens read back in batches.
//!
//! Shapes travel in a small uniform per dispatch (never baked into shader text); workgroup sizes
//! are `override` constants set when a pipeline is built.

pub mod buffers;
pub mod decode;
pub mod kernels;
pub mod model;
pub mod session;

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod bench_decode;

pub use buffers::{Weight, WeightFormat};
pub use model::GpuModel;
pub use session::GpuSession;

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The compute ops. Each has one shader file and one dispatch function in [`kernels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Tiled matrix multiply with a fused epilogue (prefill).
    Matmul,
    /// Matrix–vector product with the norm and epilogue fused in (decode).
    Matvec,
    RmsNorm,
    LayerNorm,
    /// Attention over the KV cache: tiled over queries, split over positions for decode.
    Attention,
    /// Merges split-K attention partials.
    AttentionCombine,
    Embedding,
    /// Greedy or top-k/top-p sampling with the repetition penalty and the RNG on the GPU.
    Sample,
    /// Sequence pooling for a classifier's head.
    Pool,
}

/// How a binding is accessed; binding 0 is always the shape uniform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    ReadWrite,
}

use Access::{Read as R, ReadWrite as RW};

impl Op {
    pub const ALL: [Op; 9] = [
        Op::Matmul,
        Op::Matvec,
        Op::RmsNorm,
        Op::LayerNorm,
        Op::Attention,
        Op::AttentionCombine,
        Op::Embedding,
        Op::Sample,
        Op::Pool,
    ];

    /// The shader file, `shaders/<name>.wgsl`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Matmul => "matmul",
            Op::Matvec => "matvec",
            Op::RmsNorm => "rmsnorm",
            Op::LayerNorm => "layernorm",
            Op::Attention => "attention",
            Op::AttentionCombine => "attention_combine",
            Op::Embedding => "embedding",
            Op::Sample => "sample",
            Op::Pool => "pool",
        }
    }

    /// The shader text of the op alone (ops that read weights also need a weights prelude, and
    /// the linear ops `linear.wgsl`).
    pub fn source(self) -> &'static str {
        match self {
            Op::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Op::Matvec => include_str!("../../shaders/matvec.wgsl"),
            Op::RmsNorm => include_str!("../../shaders/rmsnorm.wgsl"),
            Op::LayerNorm => include_str!("../../shaders/layernorm.wgsl"),
            Op::Attention => include_str!("../../shaders/attention.wgsl"),
            Op::AttentionCombine => include_str!("../../shaders/attention_combine.wgsl"),
            Op::Embedding => include_str!("../../shaders/embedding.wgsl"),
            Op::Sample => include_str!("../../shaders/sample.wgsl"),
            Op::Pool => include_str!("../../shaders/pool.wgsl"),
        }
    }

    /// Whether the shader reads a weight matrix through the prelude (binding 1), and so comes in
    /// one variant per [`WeightFormat`].
    pub fn reads_weights(self) -> bool {
        matches!(self, Op::Matmul | Op::Matvec | Op::Embedding)
    }

    /// Whether `linear.wgsl` (the linear ops' uniform, bindings and epilogues) goes before it.
    pub fn is_linear(self) -> bool {
        matches!(self, Op::Matmul | Op::Matvec)
    }

    /// Bindings 1.. after the uniform, in order.
    pub fn bindings(self) -> &'static [Access] {
        match self {
            // w, x, vecs, rope, out, kv
            Op::Matmul | Op::Matvec => &[R, R, R, R, RW, RW],
            // weight, x, out
            Op::RmsNorm => &[R, R, RW],
            // weight, bias, x, out
            Op::LayerNorm => &[R, R, R, RW],
            // q, kv, out, part
            Op::Attention => &[R, R, RW, RW],
            // part, out
            Op::AttentionCombine => &[R, RW],
            // wte, tokens, wpe, out
            Op::Embedding => &[R, R, R, RW],
            // logits, state, tokens, ring
            Op::Sample => &[R, RW, RW, RW],
            // x, out
            Op::Pool => &[R, RW],
        }
    }

    /// The `WG` override constant (threads per workgroup), or None for a fixed workgroup
    /// (the tiled matmul, whose tile sizes are constants, and the sampler's 256 threads).
    pub fn workgroup_size(self) -> Option<u32> {
        match self {
            Op::Matmul | Op::Sample => None,
            Op::Matvec => Some(kernels::MATVEC_WG),
            _ => Some(64),
        }
    }
}

/// Which compiled form of an op's shader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// An op that reads no weights.
    Plain,
    /// Weights in this format (the tiled matmul: 64 × 64 tiles).
    Weights(WeightFormat),
    /// The tiled matmul with 32 × 32 tiles, for short prompts.
    SmallTiles(WeightFormat),
}

impl Variant {
    fn weights(self) -> Option<WeightFormat> {
        match self {
            Variant::Plain => None,
            Variant::Weights(f) | Variant::SmallTiles(f) => Some(f),
        }
    }
}

/// The weights prelude of a format, `shaders/weights_<format>.wgsl`.
pub fn weights_prelude(format: WeightFormat) -> &'static str {
    match format {
        WeightFormat::F32 => include_str!("../../shaders/weights_f32.wgsl"),
        WeightFormat::F16 => include_str!("../../shaders/weights_f16.wgsl"),
        WeightFormat::BF16 => include_str!("../../shaders/weights_bf16.wgsl"),
        WeightFormat::Q8_0 => include_str!("../../shaders/weights_q8_0.wgsl"),
        WeightFormat::Q4_0 => include_str!("../../shaders/weights_q4_0.wgsl"),
        WeightFormat::Q4_1 => include_str!("../../shaders/weights_q4_1.wgsl"),
        WeightFormat::Q4K => include_str!("../../shaders/weights_q4_k.wgsl"),
        WeightFormat::Q6K => include_str!("../../shaders/weights_q6_k.wgsl"),
    }
}

/// The contract of the weights preludes (`struct X8`, what `load_w4` and `dot32` do).
pub const WEIGHTS_COMMON: &str = include_str!("../../shaders/weights.wgsl");

/// What matvec.wgsl and matmul.wgsl share: uniform, bindings, epilogues.
pub const LINEAR_PRELUDE: &str = include_str!("../../shaders/linear.wgsl");

/// Every file in `shaders/`, by name; tests check this list against the directory.
pub const SHADER_FILES: [&str; 19] = [
    "matmul.wgsl",
    "matvec.wgsl",
    "linear.wgsl",
    "rmsnorm.wgsl",
    "layernorm.wgsl",
    "attention.wgsl",
    "attention_combine.wgsl",
    "embedding.wgsl",
    "sample.wgsl",
    "pool.wgsl",
    "weights.wgsl",
    "weights_f32.wgsl",
    "weights_f16.wgsl",
    "weights_bf16.wgsl",
    "weights_q8_0.wgsl",
    "weights_q4_0.wgsl",
    "weights_q4_1.wgsl",
    "weights_q4_k.wgsl",
    "weights_q6_k.wgsl",
];

/// The full WGSL module for (op, variant): `weights.wgsl` and the format's prelude, if any,
/// `linear.wgsl` for the linear ops, then the op's file.
pub fn shader_source(op: Op, variant: Variant) -> String {
    let mut s = String::new();
    if let Some(f) = variant.weights() {
        s.push_str(WEIGHTS_COMMON);
        s.push('\n');
        s.push_str(weights_prelude(f));
        s.push('\n');
    }
    if op.is_linear() {
        s.push_str(LINEAR_PRELUDE);
        s.push('\n');
    }
    s.push_str(op.source());
    s
}

/// The variants an op is compiled in.
pub fn variants(op: Op) -> Vec<Variant> {
    match op {
        Op::Matmul => WeightFormat::ALL
            .into_iter()
            .flat_map(|f| [Variant::Weights(f), Variant::SmallTiles(f)])
            .collect(),
        _ if op.reads_weights() => WeightFormat::ALL
            .into_iter()
            .map(Variant::Weights)
            .collect(),
        _ => vec![Variant::Plain],
    }
}

/// Override constants of (op, variant) besides `WG`.
fn overrides(op: Op, variant: Variant) -> Vec<(&'static str, f64)> {
    match (op, variant) {
        (Op::Matvec, _) => vec![("LANES", kernels::MATVEC_LANES as f64)],
        (Op::Matmul, Variant::SmallTiles(_)) => vec![("TM", 2.0), ("TN", 2.0)],
        _ => vec![],
    }
}

/// Size of one dispatch's slot in the uniform arena: the largest `Shape` struct is 96 bytes,
/// and dynamic uniform offsets must be multiples of `min_uniform_buffer_offset_alignment`
/// (256 on most adapters).
pub const UNIFORM_BINDING_SIZE: u64 = 128;

/// Whether the device is still usable; set by wgpu's device-lost and uncaptured-error callbacks.
#[derive(Default)]
struct Health {
    lost: AtomicBool,
    message: Mutex<Option<String>>,
}

impl Health {
    fn fail(&self, msg: String) {
        let mut m = self.message.lock().unwrap_or_else(|e| e.into_inner());
        if m.is_none() {
            *m = Some(msg);
        }
        self.lost.store(true, Ordering::SeqCst);
    }
}

/// A wgpu adapter and device, and what was built on it once: bind group layouts and pipelines.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_info: wgpu::AdapterInfo,
    /// The adapter's limits, all requested for the device.
    pub limits: wgpu::Limits,
    /// Features the adapter offers (tinychat needs none: f16 weights are unpacked by hand).
    pub features: wgpu::Features,
    /// Byte stride between the uniform slots of consecutive dispatches.
    pub uniform_stride: u64,
    health: Arc<Health>,
    layouts: Mutex<HashMap<&'static [Access], (wgpu::BindGroupLayout, wgpu::PipelineLayout)>>,
    pipelines: Mutex<HashMap<(Op, Variant), wgpu::ComputePipeline>>,
    /// A small buffer bound where an op's optional input (a bias, learned positions) is absent.
    pub placeholder: wgpu::Buffer,
    /// The same for an absent read-write binding (a buffer may not be bound both ways at once).
    pub placeholder_rw: wgpu::Buffer,
    /// Models whose weights are on this device, for [`GpuModel::shared`]: engines on the same
    /// `Arc<Model>` (a chat model and the moderation head whose trunk it is) use one upload.
    models: Mutex<Vec<Uploaded>>,
    /// Bytes of weights uploaded to this device so far ([`Self::weight_bytes_uploaded`]).
    weight_bytes: AtomicU64,
}

/// One model's weights on a device: which model, converted to which format, and the upload
/// (weak: the weights leave the device with the last session that uses them).
pub(crate) struct Uploaded {
    pub model: Weak<crate::model::Model>,
    pub format: Option<WeightFormat>,
    pub gpu: Weak<GpuModel>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.adapter_info.name)
            .field("backend", &self.adapter_info.backend)
            .finish()
    }
}

/// Whether the page's `navigator.gpu` exists. wgpu's WebGPU backend panics without it (in Node,
/// or in a browser without WebGPU), so we look before asking for an adapter.
#[cfg(target_arch = "wasm32")]
pub fn webgpu_available() -> bool {
    use wasm_bindgen::JsValue;
    let global = js_sys::global();
    let Ok(nav) = js_sys::Reflect::get(&global, &JsValue::from_str("navigator")) else {
        return false;
    };
    if nav.is_undefined() || nav.is_null() {
        return false;
    }
    js_sys::Reflect::get(&nav, &JsValue::from_str("gpu"))
        .map(|g| !g.is_undefined() && !g.is_null())
        .unwrap_or(false)
}

impl GpuContext {
    /// Finds an adapter and opens a device with every limit the adapter offers. Natively the
    /// backend can be chosen with `WGPU_BACKEND` (e.g. `vulkan`) and the adapter with
    /// `WGPU_ADAPTER_NAME`. Fails with [`Error::Gpu`] when there is no adapter.
    pub async fn new() -> Result<Self> {
        #[cfg(target_arch = "wasm32")]
        if !webgpu_available() {
            return Err(Error::Gpu(
                "this JavaScript environment has no WebGPU (navigator.gpu is missing)".into(),
            ));
        }
        #[cfg(target_arch = "wasm32")]
        let desc = wgpu::InstanceDescriptor {
            backends: wgpu::Backends::BROWSER_WEBGPU,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        };
        #[cfg(not(target_arch = "wasm32"))]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let instance = wgpu::Instance::new(desc);
        #[cfg(not(target_arch = "wasm32"))]
        let adapter = match std::env::var("WGPU_ADAPTER_NAME") {
            Ok(name) => {
                let name = name.to_lowercase();
                instance
                    .enumerate_adapters(wgpu::Backends::all())
                    .await
                    .into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&name))
                    .ok_or_else(|| Error::Gpu(format!("no adapter whose name contains {name:?}")))?
            }
            Err(_) => request_adapter(&instance).await?,
        };
        #[cfg(target_arch = "wasm32")]
        let adapter = request_adapter(&instance).await?;
        Self::from_adapter(adapter).await
    }

    /// Opens a device on `adapter`.
    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<Self> {
        let adapter_info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("tinychat"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                memory_hints: wgpu::MemoryHints::Performance,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::Gpu(format!(
                    "could not open a device on {}: {e}",
                    adapter_info.name
                ))
            })?;
        let health = Arc::new(Health::default());
        {
            let h = health.clone();
            device.set_device_lost_callback(move |reason, msg| {
                h.fail(format!("the GPU device was lost ({reason:?}): {msg}"));
            });
            let h = health.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                h.fail(format!("GPU error: {e}"));
            }));
        }
        let uniform_stride =
            (limits.min_uniform_buffer_offset_alignment as u64).max(UNIFORM_BINDING_SIZE);
        let placeholder = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("placeholder"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let placeholder_rw = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("placeholder_rw"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(GpuContext {
            device,
            queue,
            adapter_info,
            limits,
            features,
            uniform_stride,
            health,
            layouts: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            placeholder,
            placeholder_rw,
            models: Mutex::new(Vec::new()),
            weight_bytes: AtomicU64::new(0),
        })
    }

    /// Bytes of model weights (matrices, norm vectors, tables) uploaded to this device since it
    /// was opened, counting every [`GpuModel::new`]: two engines that share one upload
    /// ([`GpuModel::shared`]) add it once.
    pub fn weight_bytes_uploaded(&self) -> u64 {
        self.weight_bytes.load(Ordering::SeqCst)
    }

    pub(crate) fn count_weight_bytes(&self, n: u64) {
        self.weight_bytes.fetch_add(n, Ordering::SeqCst);
    }

    /// The registry of uploads behind [`GpuModel::shared`].
    pub(crate) fn uploaded(&self) -> std::sync::MutexGuard<'_, Vec<Uploaded>> {
        self.models.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// "llvmpipe (LLVM 19.1.7, 256 bits) (Vulkan)", for logs and benchmarks.
    /// In the browser WebGPU hides the adapter's name; then the driver description (if any)
    /// and the device type stand in for it.
    pub fn describe(&self) -> String {
        let i = &self.adapter_info;
        let name = if i.name.is_empty() {
            let extra = [i.driver.as_str(), i.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            let kind = match i.device_type {
                wgpu::DeviceType::Cpu => "software",
                wgpu::DeviceType::DiscreteGpu => "discrete GPU",
                wgpu::DeviceType::IntegratedGpu => "integrated GPU",
                wgpu::DeviceType::VirtualGpu => "virtual GPU",
                wgpu::DeviceType::Other => "unnamed",
            };
            format!("{kind} adapter {extra}").trim_end().to_string()
        } else {
            i.name.clone()
        };
        format!("{name} ({:?})", i.backend)
    }

    /// Whether the adapter is a CPU rasteriser (Mesa lavapipe/llvmpipe, WARP, SwiftShader).
    pub fn is_software(&self) -> bool {
        self.adapter_info.device_type == wgpu::DeviceType::Cpu
    }

    /// Err with the reason once the device is lost or a GPU error was reported.
    pub fn check(&self) -> Result<()> {
        if self.health.lost.load(Ordering::SeqCst) {
            let msg = self
                .health
                .message
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_else(|| "the GPU device was lost".into());
            return Err(Error::Gpu(msg));
        }
        Ok(())
    }

    /// Whether the device was lost (or reported an error that makes its results untrustworthy).
    pub fn is_lost(&self) -> bool {
        self.health.lost.load(Ordering::SeqCst)
    }

    /// Destroys the device, as a driver reset would; later work fails and engines fall back to
    /// the CPU. For tests of that path.
    pub fn simulate_device_loss(&self) {
        self.device.destroy();
        // The lost callback may fire later (or never, on some backends); mark it now.
        self.health
            .fail("the GPU device was lost (destroyed by simulate_device_loss)".into());
    }

    /// The bind group layout of an op (ops with the same bindings share one).
    pub fn bind_group_layout(&self, op: Op) -> wgpu::BindGroupLayout {
        self.layout(op).0
    }

    fn layout(&self, op: Op) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        let mut map = self.layouts.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(op.bindings())
            .or_insert_with(|| {
                let mut entries = vec![wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: wgpu::BufferSize::new(UNIFORM_BINDING_SIZE),
                    },
                    count: None,
                }];
                for (i, a) in op.bindings().iter().enumerate() {
                    entries.push(wgpu::BindGroupLayoutEntry {
                        binding: i as u32 + 1,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage {
                                read_only: *a == Access::Read,
                            },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    });
                }
                let bgl = self
                    .device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some(op.name()),
                        entries: &entries,
                    });
                let pl = self
                    .device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(op.name()),
                        bind_group_layouts: &[Some(&bgl)],
                        immediate_size: 0,
                    });
                (bgl, pl)
            })
            .clone()
    }

    /// The pipeline of (op, variant), built on first use and cached.
    pub fn pipeline(&self, op: Op, variant: Variant) -> wgpu::ComputePipeline {
        if let Some(p) = self
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(op, variant))
        {
            return p.clone();
        }
        let (_, layout) = self.layout(op);
        let label = format!("{}:{variant:?}", op.name());
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&label),
                source: wgpu::ShaderSource::Wgsl(shader_source(op, variant).into()),
            });
        let wg = op.workgroup_size().map(|w| ("WG", w as f64));
        let constants: Vec<(&str, f64)> = wg.into_iter().chain(overrides(op, variant)).collect();
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&layout),
                module: &module,
                entry_point: Some("main"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((op, variant), pipeline.clone());
        pipeline
    }

    /// The largest buffer a shader may bind, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }
}

async fn request_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        })
        .await
        .map_err(|e| Error::Gpu(format!("no adapter found: {e}")))
}
