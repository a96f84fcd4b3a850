#!/usr/bin/env python3
"""GPT-2 124M training step on one GPU: the PyTorch reference for Strata.

    python3 bench/gpt2_124m/bench.py [--modes eager,compile] [--steps 30]

The model mirrors examples/gpt2.sg (model gpt2_124m): vocab 50304, context
1024, 12 layers, d=768, 12 heads; learned positions, pre-LayerNorm, tanh GELU,
lm_head tied to the token embedding, F.scaled_dot_product_attention (causal).
One step: bf16 autocast forward + backward on B=16 x T=1024 random tokens,
clip-norm 1.0, fused AdamW (lr 6e-4, betas 0.9/0.95, weight decay 0.1 on 2-D
parameters only), f32 master weights and optimizer state.

Modes: eager; compile (torch.compile default mode); max-autotune
(torch.compile mode="max-autotune-no-cudagraphs": it benchmarks GEMM configs
while compiling and takes several minutes). Only the model is compiled; the
fused optimizer runs eagerly in every mode.

Per mode: ms/step is the median over --steps timed steps (CUDA events around
each whole step) after --warmup steps; tokens/s = B*T / step time; model
TFLOP/s uses nanoGPT's estimate_mfu count, FLOPs per token =
6*N + 12*L*d*T, N = parameters without the position embedding (the tied wte
counted once; 12*L*d*T is attention's QK^T and PV, forward + backward, counted
as if not causal); peak memory is torch.cuda.max_memory_allocated over the
mode's warm-up and timed steps. The floor is FLOPs per step over the measured
rate of an 8192^3 bf16 matrix product.
"""
import argparse
import csv
import math
import os
import re
import subprocess
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, CTX, LAYERS, HEADS, D = 50304, 1024, 12, 12, 768


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D)
        self.c_attn = nn.Linear(D, 3 * D)
        self.attn_proj = nn.Linear(D, D)
        self.ln_2 = nn.LayerNorm(D)
        self.c_fc = nn.Linear(D, 4 * D)
        self.mlp_proj = nn.Linear(4 * D, D)

    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        heads = lambda t: t.view(B, T, HEADS, D // HEADS).transpose(1, 2)
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, D))
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.mlp_proj(h)


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D)
        self.wpe = nn.Embedding(CTX, D)
        self.h = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(D)
        # GPT-2's init; projections into the residual stream get
        # 0.02 / sqrt(2 * layers), as in examples/gpt2.sg.
        proj_std = 0.02 / math.sqrt(2 * LAYERS)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, std=proj_std)
            elif p.dim() == 2:
                nn.init.normal_(p, std=0.02)
            elif name.endswith(".bias") and "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, tokens, targets):
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.wte(tokens) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied lm_head
        return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))

    def flop_params(self):
        """N in 6*N: every parameter but the position embedding."""
        return sum(p.numel() for p in self.parameters()) - self.wpe.weight.numel()


def make_optimizer(model):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=6e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)


def gemm_rate(n=8192, reps=20):
    """Median TFLOP/s of an n^3 bf16 product on random data (two input sets,
    alternated, so that no run reads what the last one left in L2)."""
    sets = [(torch.randn(n, n, device="cuda", dtype=torch.bfloat16),
             torch.randn(n, n, device="cuda", dtype=torch.bfloat16)) for _ in range(2)]
    out = torch.empty(n, n, device="cuda", dtype=torch.bfloat16)
    for i in range(5):
        torch.matmul(*sets[i % 2], out=out)
    times = []
    for i in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(*sets[i % 2], out=out)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    del sets, out
    return 2 * n ** 3 / (statistics.median(times) * 1e-3) / 1e12


def run_mode(mode, B, T, warmup, steps):
    torch.manual_seed(0)
    model = GPT2().cuda()
    opt = make_optimizer(model)
    forward = model
    if mode == "compile":
        forward = torch.compile(model)
    elif mode == "max-autotune":
        forward = torch.compile(model, mode="max-autotune-no-cudagraphs")
    # Random tokens; two batches alternated.
    g = torch.Generator(device="cuda").manual_seed(1)
    batches = [(torch.randint(0, 50257, (B, T), device="cuda", generator=g),
                torch.randint(0, 50257, (B, T), device="cuda", generator=g)) for _ in range(2)]

    def step(i):
        x, y = batches[i % 2]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = forward(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    first = step(0).item()  # compiles, for the compiled modes
    first_s = time.perf_counter() - t0
    for i in range(1, warmup):
        step(i)
    torch.cuda.synchronize()
    times, loss = [], None
    for i in range(steps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        loss = step(i)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    last = loss.item()
    peak = torch.cuda.max_memory_allocated()
    flop_params = model.flop_params()
    del forward, model, opt, batches
    torch.cuda.empty_cache()
    return {"ms": statistics.median(times), "ms_min": min(times), "ms_max": max(times),
            "first_step_s": first_s, "peak": peak, "loss_first": first, "loss_last": last,
            "flop_params": flop_params}


def run_strata(strata_run, plan, warmup, steps, tokens_per_step):
    """Trains the compiled plan with strata-run on the GPU; the step times are
    the differences of the elapsed times strata-run logs after every step
    (it reads the loss back after each step, so they are whole steps)."""
    out = "/tmp/strata-bench.csv"
    total = warmup + steps
    t0 = time.perf_counter()
    result = subprocess.run([strata_run, plan, "--device", "cuda", "--steps", str(total),
                             "--log-csv", out, "--log-every", str(total)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError("strata-run failed:\n" + result.stdout[-4000:])
    with open(out) as f:
        rows = list(csv.DictReader(f))
    elapsed = [float(r["elapsed_s"]) for r in rows]
    times = [1e3 * (b - a) for a, b in zip(elapsed, elapsed[1:])][warmup - 1:]
    allocated = re.search(r"of device memory allocated \((\d+) bytes\)", result.stdout)
    return {"ms": statistics.median(times), "ms_min": min(times), "ms_max": max(times),
            "first_step_s": elapsed[0], "wall_s": wall,
            "peak": int(allocated.group(1)) if allocated else 0,
            "loss_first": float(rows[0]["loss"]), "loss_last": float(rows[-1]["loss"])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="eager,compile",
                    help="comma-separated: eager, compile, max-autotune")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--strata-run", help="strata-run built with the CUDA backend")
    ap.add_argument("--strata-plan", help="examples/gpt2.sg gpt2_124m compiled with the "
                    "same batch, precision and optimizer (see run.sh)")
    args = ap.parse_args()
    assert torch.cuda.is_available(), "needs a CUDA device"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    B, T = args.batch, args.seq
    tokens = B * T

    dev = torch.cuda.get_device_properties(0)
    print(f"device: {dev.name}, {dev.multi_processor_count} SMs, "
          f"{dev.total_memory / 2**30:.1f} GiB; torch {torch.__version__}", flush=True)
    rate = gemm_rate()
    print(f"measured bf16 GEMM 8192^3: {rate:.0f} TFLOP/s", flush=True)

    results = {}
    for mode in args.modes.split(","):
        print(f"running {mode} ...", flush=True)
        r = run_mode(mode, B, T, args.warmup, args.steps)
        results[mode] = r
        print(f"  {mode}: median {r['ms']:.1f} ms (min {r['ms_min']:.1f}, max {r['ms_max']:.1f}), "
              f"first step {r['first_step_s']:.1f} s, loss {r['loss_first']:.3f} -> "
              f"{r['loss_last']:.3f}", flush=True)

    strata = None
    if args.strata_run and args.strata_plan:
        print("running strata ...", flush=True)
        strata = run_strata(args.strata_run, args.strata_plan, args.warmup, args.steps, tokens)
        print(f"  strata: median {strata['ms']:.1f} ms (min {strata['ms_min']:.1f}, max "
              f"{strata['ms_max']:.1f}), loss {strata['loss_first']:.3f} -> "
              f"{strata['loss_last']:.3f}", flush=True)

    n = next(iter(results.values()))["flop_params"]
    per_token = 6 * n + 12 * LAYERS * D * T
    per_step = per_token * tokens
    floor_ms = per_step / (rate * 1e12) * 1e3
    print()
    print(f"GPT-2 124M, B={B} x T={T} ({tokens} tokens/step), bf16 autocast, fused AdamW, "
          f"{dev.name}")
    print(f"N = {n / 1e6:.2f}M (without wpe); FLOPs/token = 6N + 12*L*d*T = {per_token / 1e6:.1f}M; "
          f"FLOPs/step = {per_step / 1e12:.2f} TFLOP; GEMM rate {rate:.0f} TFLOP/s")
    print()
    print("| run | ms/step | tokens/s | model TFLOP/s | % of GEMM rate | peak memory (GiB) | first step (s) |")
    print("|---|---|---|---|---|---|---|")
    names = {"eager": "PyTorch eager", "compile": "PyTorch torch.compile (default)",
             "max-autotune": "PyTorch torch.compile (max-autotune-no-cudagraphs)"}
    for mode, r in results.items():
        tflops = per_step / (r["ms"] * 1e-3) / 1e12
        print(f"| {names[mode]} | {r['ms']:.1f} | {tokens / (r['ms'] * 1e-3):,.0f} | {tflops:.0f} | "
              f"{100 * tflops / rate:.0f}% | {r['peak'] / 2**30:.1f} | {r['first_step_s']:.1f} |")
    if strata:
        tflops = per_step / (strata["ms"] * 1e-3) / 1e12
        print(f"| Strata (strata-run --device cuda, CUDA graphs) | {strata['ms']:.1f} | "
              f"{tokens / (strata['ms'] * 1e-3):,.0f} | {tflops:.0f} | {100 * tflops / rate:.0f}% | "
              f"{strata['peak'] / 2**30:.1f} (allocated) | {strata['first_step_s']:.1f} |")
        if "compile" in results:
            c = results["compile"]
            print(f"| Strata / torch.compile | tokens/s {c['ms'] / strata['ms']:.2f}x | | | | "
                  f"memory {strata['peak'] / c['peak']:.2f}x | |")
    print(f"| floor: FLOPs/step at the measured GEMM rate | {floor_ms:.1f} | "
          f"{tokens / (floor_ms * 1e-3):,.0f} | {rate:.0f} | 100% | | |")


if __name__ == "__main__":
    main()
