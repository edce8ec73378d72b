//! MLP nonlinearities.

/// SwiGLU (llama): out = silu(gate) * up, silu(x) = x·σ(x). All (N).
pub fn swiglu_forward(out: &mut [f32], gate: &[f32], up: &[f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = g / (1.0 + (-g).exp()) * u;
    }
}

pub const GELU_SCALE: f32 = 0.797_884_6; // sqrt(2/π)

/// GELU, tanh approximation (gpt2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
pub fn gelu_forward(out: &mut [f32], inp: &[f32]) {
    for (o, &x) in out.iter_mut().zip(inp) {
        let cube = 0.044715 * x * x * x;
        *o = 0.5 * x * (1.0 + (GELU_SCALE * (x + cube)).tanh());
    }
}
