//! MLP nonlinearities.

/// silu(g) · u = g·σ(g)·u, as every SwiGLU path computes it (prefill here, decode's fused
/// `matvec_swiglu`), so the two give the same bits.
#[inline(always)]
pub fn silu_mul(g: f32, u: f32) -> f32 {
    g / (1.0 + (-g).exp()) * u
}

/// SwiGLU (llama): out = silu(gate) * up, silu(x) = x·σ(x). All (N).
pub fn swiglu_forward(out: &mut [f32], gate: &[f32], up: &[f32]) {
    assert!(
        gate.len() == out.len() && up.len() == out.len(),
        "swiglu lengths"
    );
    // Chunks of 16K values, in parallel: a 128-token prefill of SmolLM2 has 196,608 a layer.
    const CHUNK: usize = 1 << 14;
    super::par_chunks(out, CHUNK, |ci, o| {
        let (g, u) = (&gate[ci * CHUNK..], &up[ci * CHUNK..]);
        for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
            *o = silu_mul(g, u);
        }
    })
}

pub const GELU_SCALE: f32 = 0.797_884_6; // sqrt(2/π)

/// GELU, tanh approximation (gpt2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
pub fn gelu_forward(out: &mut [f32], inp: &[f32]) {
    for (o, &x) in out.iter_mut().zip(inp) {
        let cube = 0.044715 * x * x * x;
        *o = 0.5 * x * (1.0 + (GELU_SCALE * (x + cube)).tanh());
    }
}

/// Backward of [`swiglu_forward`]; accumulates into dgate and dup. All (N).
///
/// With σ = sigmoid(g): silu(g) = g·σ and silu'(g) = σ·(1 + g·(1 − σ)), so
///   dgate += dout · up · σ·(1 + g·(1 − σ)),   dup += dout · g·σ.
#[cfg(feature = "train")]
pub fn swiglu_backward(dgate: &mut [f32], dup: &mut [f32], dout: &[f32], gate: &[f32], up: &[f32]) {
    for i in 0..dout.len() {
        let g = gate[i];
        let sig = 1.0 / (1.0 + (-g).exp());
        dgate[i] += dout[i] * up[i] * sig * (1.0 + g * (1.0 - sig));
        dup[i] += dout[i] * g * sig;
    }
}
