//! The linear ops: `matvec.wgsl` (decode, with the norm fused in front) and `matmul.wgsl`
//! (prefill, tiled), both with the epilogues of `linear.wgsl`. CPU twin: `ops::linear_forward`,
//! followed by the op each epilogue replaces (`residual_forward`, `swiglu_forward`,
//! `gelu_forward`, `rope_forward` and the KV-cache append).

use super::{spread, u, Recorder};
use crate::gpu::buffers::Weight;
use crate::gpu::{Op, Variant};
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup of matvec.wgsl.
pub const MATVEC_WG: u32 = 64;
/// Threads per output column of matvec.wgsl (so MATVEC_WG / MATVEC_LANES columns a workgroup).
pub const MATVEC_LANES: u32 = 8;
const NONE: u32 = u32::MAX;

/// Uniform of matvec.wgsl and matmul.wgsl (`Shape` in linear.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct LinearShape {
    pub rows: u32,
    pub k: u32,
    pub n: u32,
    pub k4: u32,
    pub w_aux: u32,
    pub x_off: u32,
    pub out_off: u32,
    pub bias_off: u32,
    pub norm: u32,
    pub norm_w: u32,
    pub norm_b: u32,
    pub eps: f32,
    pub epi: u32,
    pub c_base: u32,
    pub hs: u32,
    pub q_dim: u32,
    pub kv_dim: u32,
    pub pos0: u32,
    pub rope: u32,
    pub rope_sin: u32,
    pub v_off: u32,
    pub aux_off: u32,
    pub _pad: [u32; 2],
}

/// Which shader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKernel {
    /// matvec for fewer than 8 rows (decode), the tiled matmul otherwise (prefill) — the same
    /// switch as the CPU's `linear_forward` — with 32 × 32 tiles when 64 × 64 ones would make
    /// fewer than 128 workgroups.
    Auto,
    /// The tiled matmul, 64 × 64 tiles.
    Tiled,
    /// The tiled matmul, 32 × 32 tiles.
    TiledSmall,
    Vector,
}

/// The norm applied to x on its way into a matvec (indices into the `vecs` buffer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Norm {
    None,
    /// RMSNorm(x)·w: `ops::rmsnorm_forward`.
    Rms {
        w: usize,
        eps: f32,
    },
    /// LayerNorm(x)·w + b: `ops::layernorm_forward`.
    Layer {
        w: usize,
        b: usize,
        eps: f32,
    },
}

/// Where the QKV epilogue writes: q to `Linear::out`, k and v to the cache rows pos0 + r.
#[derive(Clone, Copy, Debug)]
pub struct QkvOut<'a> {
    /// The layer's cache: K (capacity, NKV·HS), then V from `v_off`.
    pub kv: &'a wgpu::Buffer,
    pub v_off: usize,
    pub hs: usize,
    pub q_dim: usize,
    pub kv_dim: usize,
    pub pos0: usize,
    /// RoPE's table: cos (maxT, HS/2) then sin from the given index; None for gpt2.
    pub rope: Option<(&'a wgpu::Buffer, usize)>,
}

/// What happens to y = W·x + bias.
#[derive(Clone, Copy, Debug)]
pub enum Epilogue<'a> {
    /// out = y
    Store,
    /// out += y (the residual add)
    Add,
    /// out = gelu_tanh(y)
    Gelu,
    /// W is W_gate stacked over W_up (2FF rows): out (R, FF) = silu(gate) · up
    Swiglu,
    /// out = silu(gate) · y, gate (R, N) read from `gate` at `gate_off` (W_up alone)
    SiluMul {
        gate: &'a wgpu::Buffer,
        gate_off: usize,
    },
    /// W is W_q, W_k, W_v stacked (or one of them, from global row `c_base`)
    Qkv(QkvOut<'a>),
}

impl Epilogue<'_> {
    fn code(&self) -> u32 {
        match self {
            Epilogue::Store => 0,
            Epilogue::Add => 1,
            Epilogue::Gelu => 2,
            Epilogue::Swiglu => 3,
            Epilogue::SiluMul { .. } => 4,
            Epilogue::Qkv(_) => 5,
        }
    }
}

/// One linear op: out ← epilogue(W · norm(x[x_off..] as (rows, K)) + bias).
#[derive(Clone, Copy, Debug)]
pub struct Linear<'a> {
    pub w: &'a Weight,
    pub x: &'a wgpu::Buffer,
    pub x_off: usize,
    pub out: &'a wgpu::Buffer,
    pub out_off: usize,
    pub rows: usize,
    /// The model's f32 vectors (norm weights, biases); None binds a placeholder.
    pub vecs: Option<&'a wgpu::Buffer>,
    /// Index of the bias in `vecs`, by stacked weight row.
    pub bias: Option<usize>,
    pub norm: Norm,
    pub epi: Epilogue<'a>,
    /// The global output column of W's row 0, when Q, K and V are uploaded apart.
    pub c_base: usize,
}

impl<'a> Linear<'a> {
    /// out (rows, N) = x (rows, K) · Wᵀ, nothing else.
    pub fn new(w: &'a Weight, x: &'a wgpu::Buffer, out: &'a wgpu::Buffer, rows: usize) -> Self {
        Linear {
            w,
            x,
            x_off: 0,
            out,
            out_off: 0,
            rows,
            vecs: None,
            bias: None,
            norm: Norm::None,
            epi: Epilogue::Store,
            c_base: 0,
        }
    }
}

/// Records `l` with the shader `kernel` picks.
pub fn linear(rec: &mut Recorder, kernel: MatmulKernel, l: &Linear) {
    let w = l.w;
    let mut s = LinearShape {
        rows: u(l.rows),
        k: u(w.cols),
        n: u(w.rows),
        k4: u(w.k4),
        w_aux: u(w.aux),
        x_off: u(l.x_off),
        out_off: u(l.out_off),
        bias_off: l.bias.map_or(NONE, u),
        epi: l.epi.code(),
        c_base: u(l.c_base),
        ..Default::default()
    };
    match l.norm {
        Norm::None => {}
        Norm::Rms { w, eps } => (s.norm, s.norm_w, s.eps) = (1, u(w), eps),
        Norm::Layer { w, b, eps } => (s.norm, s.norm_w, s.norm_b, s.eps) = (2, u(w), u(b), eps),
    }
    let gpu = rec.gpu;
    let mut rope = &gpu.placeholder;
    let mut kv = &gpu.placeholder_rw;
    match l.epi {
        Epilogue::Qkv(q) => {
            (s.hs, s.q_dim, s.kv_dim, s.pos0, s.v_off) =
                (u(q.hs), u(q.q_dim), u(q.kv_dim), u(q.pos0), u(q.v_off));
            if let Some((table, sin)) = q.rope {
                (s.rope, s.rope_sin) = (1, u(sin));
                rope = table;
            }
            kv = q.kv;
        }
        Epilogue::SiluMul { gate, gate_off } => {
            s.aux_off = u(gate_off);
            kv = gate;
        }
        Epilogue::Swiglu => assert!(w.rows % 2 == 0, "SwiGLU needs gate and up stacked"),
        _ => {}
    }
    let vecs = l.vecs.unwrap_or(&gpu.placeholder);
    let kernel = match kernel {
        MatmulKernel::Auto if l.rows < 8 => MatmulKernel::Vector,
        MatmulKernel::Auto if l.rows.div_ceil(64) * w.rows.div_ceil(64) >= 128 => {
            MatmulKernel::Tiled
        }
        MatmulKernel::Auto => MatmulKernel::TiledSmall,
        k => k,
    };
    let bufs = [&w.buf, l.x, vecs, rope, l.out, kv];
    if kernel != MatmulKernel::Vector {
        assert!(
            l.norm == Norm::None,
            "matmul.wgsl takes x normed (run the norm kernel first)"
        );
        let (variant, tile) = match kernel {
            MatmulKernel::Tiled => (Variant::Weights(w.format), 64),
            _ => (Variant::SmallTiles(w.format), 32),
        };
        let groups = [u(w.rows.div_ceil(tile)), u(l.rows.div_ceil(tile)), 1];
        rec.dispatch(Op::Matmul, variant, &bufs, &s, groups);
    } else {
        let per_group = (MATVEC_WG / MATVEC_LANES) as usize;
        let groups = spread(w.rows.div_ceil(per_group), l.rows);
        rec.dispatch(Op::Matvec, Variant::Weights(w.format), &bufs, &s, groups);
    }
}

/// out[out_off..] (R, N) = x[x_off..] (R, K) · wᵀ + bias (a buffer of N). CPU twin:
/// `ops::linear_forward`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    out_off: usize,
    x: &wgpu::Buffer,
    x_off: usize,
    w: &Weight,
    bias: Option<&wgpu::Buffer>,
    rows: usize,
) {
    matmul_with(
        rec,
        MatmulKernel::Auto,
        out,
        out_off,
        x,
        x_off,
        w,
        bias,
        rows,
    )
}

/// [`matmul`] with the shader chosen by the caller.
#[allow(clippy::too_many_arguments)]
pub fn matmul_with(
    rec: &mut Recorder,
    kernel: MatmulKernel,
    out: &wgpu::Buffer,
    out_off: usize,
    x: &wgpu::Buffer,
    x_off: usize,
    w: &Weight,
    bias: Option<&wgpu::Buffer>,
    rows: usize,
) {
    let l = Linear {
        x_off,
        out_off,
        vecs: bias,
        bias: bias.map(|_| 0),
        ..Linear::new(w, x, out, rows)
    };
    linear(rec, kernel, &l)
}
