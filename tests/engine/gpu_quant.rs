//! The weight formats on the GPU against their CPU twins: every packed format (Q8_0, Q4_0,
//! Q4_1, Q4_K, Q6_K) and the half formats (f16, bf16), in the decode matvec (`dot32`), the tiled
//! prefill matmul with both tile sizes (`load_w4`) and the embedding lookup, on odd sizes: one
//! output row and row counts that are not a multiple of a workgroup's columns, T = 1, 3 and 37.
//! The CPU twin is `ops::linear_forward` on the packed tensor dequantized to f32 (with
//! `quant::reference`, the oracle): the GPU reads x in f32, where the CPU's decode kernels for
//! the quantized formats round x to 8 bits first (llama.cpp's scheme, `ops::matvec`), which
//! moves results by up to about 1e-2; results agree within 1e-4.

use super::gpu_ops::{check, gpu, rand_vec, run};
use tinychat::gpu::buffers::{self, tensor_bytes, Weight, WeightFormat};
use tinychat::gpu::kernels::{self, MatmulKernel};
use tinychat::ops;
use tinychat::quant::QType;
use tinychat::tensor::Tensor;

/// Input widths for a format: a few whole blocks, and SmolLM2's 576 where blocks of 32 allow.
fn widths(q: QType) -> Vec<usize> {
    match q.block_len() {
        256 => vec![256, 512],
        32 => vec![96, 576],
        _ => vec![75, 96],
    }
}

#[test]
fn every_format_matches_its_cpu_twin_in_matvec_and_matmul() {
    let Some(g) = gpu() else { return };
    for f in WeightFormat::ALL {
        let q = f.qtype();
        for k in widths(q) {
            for &(t, n) in &[(1, 1), (1, 37), (3, 101), (37, 67)] {
                let w = Tensor::from_f32(vec![n, k], &rand_vec(n * k, 2, 0.2), q);
                let x = rand_vec(t * k, 1, 1.0);
                let b = rand_vec(n, 3, 0.5);
                let mut want = vec![0.0; t * n];
                ops::linear_forward(&mut want, &x, &w.cast(QType::F32), Some(&b), t);
                let gw = Weight::upload_raw(&g, "w", f, &tensor_bytes(&w), n, k).unwrap();
                assert!(gw.bytes() as usize >= w.bytes());
                let gx = buffers::upload_f32(&g, "x", &x).unwrap();
                let gb = buffers::upload_f32(&g, "b", &b).unwrap();
                for kernel in [
                    MatmulKernel::Vector,
                    MatmulKernel::Tiled,
                    MatmulKernel::TiledSmall,
                ] {
                    let out = buffers::zeros(&g, "out", t * n).unwrap();
                    let got = run(&g, &out, t * n, |r| {
                        kernels::matmul_with(r, kernel, &out, 0, &gx, 0, &gw, Some(&gb), t)
                    });
                    check(
                        &format!("{} {kernel:?} T={t} K={k} N={n}", f.name()),
                        &got,
                        &want,
                        1e-4,
                    );
                }
            }
        }
    }
}

#[test]
fn packed_bytes_are_uploaded_as_stored() {
    // No dequantization at upload: a packed matrix takes its stored size on the GPU (rounded up
    // to a u32), and the aligned formats keep ggml's bytes exactly.
    let Some(g) = gpu() else { return };
    for f in WeightFormat::ALL.into_iter().filter(|f| f.is_quantized()) {
        let q = f.qtype();
        let (n, k) = (5, q.block_len() * 3);
        let w = Tensor::from_f32(vec![n, k], &rand_vec(n * k, 4, 1.0), q);
        let stored = tensor_bytes(&w);
        let (bytes, k4, aux) = buffers::gpu_layout(f, &stored, n, k);
        assert_eq!(k4, k / 4);
        assert_eq!(bytes.len(), stored.len().div_ceil(4) * 4, "{}", f.name());
        if matches!(f, WeightFormat::Q4_1 | WeightFormat::Q4K) {
            assert_eq!(&bytes[..], &stored[..], "{}: as stored", f.name());
            assert_eq!(aux, 0);
        } else {
            assert!(aux > 0 && aux * 4 < bytes.len());
        }
        let gw = Weight::upload_raw(&g, "w", f, &stored, n, k).unwrap();
        assert_eq!(gw.bytes(), bytes.len() as u64);
        println!(
            "{}: {} bytes stored, {} on the GPU",
            f.name(),
            stored.len(),
            gw.bytes()
        );
    }
}

#[test]
fn embedding_lookup_reads_every_format() {
    let Some(g) = gpu() else { return };
    let (v, t) = (301, 7);
    let tokens: Vec<u32> = vec![0, 5, 300, 17, 5, 299, 123];
    let gt = buffers::upload_bytes(&g, "tokens", bytemuck::cast_slice(&tokens)).unwrap();
    for f in WeightFormat::ALL {
        let c = widths(f.qtype())[0];
        let wte = Tensor::from_f32(vec![v, c], &rand_vec(v * c, 15, 1.0), f.qtype());
        let mut want = vec![0.0; t * c];
        ops::embed_rows(&mut want, &tokens, &wte);
        let gw = Weight::upload_raw(&g, "wte", f, &tensor_bytes(&wte), v, c).unwrap();
        let out = buffers::zeros(&g, "out", t * c).unwrap();
        let got = run(&g, &out, t * c, |r| {
            kernels::embedding(r, &out, &gt, &gw, None, t, 0)
        });
        check(
            &format!("embedding {} V={v} C={c}", f.name()),
            &got,
            &want,
            1e-6,
        );
    }
}

#[test]
fn weight_upload_converts_between_formats() {
    // f32 values uploaded as any format equal that format's CPU round trip.
    let Some(g) = gpu() else { return };
    let (n, k, t) = (9, 256, 2);
    let w = rand_vec(n * k, 8, 0.3);
    let x = rand_vec(t * k, 9, 1.0);
    for f in WeightFormat::ALL {
        let wt = Tensor::from_f32(vec![n, k], &w, f.qtype());
        let mut want = vec![0.0; t * n];
        ops::linear_forward(&mut want, &x, &wt.cast(QType::F32), None, t);
        let gw = Weight::upload(&g, "w", &w, n, k, f).unwrap();
        let gx = buffers::upload_f32(&g, "x", &x).unwrap();
        let out = buffers::zeros(&g, "out", t * n).unwrap();
        let got = run(&g, &out, t * n, |r| {
            kernels::matmul_with(r, MatmulKernel::Vector, &out, 0, &gx, 0, &gw, None, t)
        });
        check(&format!("upload as {}", f.name()), &got, &want, 1e-4);
    }
    // A packed format refuses rows that are not whole blocks, with the reason.
    let e = Weight::upload(
        &g,
        "w",
        &rand_vec(3 * 40, 1, 1.0),
        3,
        40,
        WeightFormat::Q8_0,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("whole number of Q8_0 blocks"), "{e}");
}
