//! GPU buffers: weight matrices (f32, or f16 packed two per u32), activations, and async readback.

use super::GpuContext;
use crate::error::{Error, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use wgpu::util::DeviceExt;

/// How weight matrices are stored on the GPU. Compute is f32 either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightFormat {
    F32,
    /// IEEE half precision, two per u32, unpacked in the shader with `unpack2x16float`: half the
    /// memory traffic of f32, and no need for the `shader-f16` feature.
    F16,
}

impl WeightFormat {
    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::F16 => "f16",
        }
    }
    /// Bytes per weight.
    pub fn bytes(self) -> usize {
        match self {
            WeightFormat::F32 => 4,
            WeightFormat::F16 => 2,
        }
    }
}

/// A weight matrix (N, K) on the GPU, rows padded with zeros to K4 = ceil(K / 4) groups of four
/// (see `shaders/weights_f32.wgsl`).
#[derive(Debug)]
pub struct Weight {
    pub buf: wgpu::Buffer,
    /// N
    pub rows: usize,
    /// K
    pub cols: usize,
    /// ceil(K / 4)
    pub k4: usize,
    pub format: WeightFormat,
}

impl Weight {
    /// Uploads `data` (N, K), row-major.
    pub fn upload(
        gpu: &GpuContext,
        label: &str,
        data: &[f32],
        rows: usize,
        cols: usize,
        format: WeightFormat,
    ) -> Result<Self> {
        assert_eq!(data.len(), rows * cols, "{label}: weight data length");
        let bytes = pack_matrix(data, rows, cols, format);
        let buf = upload_bytes(gpu, label, &bytes)?;
        Ok(Weight {
            buf,
            rows,
            cols,
            k4: cols.div_ceil(4),
            format,
        })
    }
    /// Bytes a full read of the matrix moves (padding included).
    pub fn bytes(&self) -> u64 {
        (self.rows * self.k4 * 4 * self.format.bytes()) as u64
    }
}

/// The bytes of a padded weight matrix: rows of ceil(K / 4) · 4 values, f32 or packed f16.
pub fn pack_matrix(data: &[f32], rows: usize, cols: usize, format: WeightFormat) -> Vec<u8> {
    let stride = cols.div_ceil(4) * 4;
    match format {
        WeightFormat::F32 => {
            let mut out = vec![0f32; rows * stride];
            for r in 0..rows {
                out[r * stride..r * stride + cols].copy_from_slice(&data[r * cols..(r + 1) * cols]);
            }
            bytemuck::cast_slice(&out).to_vec()
        }
        WeightFormat::F16 => {
            let mut out = vec![half::f16::ZERO; rows * stride];
            for r in 0..rows {
                for (o, &v) in out[r * stride..r * stride + cols]
                    .iter_mut()
                    .zip(&data[r * cols..(r + 1) * cols])
                {
                    *o = half::f16::from_f32(v);
                }
            }
            // Little-endian u16 pairs: the lower index lands in the low half of each u32, which
            // is the `.x` that unpack2x16float returns first.
            bytemuck::cast_slice(&out).to_vec()
        }
    }
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
    let (send, recv) = oneshot();
    staging.map_async(wgpu::MapMode::Read, 0..bytes, send);
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
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
