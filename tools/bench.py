"""Time training and generation of the book's GPT-2 and Llama presets in both frameworks.

    python tools/bench.py             # the small shape below: about 3 minutes on 2 CPU cores
    python tools/bench.py --scale 4   # 4x the layers, width and heads: for a GPU

Prints one table and nothing else. It reports, it does not judge: there is no expected time.
Training rows: median step time of a minimal step (AdamW, next-token cross-entropy; in
TensorFlow a ``tf.function``, as ``lm.fit`` traces it), tokens/s, and model-FLOPs
utilization against the CPU's theoretical peak (:func:`largemodels.devices.cpu_peak_flops`).
Generation rows: greedy tokens/s of ``lm.generate`` with and without the KV cache.
Each framework picks the GPU if it has one; everything runs in float32 (TF32 off).
"""
import argparse
import functools
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from largemodels import GPTConfig, costs, devices, seed_everything
from largemodels import tensorflow as lm_tf
from largemodels import torch as lm_torch

import keras  # after largemodels.tensorflow, which imports TensorFlow quietly
import tensorflow as tf
import torch

# ---- the sizes: turn them up with --scale (layers, width and heads; head size stays 64) ------
VOCAB, BLOCK, N_LAYER, N_HEAD, N_EMBD = 2048, 256, 4, 4, 256
BATCH, SEQ = 4, 128  # training: sequences per step, tokens per sequence
WARMUP_STEPS, TIMED_STEPS = 2, 5  # training steps thrown away, then timed (median)
# Generation: batch 1, greedy, median of runs. TensorFlow generates eagerly, about 0.1 s a
# token on 2 busy CPU cores, so 32 new tokens keep the bench near 3 minutes; raise on a GPU.
PROMPT, NEW_TOKENS, GENERATE_RUNS = 16, 32, 3
LR = 3e-4


def presets(scale):
    """GPT-2 and Llama-style configs of one small shape; Llama uses GQA with n_head / 2 KV heads."""
    shape = {"vocab_size": VOCAB, "block_size": BLOCK, "n_layer": N_LAYER * scale,
             "n_head": N_HEAD * scale, "n_embd": N_EMBD * scale}
    return {"gpt2": GPTConfig(**shape),
            "llama": GPTConfig.llama_like(**shape, n_kv_head=N_HEAD * scale // 2)}


def median_seconds(fn, runs, warmup=0):
    """Median wall time of ``runs`` calls of ``fn`` after ``warmup`` untimed calls. ``fn``
    must wait for the device itself (both step functions below read the loss back)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---- one training step per framework: forward, cross-entropy, backward, AdamW ---------------

def torch_step(config, fused, x, y):
    """A PyTorch training step on the batch (x, y), each (B, T) token ids."""
    dev = lm_torch.device()
    model = lm_torch.GPT(config, fused_attention=fused).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.1)
    xb, yb = torch.as_tensor(x, device=dev), torch.as_tensor(y, device=dev)

    def step():
        logits = model(xb)  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), yb.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()  # waits for the device
    return step


def tensorflow_step(config, fused, x, y):
    """A TensorFlow training step on the batch (x, y), compiled by ``tf.function``."""
    model = lm_tf.GPT(config, fused_attention=fused)
    opt = keras.optimizers.AdamW(learning_rate=LR, weight_decay=0.1)
    opt.build(model.trainable_variables)  # the optimizer's state, outside tf.function (as fit)
    xb, yb = tf.constant(x), tf.constant(y)

    @tf.function
    def compiled_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)  # (B, T, V)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return lambda: float(compiled_step(xb, yb))  # float(): waits for the device


FRAMEWORKS = {"pytorch": (lm_torch, torch_step), "tensorflow": (lm_tf, tensorflow_step)}


def training_rows(framework, name, config, peak_flops):
    """Rows for one framework and preset: step time, tokens/s and MFU, per attention path."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, size=(BATCH, SEQ + 1), dtype=np.int64)  # (B, T + 1)
    x, y = tokens[:, :-1], tokens[:, 1:]  # (B, T) each: y is x shifted by one token
    flops_per_step = costs.gpt_training_flops(config, SEQ) * BATCH
    rows = []
    for fused in (False, True):
        seed_everything(0)
        step = FRAMEWORKS[framework][1](config, fused, x, y)
        seconds = median_seconds(step, TIMED_STEPS, warmup=WARMUP_STEPS)
        attention = "fused" if fused else "written-out"
        mfu = "n/a" if peak_flops is None else \
            f"{100 * costs.mfu(flops_per_step / seconds, peak_flops):.1f}"
        rows += [(framework, name, attention, "train step", f"{1e3 * seconds:.0f}", "ms"),
                 (framework, name, attention, "train tokens/s", f"{BATCH * SEQ / seconds:,.0f}",
                  "tokens/s"),
                 (framework, name, attention, "train MFU", mfu, "% of peak")]
    return rows


def generation_rows(framework, name, config):
    """Rows for one framework and preset: greedy tokens/s with and without the KV cache."""
    lm = FRAMEWORKS[framework][0]
    seed_everything(0)
    model = lm.GPT(config)  # the written-out attention, the package's default
    prompt = np.random.default_rng(0).integers(0, VOCAB, size=(1, PROMPT))  # (1, T)
    if framework == "pytorch":
        model, prompt = model.to(lm.device()), torch.as_tensor(prompt, device=lm.device())
    rows = []
    for use_cache in (True, False):
        run = functools.partial(lm.generate, model, prompt, NEW_TOKENS, temperature=0,
                                use_cache=use_cache)
        seconds = median_seconds(run, GENERATE_RUNS)
        metric = "generate, KV cache" if use_cache else "generate, no cache"
        rows.append((framework, name, "written-out", metric, f"{NEW_TOKENS / seconds:,.0f}",
                     "tokens/s"))
    return rows


# ---- the header and the table --------------------------------------------------------------

def machine_and_peak():
    """(the machine in words, the peak FLOP/s for MFU or None, where that peak comes from)."""
    if torch.cuda.is_available():
        return (f"GPU {torch.cuda.get_device_name(0)}", None,
                "the package knows no float32 GPU peak (costs.PRESETS: 16-bit); pass --peak-flops")
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    peak = devices.cpu_peak_flops("float32")
    machine = f"CPU {model}, {peak.cores} cores, {torch.get_num_threads()} PyTorch threads"
    if peak.flops is None:
        return machine, None, peak.clock_source
    return machine, peak.flops, (
        f"devices.cpu_peak_flops: {peak.cores} cores x {peak.clock_hz / 1e9:.2f} GHz x "
        f"{peak.simd_lanes} {peak.simd} lanes x {peak.fma_units} FMA x 2\n"
        f"  clock: {peak.clock_source}")


def print_table(header, rows):
    """``header`` lines, then ``rows`` as aligned columns; numbers right-aligned."""
    columns = ("framework", "model", "attention", "metric", "value", "unit")
    widths = [max(len(str(r[i])) for r in (columns, *rows)) for i in range(len(columns))]

    def line(row):
        return "  ".join(str(v).rjust(w) if i == 4 else str(v).ljust(w)
                         for i, (v, w) in enumerate(zip(row, widths))).rstrip()
    print("\n".join(header))
    print(line(columns))
    print("  ".join("-" * w for w in widths))
    print("\n".join(line(row) for row in rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1,
                        help="multiply layers, width and heads by this (default 1)")
    parser.add_argument("--peak-flops", type=float, default=None,
                        help="peak FLOP/s for MFU (default: the CPU's theoretical peak)")
    args = parser.parse_args()
    if args.scale < 1:
        parser.error(f"--scale must be an integer >= 1, got {args.scale}")
    if args.peak_flops is not None and args.peak_flops <= 0:
        parser.error(f"--peak-flops must be > 0, got {args.peak_flops}")
    machine, peak_flops, peak_source = machine_and_peak()
    if args.peak_flops:
        peak_flops, peak_source = args.peak_flops, "--peak-flops"
    configs = presets(args.scale)
    load_before = os.getloadavg()[0]  # other processes on the machine slow every row
    rows = []
    for framework in FRAMEWORKS:
        for name, config in configs.items():
            rows += training_rows(framework, name, config, peak_flops)
    for framework in FRAMEWORKS:
        for name, config in configs.items():
            rows += generation_rows(framework, name, config)
    c = configs["gpt2"]
    peak = (f"n/a ({peak_source})" if peak_flops is None else
            f"{peak_flops / 1e9:,.1f} GFLOP/s float32, from {peak_source}")
    models = (f"vocab {c.vocab_size}, {c.n_layer} layers, width {c.n_embd}, {c.n_head} heads "
              f"(llama: {configs['llama'].n_kv_head} key/value heads), float32")
    print_table([
        f"machine: {machine}",
        f"load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (1 minute)",
        f"torch {torch.__version__}, tensorflow {tf.__version__}, keras {keras.__version__}",
        f"peak for MFU: {peak}",
        f"models: {models}",
        f"train: batch {BATCH} x {SEQ} tokens, median of {TIMED_STEPS} steps after {WARMUP_STEPS}",
        f"generate: batch 1, prompt {PROMPT}, {NEW_TOKENS} new tokens, median of {GENERATE_RUNS}",
        ""], rows)


if __name__ == "__main__":
    main()
