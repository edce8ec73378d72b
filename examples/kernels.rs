//! Speed of each decode kernel alone: GB/s of weights one thread streams through
//! `matvec_with`, per storage type and instruction set, for a matrix that stays in L2
//! (1536 × 576, SmolLM2's W_up) and one that does not (49152 × 576, its tied output head).
//!
//!   cargo run --release --example kernels [-- q4_1,f16]
//!
//! Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so the figures hold on a machine
//! whose cores other processes share (the wall clock would count their time slices too); the
//! load is printed beside them, since their memory traffic still lowers the DRAM figure.

use tinychat::ops::matvec::{matvec_with, Isa, Store};
use tinychat::quant::QType;
use tinychat::tensor::Tensor;

fn main() {
    let only: Option<Vec<QType>> = std::env::args()
        .nth(1)
        .map(|s| s.split(',').filter_map(QType::from_name).collect());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    println!(
        "one thread; load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!("| type | ISA | L2 (1536×576) GB/s | DRAM (49152×576) GB/s |");
    println!("| --- | --- | ---: | ---: |");
    for q in QType::ALL {
        if only.as_ref().is_some_and(|o| !o.contains(&q)) {
            continue;
        }
        let cols = if q.block_len() == 256 { 512 } else { 576 };
        let small = rand_tensor(1536, cols, q);
        let big = rand_tensor(49152, cols, q);
        let x: Vec<f32> = (0..cols).map(|i| (i as f32 * 0.37).sin()).collect();
        for isa in Isa::available() {
            let mut row = format!("| {q} | {} |", isa.name());
            for (w, reps) in [(&small, 400), (&big, 12)] {
                let mut o = vec![0.0; w.rows_cols().0];
                let mut best = f64::INFINITY;
                pool.install(|| {
                    matvec_with(isa, &mut o, &x, w, None, Store::Set);
                    for _ in 0..3 {
                        let t = cpu_time();
                        for _ in 0..reps {
                            matvec_with(isa, &mut o, &x, w, None, Store::Set);
                        }
                        best = best.min((cpu_time() - t) / reps as f64);
                    }
                });
                row += &format!(" {:.1} |", w.bytes() as f64 / best / 1e9);
            }
            println!("{row}");
        }
    }
}

fn rand_tensor(rows: usize, cols: usize, q: QType) -> Tensor {
    let mut s = 1u32;
    let x: Vec<f32> = (0..rows * cols)
        .map(|_| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1 << 24) as f32 - 0.5
        })
        .collect();
    Tensor::from_f32(vec![rows, cols], &x, q)
}

/// Seconds of CPU time this thread has used.
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
