//! One dispatch function per op. Each records a dispatch of `shaders/<op>.wgsl` into a
//! [`Recorder`] and names its CPU twin in `crate::ops`; `tests/engine/gpu_ops.rs`,
//! `gpu_quant.rs` and `gpu_fused.rs` run both on odd sizes.
//!
//! - [`linear`]: the matvec (decode) and tiled matmul (prefill) with their fused norm and
//!   epilogues (residual add, SwiGLU, GELU, QKV with RoPE and the KV-cache write);
//! - [`attention`]: attention over the KV cache (query-tiled; split-K for decode) and the merge;
//! - [`misc`]: norms, embedding, pooling and the sampler.
//!
//! A [`Recorder`] collects the dispatches of a whole forward pass and submits them at once:
//! every dispatch gets its own slot in one uniform buffer (its `Shape`), written with a single
//! `write_buffer`, and its bind group comes from an [`Arena`] cache, so a decode step creates no
//! GPU objects once the first step has run.

pub mod attention;
pub mod linear;
pub mod misc;

pub use attention::*;
pub use linear::*;
pub use misc::*;

use super::{Access, GpuContext, Op, Variant, UNIFORM_BINDING_SIZE};
use bytemuck::Pod;
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
    pub fn submit(
        self,
        copies: &[(&wgpu::Buffer, u64, &wgpu::Buffer, u64, u64)],
    ) -> wgpu::SubmissionIndex {
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
        gpu.queue.submit([enc.finish()])
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

pub(crate) fn u(x: usize) -> u32 {
    u32::try_from(x).expect("GPU shapes and offsets must fit in u32")
}

pub(crate) fn wg(op: Op) -> usize {
    op.workgroup_size().expect("op with a WG override") as usize
}
