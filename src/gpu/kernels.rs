//! One dispatch function per op. Each records a dispatch of `shaders/<op>.wgsl` into a
//! [`Recorder`] and names its CPU twin in `crate::ops`; `tests/engine/gpu_ops.rs` runs both on odd sizes.
//!
//! A [`Recorder`] collects the dispatches of a whole forward pass and submits them at once:
//! every dispatch gets its own slot in one uniform buffer (its `Shape`), written with a single
//! `write_buffer`, and its bind group comes from an [`Arena`] cache, so a decode step creates no
//! GPU objects once the first step has run.

use super::buffers::Weight;
use super::{Access, GpuContext, Op, Variant, UNIFORM_BINDING_SIZE};
use bytemuck::{Pod, Zeroable};
use std::collections::HashMap;

/// Most workgroups a dispatch may have along one dimension (WebGPU's default limit).
const MAX_GROUPS_PER_DIM: u32 = 65_535;

type BindKey = (&'static [Access], Vec<wgpu::Buffer>);

/// The uniform buffer of dispatch shapes and the bind groups built so far, kept by a session
/// between steps.
#[derive(Default)]
pub struct Arena {
    uniform: Option<wgpu::Buffer>,
    slots: usize,
    groups: HashMap<BindKey, wgpu::BindGroup>,
}

impl Arena {
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of bind groups cached (each step of a session reuses them).
    pub fn cached_bind_groups(&self) -> usize {
        self.groups.len()
    }
}

struct Cmd {
    op: Op,
    variant: Variant,
    buffers: Vec<wgpu::Buffer>,
    workgroups: [u32; 3],
}

/// Records dispatches, then encodes them into one compute pass and submits once.
pub struct Recorder<'a> {
    pub gpu: &'a GpuContext,
    arena: &'a mut Arena,
    params: Vec<u8>,
    cmds: Vec<Cmd>,
}

impl<'a> Recorder<'a> {
    pub fn new(gpu: &'a GpuContext, arena: &'a mut Arena) -> Self {
        Recorder {
            gpu,
            arena,
            params: vec![],
            cmds: vec![],
        }
    }

    /// Number of dispatches recorded so far.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Records one dispatch of (op, variant) with `shape` as its uniform and `buffers` bound to
    /// bindings 1.. in order.
    pub fn dispatch<P: Pod>(
        &mut self,
        op: Op,
        variant: Variant,
        buffers: &[&wgpu::Buffer],
        shape: &P,
        workgroups: [u32; 3],
    ) {
        assert_eq!(
            buffers.len(),
            op.bindings().len(),
            "{}: wrong number of buffers",
            op.name()
        );
        let bytes = bytemuck::bytes_of(shape);
        assert!(bytes.len() as u64 <= UNIFORM_BINDING_SIZE);
        let stride = self.gpu.uniform_stride as usize;
        let start = self.cmds.len() * stride;
        self.params.resize(start + stride, 0);
        self.params[start..start + bytes.len()].copy_from_slice(bytes);
        self.cmds.push(Cmd {
            op,
            variant,
            buffers: buffers.iter().map(|b| (*b).clone()).collect(),
            workgroups,
        });
    }

    /// Encodes every recorded dispatch in one compute pass, then the `copies`
    /// (src, src_offset, dst, dst_offset, bytes), and submits the lot as one command buffer.
    pub fn submit(self, copies: &[(&wgpu::Buffer, u64, &wgpu::Buffer, u64, u64)]) {
        let gpu = self.gpu;
        let stride = gpu.uniform_stride;
        let n = self.cmds.len();
        if n > self.arena.slots || self.arena.uniform.is_none() {
            // Grow the uniform arena; bind groups point at the old buffer, so they go too.
            let slots = n.max(self.arena.slots * 2).max(64);
            self.arena.uniform = Some(gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("shapes"),
                size: slots as u64 * stride,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
            self.arena.slots = slots;
            self.arena.groups.clear();
        }
        let uniform = self.arena.uniform.clone().expect("uniform arena");
        if !self.params.is_empty() {
            gpu.queue.write_buffer(&uniform, 0, &self.params);
        }
        let mut resolved = Vec::with_capacity(n);
        for cmd in &self.cmds {
            let key: BindKey = (cmd.op.bindings(), cmd.buffers.clone());
            let group = self
                .arena
                .groups
                .entry(key)
                .or_insert_with(|| {
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &uniform,
                            offset: 0,
                            size: wgpu::BufferSize::new(UNIFORM_BINDING_SIZE),
                        }),
                    }];
                    for (i, b) in cmd.buffers.iter().enumerate() {
                        entries.push(wgpu::BindGroupEntry {
                            binding: i as u32 + 1,
                            resource: b.as_entire_binding(),
                        });
                    }
                    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(cmd.op.name()),
                        layout: &gpu.bind_group_layout(cmd.op),
                        entries: &entries,
                    })
                })
                .clone();
            resolved.push((gpu.pipeline(cmd.op, cmd.variant), group));
        }
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("tinychat step"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("forward"),
                timestamp_writes: None,
            });
            for (i, (cmd, (pipeline, group))) in self.cmds.iter().zip(&resolved).enumerate() {
                let [x, y, z] = cmd.workgroups;
                if x == 0 || y == 0 || z == 0 {
                    continue;
                }
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, group, &[(i as u64 * stride) as u32]);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        for &(src, so, dst, doff, bytes) in copies {
            enc.copy_buffer_to_buffer(src, so, dst, doff, bytes);
        }
        gpu.queue.submit([enc.finish()]);
    }
}

/// Workgroups for `n` independent groups, spread over x and y (at most 65535 per dimension).
/// Shaders recover the index as `wid.x + wid.y * num_workgroups.x` and skip indices ≥ n.
pub fn spread(n: usize, z: usize) -> [u32; 3] {
    let n = n as u32;
    if n == 0 {
        return [0, 1, 1];
    }
    let x = n.min(MAX_GROUPS_PER_DIM);
    [x, n.div_ceil(x), z as u32]
}

fn u(x: usize) -> u32 {
    u32::try_from(x).expect("GPU shapes and offsets must fit in u32")
}

fn wg(op: Op) -> usize {
    op.workgroup_size().expect("op with a WG override") as usize
}

// ---------------------------------------------------------------------------------------------
// matmul

/// Uniform of matmul.wgsl and matvec.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct MatmulShape {
    pub rows: u32,
    pub k: u32,
    pub n: u32,
    pub k4: u32,
    pub x_off: u32,
    pub out_off: u32,
    pub has_bias: u32,
    pub _pad: u32,
}

/// Which matmul shader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKernel {
    /// matvec for fewer than 8 rows (decode), the tiled matmul otherwise (prefill) — the same
    /// switch as the CPU's `matmul_forward`.
    Auto,
    Tiled,
    Vector,
}

/// out[out_off..] (R, N) = x[x_off..] (R, K) · wᵀ + bias. CPU twin: `ops::matmul_forward`.
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
    let shape = MatmulShape {
        rows: u(rows),
        k: u(w.cols),
        n: u(w.rows),
        k4: u(w.k4),
        x_off: u(x_off),
        out_off: u(out_off),
        has_bias: bias.is_some() as u32,
        _pad: 0,
    };
    let bias = bias.unwrap_or(&rec.gpu.placeholder).clone();
    let tiled = match kernel {
        MatmulKernel::Auto => rows >= 8,
        MatmulKernel::Tiled => true,
        MatmulKernel::Vector => false,
    };
    let variant = Variant::Weights(w.format);
    if tiled {
        // 64 × 64 output tiles (matmul.wgsl's BM, BN).
        let groups = [u(w.rows.div_ceil(64)), u(rows.div_ceil(64)), 1];
        rec.dispatch(
            Op::Matmul,
            variant,
            &[&w.buf, x, &bias, out],
            &shape,
            groups,
        );
    } else {
        // matvec.wgsl: WG / 32 outputs per workgroup.
        let per_group = wg(Op::Matvec) / 32;
        let groups = spread(w.rows.div_ceil(per_group), rows);
        rec.dispatch(
            Op::Matvec,
            variant,
            &[&w.buf, x, &bias, out],
            &shape,
            groups,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// norms

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NormShape {
    pub rows: u32,
    pub c: u32,
    pub eps: f32,
    pub _pad: u32,
}

/// out (R, C) = rmsnorm(x) · weight. CPU twin: `ops::rmsnorm_forward`.
pub fn rmsnorm(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    x: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    rows: usize,
    c: usize,
    eps: f32,
) {
    let shape = NormShape {
        rows: u(rows),
        c: u(c),
        eps,
        _pad: 0,
    };
    rec.dispatch(
        Op::RmsNorm,
        Variant::Plain,
        &[weight, x, out],
        &shape,
        spread(rows, 1),
    );
}

/// out (R, C) = layernorm(x) · weight + bias. CPU twin: `ops::layernorm_forward`.
#[allow(clippy::too_many_arguments)]
pub fn layernorm(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    x: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    bias: &wgpu::Buffer,
    rows: usize,
    c: usize,
    eps: f32,
) {
    let shape = NormShape {
        rows: u(rows),
        c: u(c),
        eps,
        _pad: 0,
    };
    rec.dispatch(
        Op::LayerNorm,
        Variant::Plain,
        &[weight, bias, x, out],
        &shape,
        spread(rows, 1),
    );
}

// ---------------------------------------------------------------------------------------------
// rope

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct RopeShape {
    pub rows: u32,
    pub heads: u32,
    pub hs: u32,
    pub pos0: u32,
    pub x_off: u32,
    pub _pad: [u32; 3],
}

/// Rotates x[x_off..] (R, H, HS) in place, row r at position pos0 + r, with the angles of
/// `cos`/`sin` (maxT, HS/2) from `ops::RopeTable`. CPU twin: `ops::rope_forward`.
#[allow(clippy::too_many_arguments)]
pub fn rope(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    x_off: usize,
    cos: &wgpu::Buffer,
    sin: &wgpu::Buffer,
    rows: usize,
    heads: usize,
    hs: usize,
    pos0: usize,
) {
    let shape = RopeShape {
        rows: u(rows),
        heads: u(heads),
        hs: u(hs),
        pos0: u(pos0),
        x_off: u(x_off),
        _pad: [0; 3],
    };
    let n = rows * heads * (hs / 2);
    rec.dispatch(
        Op::Rope,
        Variant::Plain,
        &[cos, sin, x],
        &shape,
        spread(n.div_ceil(wg(Op::Rope)), 1),
    );
}

// ---------------------------------------------------------------------------------------------
// attention

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct AttentionShape {
    pub rows: u32,
    pub nh: u32,
    pub nkv: u32,
    pub hs: u32,
    pub pos0: u32,
    pub scale: f32,
    pub causal: u32,
    pub _pad: u32,
}

/// out (R, NH·HS): grouped-query attention of q (R, NH·HS) over the first pos0 + R rows of the
/// caches (capacity, NKV·HS), which already hold these rows' keys and values; causal, or with
/// `causal` false every row sees all pos0 + R positions (a bidirectional classifier).
/// CPU twin: `ops::attention_forward`.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    q: &wgpu::Buffer,
    k_cache: &wgpu::Buffer,
    v_cache: &wgpu::Buffer,
    rows: usize,
    nh: usize,
    nkv: usize,
    hs: usize,
    pos0: usize,
    causal: bool,
) {
    let wg = wg(Op::Attention);
    assert!(
        hs <= 4 * wg && hs <= 256,
        "attention.wgsl handles head sizes up to {}",
        (4 * wg).min(256)
    );
    assert!(nkv > 0 && nh % nkv == 0);
    let shape = AttentionShape {
        rows: u(rows),
        nh: u(nh),
        nkv: u(nkv),
        hs: u(hs),
        pos0: u(pos0),
        scale: 1.0 / (hs as f32).sqrt(),
        causal: causal as u32,
        _pad: 0,
    };
    rec.dispatch(
        Op::Attention,
        Variant::Plain,
        &[q, k_cache, v_cache, out],
        &shape,
        [u(nh), u(rows), 1],
    );
}

// ---------------------------------------------------------------------------------------------
// elementwise

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct CountShape {
    pub n: u32,
    pub _pad: [u32; 3],
}

fn count_shape(n: usize) -> CountShape {
    CountShape {
        n: u(n),
        _pad: [0; 3],
    }
}

/// out (N) = silu(gate) · up. CPU twin: `ops::swiglu_forward`.
pub fn swiglu(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    gate: &wgpu::Buffer,
    up: &wgpu::Buffer,
    n: usize,
) {
    let groups = spread(n.div_ceil(wg(Op::Swiglu)), 1);
    rec.dispatch(
        Op::Swiglu,
        Variant::Plain,
        &[gate, up, out],
        &count_shape(n),
        groups,
    );
}

/// out (N) = gelu_tanh(x). CPU twin: `ops::gelu_forward`.
pub fn gelu(rec: &mut Recorder, out: &wgpu::Buffer, x: &wgpu::Buffer, n: usize) {
    let groups = spread(n.div_ceil(wg(Op::Gelu)), 1);
    rec.dispatch(Op::Gelu, Variant::Plain, &[x, out], &count_shape(n), groups);
}

/// out (N) += x. CPU twin: `ops::residual_forward`.
pub fn residual(rec: &mut Recorder, out: &wgpu::Buffer, x: &wgpu::Buffer, n: usize) {
    let groups = spread(n.div_ceil(wg(Op::Residual)), 1);
    rec.dispatch(
        Op::Residual,
        Variant::Plain,
        &[x, out],
        &count_shape(n),
        groups,
    );
}

// ---------------------------------------------------------------------------------------------
// embedding

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct EmbeddingShape {
    pub rows: u32,
    pub c: u32,
    pub c4: u32,
    pub pos0: u32,
    pub has_pos: u32,
    pub _pad: [u32; 3],
}

/// out (R, C) = wte[tokens] (+ wpe[pos0..]). CPU twin: `ops::embedding_forward`.
/// `tokens` holds R u32 ids; `wte` is (V, C); `wpe` (maxT, C) f32.
pub fn embedding(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    tokens: &wgpu::Buffer,
    wte: &Weight,
    wpe: Option<&wgpu::Buffer>,
    rows: usize,
    pos0: usize,
) {
    let shape = EmbeddingShape {
        rows: u(rows),
        c: u(wte.cols),
        c4: u(wte.k4),
        pos0: u(pos0),
        has_pos: wpe.is_some() as u32,
        _pad: [0; 3],
    };
    let wpe = wpe.unwrap_or(&rec.gpu.placeholder).clone();
    let groups = spread((rows * wte.k4).div_ceil(wg(Op::Embedding)), 1);
    rec.dispatch(
        Op::Embedding,
        Variant::Weights(wte.format),
        &[&wte.buf, tokens, &wpe, out],
        &shape,
        groups,
    );
}

// ---------------------------------------------------------------------------------------------
// argmax

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ArgmaxShape {
    pub n: u32,
    pub x_off: u32,
    pub _pad: [u32; 2],
}

/// out[0] (u32) = index of the largest of x[x_off .. x_off + n], the first on ties.
/// CPU twin: `generate::argmax`.
pub fn argmax(rec: &mut Recorder, out: &wgpu::Buffer, x: &wgpu::Buffer, x_off: usize, n: usize) {
    let shape = ArgmaxShape {
        n: u(n),
        x_off: u(x_off),
        _pad: [0; 2],
    };
    rec.dispatch(Op::Argmax, Variant::Plain, &[x, out], &shape, [1, 1, 1]);
}

// ---------------------------------------------------------------------------------------------
// pooling

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct PoolShape {
    pub rows: u32,
    pub c: u32,
    pub first: u32,
    pub mode: u32,
}

/// out (C) = x's (R, C) rows pooled as a classifier's config says: the last row, or each
/// channel's maximum (over the second copy's rows for echo_max). CPU twin: `ops::pool_forward`.
pub fn pool(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    x: &wgpu::Buffer,
    rows: usize,
    c: usize,
    pooling: crate::config::Pooling,
) {
    assert!(rows >= 1 && c >= 1);
    let shape = PoolShape {
        rows: u(rows),
        c: u(c),
        first: u(crate::ops::first_pooled(rows, pooling)),
        mode: (pooling != crate::config::Pooling::Last) as u32,
    };
    let groups = [u(c.div_ceil(wg(Op::Pool))), 1, 1];
    rec.dispatch(Op::Pool, Variant::Plain, &[x, out], &shape, groups);
}
