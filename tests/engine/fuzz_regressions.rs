//! Every input the fuzzers found a crash with, replayed through the same harness
//! (`tinychat::fuzzing`) on stable Rust: `fuzz/regressions/<target>/<file>`. Each runs on a
//! thread with the default 2 MiB stack and a deadline, so a stack overflow or a hang that comes
//! back fails here. A panic fails it too, even one the library catches (a tokenizer's, natively):
//! libFuzzer reports those as crashes, and in wasm32 they would abort the module. (How the files
//! get there: fuzz/README.md.)

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Mutex, Once};
use std::time::Duration;

const THREAD: &str = "fuzz-regression ";

/// Panics on the replay threads, caught or not.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current().name() {
                if name.starts_with(THREAD) {
                    PANICS.lock().unwrap().push(format!("{name}: {info}"));
                }
            }
            previous(info)
        }));
    });
}

#[test]
fn every_saved_fuzz_input_runs_clean() {
    record_panics();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut ran = 0;
    for &target in tinychat::fuzzing::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for file in files.into_iter().filter(|f| f.is_file()) {
            let data = std::fs::read(&file).unwrap();
            let name = format!(
                "{THREAD}{target}/{}",
                file.file_name().unwrap().to_string_lossy()
            );
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    tinychat::fuzzing::run(target, &data);
                    let _ = tx.send(());
                })
                .unwrap();
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(()) => ran += 1,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: still running after 20 s"),
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{name}: panicked"),
            }
        }
    }
    let panics = PANICS.lock().unwrap();
    assert!(
        panics.is_empty(),
        "panics (some caught by the library):\n{}",
        panics.join("\n")
    );
    eprintln!("replayed {ran} saved fuzz inputs");
}

/// The smoke run CI affords without libFuzzer (nightly and cargo-fuzz are not installed there):
/// every harness on pseudo-random inputs, mostly structure-aware (first byte odd), for a fixed
/// budget of inputs and about two seconds per target. Not coverage-guided — `scripts/fuzz.sh`
/// is the real search — but a harness or a loader that panics, hangs or overflows the stack on
/// a plain variation fails `cargo test`.
#[test]
fn every_harness_survives_a_short_random_run() {
    record_panics();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ran = 0;
    for &target in tinychat::fuzzing::TARGETS {
        let started = std::time::Instant::now();
        for i in 0..200 {
            if started.elapsed() > Duration::from_secs(2) {
                break;
            }
            let len = (next() % 200) as usize;
            let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = data.first_mut() {
                // Nine in ten structured.
                *first = if i % 10 == 0 { *first & !1 } else { *first | 1 };
            }
            let name = format!("{THREAD}{target}/random-{i}");
            let (tx, rx) = mpsc::channel();
            let input = data.clone();
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    tinychat::fuzzing::run(target, &input);
                    let _ = tx.send(());
                })
                .unwrap();
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(()) => ran += 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{name}: still running after 20 s (input {data:?})")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("{name}: panicked (input {data:?})")
                }
            }
        }
    }
    let panics = PANICS.lock().unwrap();
    assert!(
        panics.is_empty(),
        "panics (some caught by the library):\n{}",
        panics.join("\n")
    );
    eprintln!("ran {ran} random inputs through the harnesses");
}
