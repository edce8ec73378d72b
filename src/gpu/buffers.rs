//! GPU buffers: weight matrices in their storage type (f32, f16, bf16 or GGUF's packed blocks),
//! activations, and async readback.
//!
//! A weight matrix (N, K) keeps the bytes it was stored with; only its layout changes so that
//! every shader read is a whole, aligned u32 (WGSL has no 8- or 16-bit storage):
//!
//! ```text
//! format   GPU layout of one matrix                                       bytes / 32 weights
//! f32      rows of K32 = ceil(K / 32)·32 f32 (zero padding)               128
//! f16/bf16 rows of K32 halves, two per u32 (low half = lower index)        64
//! Q4_1     ggml's blocks as stored (20 bytes: d, m, qs)                     20
//! Q4_K     ggml's blocks as stored (144 bytes: d, dmin, scales, qs)         18
//! Q8_0     block bodies (qs, 32 bytes) for the whole matrix, then every     34
//!          block's f16 d, two per u32
//! Q4_0     bodies (qs, 16 bytes), then the f16 d's                          18
//! Q6_K     bodies (ql, qh, scales: 208 bytes), then the f16 d's             26.25
//! ```
//!
//! ggml's Q8_0, Q4_0 and Q6_K blocks are 34, 18 and 210 bytes, so most blocks start in the middle
//! of a u32. Moving each block's 2-byte d into an array after the bodies (at u32 `w_aux`) makes
//! every body start on a u32 and costs no byte: a Q8_0 dot product then loads its 32 quants with 8
//! aligned u32 reads instead of 9 straddling ones and shifts. Blocks of 20 and 144 bytes are
//! aligned already and are uploaded untouched. Nothing is dequantized at upload.

use super::GpuContext;
use crate::error::{Error, Result};
use crate::quant::{self, QType};
use crate::tensor::{Tensor, TensorData};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use wgpu::util::DeviceExt;

/// How a weight matrix is stored on the GPU (one `shaders/weights_<name>.wgsl` prelude each).
/// Compute is f32 whatever the storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightFormat {
    F32,
    /// IEEE half precision, two per u32, unpacked with `unpack2x16float`: no `shader-f16` needed.
    F16,
    /// bfloat16, two per u32, widened with a shift.
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q4K,
    Q6K,
}

impl WeightFormat {
    pub const ALL: [WeightFormat; 8] = [
        WeightFormat::F32,
        WeightFormat::F16,
        WeightFormat::BF16,
        WeightFormat::Q8_0,
        WeightFormat::Q4_0,
        WeightFormat::Q4_1,
        WeightFormat::Q4K,
        WeightFormat::Q6K,
    ];

    /// "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k" (the prelude's file name).
    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::F16 => "f16",
            WeightFormat::BF16 => "bf16",
            WeightFormat::Q8_0 => "q8_0",
            WeightFormat::Q4_0 => "q4_0",
            WeightFormat::Q4_1 => "q4_1",
            WeightFormat::Q4K => "q4_k",
            WeightFormat::Q6K => "q6_k",
        }
    }

    /// Parses [`Self::name`] (or a ggml name such as "Q4_K"), case-insensitively.
    pub fn parse(s: &str) -> Option<WeightFormat> {
        QType::from_name(s).map(WeightFormat::from_qtype)
    }

    pub fn qtype(self) -> QType {
        match self {
            WeightFormat::F32 => QType::F32,
            WeightFormat::F16 => QType::F16,
            WeightFormat::BF16 => QType::BF16,
            WeightFormat::Q8_0 => QType::Q8_0,
            WeightFormat::Q4_0 => QType::Q4_0,
            WeightFormat::Q4_1 => QType::Q4_1,
            WeightFormat::Q4K => QType::Q4K,
            WeightFormat::Q6K => QType::Q6K,
        }
    }

    pub fn from_qtype(q: QType) -> WeightFormat {
        match q {
            QType::F32 => WeightFormat::F32,
            QType::F16 => WeightFormat::F16,
            QType::BF16 => WeightFormat::BF16,
            QType::Q8_0 => WeightFormat::Q8_0,
            QType::Q4_0 => WeightFormat::Q4_0,
            QType::Q4_1 => WeightFormat::Q4_1,
            QType::Q4K => WeightFormat::Q4K,
            QType::Q6K => WeightFormat::Q6K,
        }
    }

    pub fn is_quantized(self) -> bool {
        self.qtype().is_quantized()
    }

    /// Bytes of a block body kept in place, when the block's f16 d moves to the scale array
    /// (None: the block is uploaded as stored, or the format has no blocks).
    fn split_body(self) -> Option<std::ops::Range<usize>> {
        match self {
            WeightFormat::Q8_0 => Some(2..34),
            WeightFormat::Q4_0 => Some(2..18),
            WeightFormat::Q6K => Some(0..208),
            _ => None,
        }
    }
}

/// A weight matrix (N, K) on the GPU in its storage format (layouts in the module docs).
#[derive(Debug)]
pub struct Weight {
    pub buf: wgpu::Buffer,
    /// N
    pub rows: usize,
    /// K
    pub cols: usize,
    /// Row length in groups of four weights, padding included: K32 / 4 for the float formats,
    /// K / 4 for packed ones (`shape.k4` of the shaders).
    pub k4: usize,
    /// Index (in u32 words) of the first f16 scale, for Q8_0, Q4_0 and Q6_K; 0 otherwise
    /// (`shape.w_aux`).
    pub aux: usize,
    pub format: WeightFormat,
    /// Bytes a full read of the matrix moves.
    pub bytes: u64,
}

impl Weight {
    /// Uploads `data` (N, K) of f32 values, converted (or quantized) to `format`. Packed formats
    /// need K to be a whole number of their blocks.
    pub fn upload(
        gpu: &GpuContext,
        label: &str,
        data: &[f32],
        rows: usize,
        cols: usize,
        format: WeightFormat,
    ) -> Result<Self> {
        assert_eq!(data.len(), rows * cols, "{label}: weight data length");
        let q = format.qtype();
        if q.row_bytes(cols).is_none() {
            return Err(Error::Gpu(format!(
                "{label}: rows of {cols} weights are not a whole number of {q} blocks ({} weights)",
                q.block_len()
            )));
        }
        Self::upload_raw(gpu, label, format, &quant::quantize(q, data), rows, cols)
    }

    /// Uploads the tensors `parts` stacked row-wise as one matrix (Q, K and V as one QKV
    /// matrix), each converted to `format` if it is stored otherwise.
    pub fn upload_tensors(
        gpu: &GpuContext,
        label: &str,
        parts: &[&Tensor],
        format: WeightFormat,
    ) -> Result<Self> {
        let cols = parts[0].rows_cols().1;
        let mut rows = 0;
        let mut bytes = vec![];
        for t in parts {
            let (r, c) = t.rows_cols();
            assert_eq!(c, cols, "{label}: stacked matrices need the same columns");
            rows += r;
            if t.qtype() == format.qtype() {
                bytes.extend_from_slice(&tensor_bytes(t));
            } else {
                let q = format.qtype();
                if q.row_bytes(cols).is_none() {
                    return Err(Error::Gpu(format!(
                        "{label}: rows of {cols} weights are not a whole number of {q} blocks ({} weights)",
                        q.block_len()
                    )));
                }
                bytes.extend(quant::quantize(q, &t.to_f32()));
            }
        }
        Self::upload_raw(gpu, label, format, &bytes, rows, cols)
    }

    /// Uploads a matrix given as stored: little-endian f32/f16/bf16 values, or ggml's blocks.
    pub fn upload_raw(
        gpu: &GpuContext,
        label: &str,
        format: WeightFormat,
        stored: &[u8],
        rows: usize,
        cols: usize,
    ) -> Result<Self> {
        let (bytes, k4, aux) = gpu_layout(format, stored, rows, cols);
        let buf = upload_bytes(gpu, label, &bytes)?;
        Ok(Weight {
            buf,
            rows,
            cols,
            k4,
            aux,
            format,
            bytes: bytes.len() as u64,
        })
    }

    /// Bytes a full read of the matrix moves (padding included).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// The bytes of a tensor as stored (little-endian).
pub fn tensor_bytes(t: &Tensor) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    match &t.data {
        TensorData::F32(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        TensorData::F16(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        TensorData::BF16(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
        TensorData::Quant(_, b) => Cow::Borrowed(b),
    }
}

/// The GPU layout of a matrix stored as `stored` (see the module docs): its bytes, its row length
/// in groups of four weights (k4), and where the scale array starts in u32 words (aux).
pub fn gpu_layout(
    format: WeightFormat,
    stored: &[u8],
    rows: usize,
    cols: usize,
) -> (Vec<u8>, usize, usize) {
    let q = format.qtype();
    let row_bytes = q
        .row_bytes(cols)
        .expect("a matrix row is a whole number of blocks");
    assert_eq!(stored.len(), rows * row_bytes, "matrix bytes");
    if !q.is_quantized() {
        // Rows padded with zeros to a multiple of 32 weights: a decode lane reads 32 at a time.
        let el = q.block_bytes();
        let stride = cols.div_ceil(32) * 32;
        let mut out = vec![0u8; rows * stride * el];
        for r in 0..rows {
            out[r * stride * el..][..row_bytes]
                .copy_from_slice(&stored[r * row_bytes..][..row_bytes]);
        }
        return (out, stride / 4, 0);
    }
    let k4 = cols / 4;
    let Some(body) = format.split_body() else {
        return (stored.to_vec(), k4, 0);
    };
    let bb = q.block_bytes();
    let blocks = stored.len() / bb;
    let d_at = if body.start == 0 { body.end } else { 0 };
    let mut out = Vec::with_capacity(stored.len() + 4);
    for b in stored.chunks_exact(bb) {
        out.extend_from_slice(&b[body.clone()]);
    }
    let aux = out.len() / 4;
    for b in stored.chunks_exact(bb) {
        out.extend_from_slice(&b[d_at..d_at + 2]);
    }
    if blocks % 2 == 1 {
        out.extend_from_slice(&[0, 0]);
    }
    (out, k4, aux)
}

/// `x` rounded to f16 and back: what the GPU sees of f16 weights (for CPU twins in tests).
pub fn round_f16(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect()
}

fn check_size(gpu: &GpuContext, label: &str, bytes: u64) -> Result<()> {
    let max = gpu.max_binding_bytes();
    if bytes > max {
        return Err(Error::Gpu(format!(
            "{label} needs a {bytes}-byte buffer, but this adapter ({}) binds at most {max} bytes",
            gpu.describe()
        )));
    }
    Ok(())
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// A storage buffer holding `bytes` (at least 16 bytes long).
pub fn upload_bytes(gpu: &GpuContext, label: &str, bytes: &[u8]) -> Result<wgpu::Buffer> {
    check_size(gpu, label, bytes.len() as u64)?;
    let mut padded;
    let contents = if bytes.len() < 16 || bytes.len() % 4 != 0 {
        padded = bytes.to_vec();
        padded.resize(bytes.len().div_ceil(4).max(4) * 4, 0);
        &padded[..]
    } else {
        bytes
    };
    Ok(gpu
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: STORAGE,
        }))
}

/// A storage buffer holding `data`.
pub fn upload_f32(gpu: &GpuContext, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
    upload_bytes(gpu, label, bytemuck::cast_slice(data))
}

/// A zeroed storage buffer of `n` f32 (or u32) values.
pub fn zeros(gpu: &GpuContext, label: &str, n: usize) -> Result<wgpu::Buffer> {
    let size = (n.max(4) * 4) as u64;
    check_size(gpu, label, size)?;
    Ok(gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage: STORAGE,
        mapped_at_creation: false,
    }))
}

/// A buffer the CPU can map to read results, of `bytes` bytes.
pub fn staging(gpu: &GpuContext, label: &str, bytes: u64) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).div_ceil(4) * 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// A one-shot channel: wgpu's `map_async` callback sends, a future receives.
struct Shared<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

pub(crate) struct Receiver<T>(Arc<Mutex<Shared<T>>>);

pub(crate) fn oneshot<T>() -> (impl FnOnce(T), Receiver<T>) {
    let shared = Arc::new(Mutex::new(Shared {
        value: None,
        waker: None,
    }));
    let s = shared.clone();
    let send = move |v: T| {
        let mut g = s.lock().unwrap_or_else(|e| e.into_inner());
        g.value = Some(v);
        if let Some(w) = g.waker.take() {
            w.wake();
        }
    };
    (send, Receiver(shared))
}

impl<T> Future for Receiver<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match g.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                g.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Maps the first `bytes` bytes of `staging` (already filled by a submitted copy), copies them
/// out and unmaps. In the browser this yields to the event loop until the GPU is done; natively
/// it waits for the device.
pub async fn read_mapped(gpu: &GpuContext, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    read_mapped_after(gpu, staging, bytes, None).await
}

/// [`read_mapped`] that natively waits only for submission `index` (the copy's), not for work
/// submitted after it: the GPU-resident decode loop reads one batch of tokens while the next
/// batch runs.
pub async fn read_mapped_after(
    gpu: &GpuContext,
    staging: &wgpu::Buffer,
    bytes: u64,
    index: Option<wgpu::SubmissionIndex>,
) -> Result<Vec<u8>> {
    let (send, recv) = oneshot();
    staging.map_async(wgpu::MapMode::Read, 0..bytes, send);
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device
        .poll(wgpu::PollType::Wait {
            submission_index: index,
            timeout: None,
        })
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
    #[cfg(target_arch = "wasm32")]
    let _ = index;
    let mapped = recv.await;
    gpu.check()?;
    mapped.map_err(|e| Error::Gpu(format!("reading results back from the GPU: {e}")))?;
    let out = {
        let view = staging
            .get_mapped_range(0..bytes)
            .map_err(|e| Error::Gpu(format!("reading results back from the GPU: {e:?}")))?;
        view.to_vec()
    };
    staging.unmap();
    Ok(out)
}

/// Little-endian bytes to f32 (a Vec<u8> need not be 4-byte aligned, so no cast).
pub fn f32_from_bytes(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Copies `n` f32 from `src` (starting at element `offset`) to the CPU: one submission.
/// For tests and debug hooks; the forward pass reads back through its own staging buffer.
pub async fn read_f32(
    gpu: &GpuContext,
    src: &wgpu::Buffer,
    offset: usize,
    n: usize,
) -> Result<Vec<f32>> {
    let bytes = (n * 4) as u64;
    let stage = staging(gpu, "readback", bytes);
    let mut enc = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("readback"),
        });
    enc.copy_buffer_to_buffer(src, (offset * 4) as u64, &stage, 0, bytes);
    gpu.queue.submit([enc.finish()]);
    let raw = read_mapped(gpu, &stage, bytes).await?;
    Ok(f32_from_bytes(&raw))
}

/// Blocking [`read_f32`] (native only).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_f32_blocking(
    gpu: &GpuContext,
    src: &wgpu::Buffer,
    offset: usize,
    n: usize,
) -> Result<Vec<f32>> {
    pollster::block_on(read_f32(gpu, src, offset, n))
}
