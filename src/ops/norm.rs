//! RMSNorm (llama) and LayerNorm (gpt2) over the last dimension.

/// out (T, C) = inp / rms(inp) * weight, with rms = sqrt(mean(inp²) + eps).
/// rstd (T) keeps 1/rms for the backward pass.
pub fn rmsnorm_forward(
    out: &mut [f32],
    rstd: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    t: usize,
    c: usize,
    eps: f32,
) {
    assert!(
        out.len() == t * c && inp.len() == t * c && rstd.len() == t,
        "rmsnorm lengths"
    );
    // Groups of 16 rows, in parallel.
    const ROWS: usize = 16;
    let rs = super::SendPtr(rstd.as_mut_ptr());
    super::par_chunks(out, ROWS * c, |ci, o| {
        for (i, o) in o.chunks_exact_mut(c).enumerate() {
            let r = ci * ROWS + i;
            let x = &inp[r * c..(r + 1) * c];
            let ms = x.iter().map(|v| v * v).sum::<f32>() / c as f32;
            let s = 1.0 / (ms + eps).sqrt();
            // SAFETY: r < t, and row r belongs to this chunk only.
            unsafe { *rs.get().add(r) = s };
            for i in 0..c {
                o[i] = x[i] * s * weight[i];
            }
        }
    })
}

/// out (T, C) = (inp − mean) / sqrt(var + eps) * weight + bias; mean and rstd (T) are kept for
/// the backward pass. var is the biased variance, as in PyTorch.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward(
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: &[f32],
    t: usize,
    c: usize,
    eps: f32,
) {
    for r in 0..t {
        let x = &inp[r * c..(r + 1) * c];
        let m = x.iter().sum::<f32>() / c as f32;
        let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / c as f32;
        let s = 1.0 / (var + eps).sqrt();
        mean[r] = m;
        rstd[r] = s;
        let o = &mut out[r * c..(r + 1) * c];
        for i in 0..c {
            o[i] = (x[i] - m) * s * weight[i] + bias[i];
        }
    }
}

/// Backward of [`rmsnorm_forward`]; accumulates into dinp (T, C) and dweight (C).
///
/// With s = rstd and y_i = x_i·s·w_i, s = (mean(x²) + eps)^(−1/2), ∂s/∂x_j = −s³·x_j / C:
///   dx_j = s·w_j·dy_j − (s³/C)·x_j·Σ_i (w_i·dy_i·x_i)     (term 1: direct path, term 2: via s)
///   dw_i += dy_i·x_i·s
#[cfg(feature = "train")]
#[allow(clippy::too_many_arguments)]
pub fn rmsnorm_backward(
    dinp: &mut [f32],
    dweight: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    rstd: &[f32],
    t: usize,
    c: usize,
) {
    for r in 0..t {
        let x = &inp[r * c..(r + 1) * c];
        let dy = &dout[r * c..(r + 1) * c];
        let s = rstd[r];
        let mut dot = 0.0f32;
        for i in 0..c {
            dot += weight[i] * dy[i] * x[i];
        }
        let k = s * s * s * dot / c as f32;
        let dx = &mut dinp[r * c..(r + 1) * c];
        for i in 0..c {
            dx[i] += s * weight[i] * dy[i] - k * x[i];
            dweight[i] += dy[i] * x[i] * s;
        }
    }
}
