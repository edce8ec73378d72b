//! The GPU engine: every transformer op as a WGSL compute shader (`shaders/<op>.wgsl`), run through
//! wgpu — WebGPU in the browser, Vulkan / Metal / DX12 natively.
//!
//! - [`GpuContext`]: adapter and device (async), the limits and features they offer, a
//!   device-loss flag, and the compute pipelines, each built once and cached by (op, variant).
//! - [`buffers`]: weight upload (f32, or f16 packed two per u32), storage buffers, async readback.
//! - [`kernels`]: one dispatch function per op, each the twin of a CPU op in `crate::ops`, and the
//!   [`kernels::Recorder`] that encodes a sequence of dispatches into one submission.
//! - [`model`]: [`GpuModel`] (weights uploaded once) and [`GpuSession`] (activations and KV cache
//!   allocated once; the whole forward pass of a step encoded into one submission).
//!
//! Shapes travel in a small uniform per dispatch (never baked into shader text); workgroup sizes
//! are `override` constants set when a pipeline is built.

pub mod buffers;
pub mod kernels;
pub mod model;

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;

pub use buffers::{Weight, WeightFormat};
pub use model::{GpuModel, GpuSession};

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The compute ops. Each has one shader file and one dispatch function in [`kernels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Tiled matrix multiply (prefill).
    Matmul,
    /// Matrix–vector product (decode).
    Matvec,
    RmsNorm,
    LayerNorm,
    Rope,
    Attention,
    Swiglu,
    Gelu,
    Residual,
    Embedding,
    Argmax,
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
    pub const ALL: [Op; 12] = [
        Op::Matmul,
        Op::Matvec,
        Op::RmsNorm,
        Op::LayerNorm,
        Op::Rope,
        Op::Attention,
        Op::Swiglu,
        Op::Gelu,
        Op::Residual,
        Op::Embedding,
        Op::Argmax,
        Op::Pool,
    ];

    /// The shader file, `shaders/<name>.wgsl`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Matmul => "matmul",
            Op::Matvec => "matvec",
            Op::RmsNorm => "rmsnorm",
            Op::LayerNorm => "layernorm",
            Op::Rope => "rope",
            Op::Attention => "attention",
            Op::Swiglu => "swiglu",
            Op::Gelu => "gelu",
            Op::Residual => "residual",
            Op::Embedding => "embedding",
            Op::Argmax => "argmax",
            Op::Pool => "pool",
        }
    }

    /// The shader text of the op alone (ops that read weights also need a weights prelude).
    pub fn source(self) -> &'static str {
        match self {
            Op::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Op::Matvec => include_str!("../../shaders/matvec.wgsl"),
            Op::RmsNorm => include_str!("../../shaders/rmsnorm.wgsl"),
            Op::LayerNorm => include_str!("../../shaders/layernorm.wgsl"),
            Op::Rope => include_str!("../../shaders/rope.wgsl"),
            Op::Attention => include_str!("../../shaders/attention.wgsl"),
            Op::Swiglu => include_str!("../../shaders/swiglu.wgsl"),
            Op::Gelu => include_str!("../../shaders/gelu.wgsl"),
            Op::Residual => include_str!("../../shaders/residual.wgsl"),
            Op::Embedding => include_str!("../../shaders/embedding.wgsl"),
            Op::Argmax => include_str!("../../shaders/argmax.wgsl"),
            Op::Pool => include_str!("../../shaders/pool.wgsl"),
        }
    }

    /// Whether the shader reads a weight matrix through `load_w4` (binding 1), and so comes in
    /// an f32 and an f16 variant.
    pub fn reads_weights(self) -> bool {
        matches!(self, Op::Matmul | Op::Matvec | Op::Embedding)
    }

    /// Bindings 1.. after the uniform, in order.
    pub fn bindings(self) -> &'static [Access] {
        match self {
            // w, x, bias, out
            Op::Matmul | Op::Matvec => &[R, R, R, RW],
            // weight, x, out
            Op::RmsNorm => &[R, R, RW],
            // weight, bias, x, out
            Op::LayerNorm => &[R, R, R, RW],
            // cos, sin, x (in place)
            Op::Rope => &[R, R, RW],
            // q, k_cache, v_cache, out
            Op::Attention => &[R, R, R, RW],
            // gate, up, out
            Op::Swiglu => &[R, R, RW],
            // x, out
            Op::Gelu | Op::Residual => &[R, RW],
            // wte, tokens, wpe, out
            Op::Embedding => &[R, R, R, RW],
            // x, out
            Op::Argmax | Op::Pool => &[R, RW],
        }
    }

    /// The `WG` override constant (threads per workgroup), or None for a fixed workgroup
    /// (the tiled matmul, whose tile sizes are constants).
    pub fn workgroup_size(self) -> Option<u32> {
        match self {
            Op::Matmul => None,
            Op::Argmax | Op::Matvec => Some(256),
            _ => Some(64),
        }
    }
}

/// Which compiled form of an op's shader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// An op that reads no weights.
    Plain,
    /// Weights in this format.
    Weights(WeightFormat),
}

/// The weights prelude (`shaders/weights_f32.wgsl` or `weights_f16.wgsl`).
pub fn weights_prelude(format: WeightFormat) -> &'static str {
    match format {
        WeightFormat::F32 => include_str!("../../shaders/weights_f32.wgsl"),
        WeightFormat::F16 => include_str!("../../shaders/weights_f16.wgsl"),
    }
}

/// Every file in `shaders/`, by name; tests check this list against the directory.
pub const SHADER_FILES: [&str; 14] = [
    "matmul.wgsl",
    "matvec.wgsl",
    "rmsnorm.wgsl",
    "layernorm.wgsl",
    "rope.wgsl",
    "attention.wgsl",
    "swiglu.wgsl",
    "gelu.wgsl",
    "residual.wgsl",
    "embedding.wgsl",
    "argmax.wgsl",
    "pool.wgsl",
    "weights_f32.wgsl",
    "weights_f16.wgsl",
];

/// The full WGSL module for (op, variant): the weights prelude, if any, then the op's file.
pub fn shader_source(op: Op, variant: Variant) -> String {
    match variant {
        Variant::Weights(f) => format!("{}\n{}", weights_prelude(f), op.source()),
        Variant::Plain => op.source().to_string(),
    }
}

/// The variants an op is compiled in.
pub fn variants(op: Op) -> Vec<Variant> {
    if op.reads_weights() {
        vec![
            Variant::Weights(WeightFormat::F32),
            Variant::Weights(WeightFormat::F16),
        ]
    } else {
        vec![Variant::Plain]
    }
}

/// Size of one dispatch's slot in the uniform arena: the largest `Shape` struct is 32 bytes,
/// and dynamic uniform offsets must be multiples of `min_uniform_buffer_offset_alignment`
/// (256 on most adapters).
pub const UNIFORM_BINDING_SIZE: u64 = 32;

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
        })
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
        let constants: Vec<(&str, f64)> = wg.into_iter().collect();
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
