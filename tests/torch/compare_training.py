#!/usr/bin/env python3
"""Trains Strata models and PyTorch mirrors of them side by side and compares
the loss of every step.

For each configuration below the script

1. compiles the model with `strata-compile` (optimizer options as given),
2. trains it with `strata-run --steps N --save-init init.safetensors
   --dump-batches batches.safetensors --log-csv losses.csv`,
3. builds the same model in PyTorch (written here from the .sg source, not
   generated from Strata's IR), loads `init.safetensors` into it by parameter
   name, and trains it on the batches from `batches.safetensors` with
   torch.optim.AdamW / SGD, torch.nn.utils.clip_grad_norm_ and the learning
   rate schedule of TRAINING-SPEC §1,
4. requires |loss_strata - loss_torch| / |loss_torch| <= RTOL at every step.

Both sides compute in float32. The script also trains the PyTorch model in
float64 and prints how far float32 PyTorch is from it: that is the rounding
noise any float32 implementation has, and the tolerance must sit above it.

Usage (ctest runs it like this; see CMakeLists.txt):

    /usr/bin/python3 tests/torch/compare_training.py \
        --bin-dir build/bin --examples examples --work-dir /tmp/torch-compare

Exit status: 0 all configurations agree, 1 a disagreement or a failed tool,
77 PyTorch is not importable (ctest reports the test as skipped).
"""

import argparse
import csv
import json
import math
import os
import struct
import subprocess
import sys

SKIP = 77

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as error:  # The test needs PyTorch; without it, skip.
    print(f"SKIPPED: PyTorch is not importable with {sys.executable}: {error}")
    sys.exit(SKIP)

# The tolerance on the relative difference of the loss at every step.
#
# Why 1e-5 (tighter than the 1e-4 one might start from): both sides store
# every tensor in float32 and differ only in how they sum (Strata's CPU
# kernels accumulate in double, PyTorch's BLAS in float32 blocks), a few ulps
# (~1e-7) per op. Measured over the 20 steps of every configuration below,
# Strata and float32 PyTorch agree to at most 4.2e-7, and strata-run's CSV
# prints the loss with 6 decimals (~2e-7 relative), so 1e-5 leaves a margin
# of more than 20x. It has to be that tight to catch optimizer bugs whose
# effect on the loss is small over 20 steps; changing one thing on the PyTorch
# side moves the worst step by (gpt2_tiny-adamw / mnist_mlp-adamw / -sgd):
#   weight decay 0 instead of 0.1/0.01   8.7e-5 / 3.1e-5 / 2.6e-3
#   clipping off (on for sgd)            2.6e-4 / 1.1e-4 / 1.0e-2
#   lr 1% higher                         7.7e-4 / 1.1e-4 / 4.8e-4
#   schedule one step early              1.1e-2 / 1.2e-3 / 7.6e-4
#   beta2 0.999 (momentum 0.8 for sgd)   1.1e-3 / 1.3e-4 / 8.5e-3
# A wrong gradient rule moves the very first steps by far more. The "noise"
# printed per run (float32 against float64 PyTorch, up to 1.7e-5 for the sgd
# runs) is larger than the Strata-PyTorch difference because float64 also
# drops the float32 rounding of every stored tensor, which both float32
# implementations share; it is shown for context, not compared.
RTOL = 1e-5

# Optimizer settings shared by the AdamW runs: nanoGPT's recipe.
ADAMW = dict(optimizer="adamw", lr=1e-3, beta1=0.9, beta2=0.95, epsilon=1e-8,
             weight_decay=0.1, clip_norm=1.0, schedule="cosine",
             warmup_steps=5, total_steps=20, min_lr=1e-4, accumulate=1)

# SGD with momentum, a constant schedule after warmup and no clipping: the
# other optimizer and the other branches of the schedule and the clip scale.
SGD = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=0.01,
           clip_norm=0.0, schedule="constant", warmup_steps=3,
           total_steps=0, min_lr=0.0, accumulate=1)

CONFIGS = [
    ("gpt2_tiny-adamw", "gpt2.sg", "gpt2_tiny", ADAMW),
    ("mnist_mlp-adamw", "mlp.sg", "mnist_mlp", ADAMW),
    ("mnist_mlp-sgd", "mlp.sg", "mnist_mlp", SGD),
    # Two micro-batches per step: gradient accumulation.
    ("mnist_mlp-sgd-accumulate2", "mlp.sg", "mnist_mlp",
     dict(SGD, accumulate=2)),
]


# ----------------------------------------------------------------------------
# safetensors (the layout in docs/runtime-data.md), read without the
# `safetensors` package.
# ----------------------------------------------------------------------------

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32,
          "I64": np.int64, "U16": np.uint16, "U8": np.uint8}


def read_safetensors(path):
    """Returns {name: numpy array} of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[base + begin:base + end],
                              dtype=np.dtype(dtype).newbyteorder("<"))
        tensors[name] = array.reshape(entry["shape"]).copy()
    return tensors


# ----------------------------------------------------------------------------
# The models, written from examples/gpt2.sg, examples/lib/heads.sg and
# examples/mlp.sg. Weights are stored as the .sg files declare them
# (`x @ w + b` with w of shape [in, out]) so they load by name unchanged.
# ----------------------------------------------------------------------------

def layer_norm(p, name, x):
    # gpt2.sg `ln`: layer_norm(x, w, b, eps = 1e-5) over the last axis.
    return F.layer_norm(x, x.shape[-1:], p[name + ".w"], p[name + ".b"],
                        eps=1e-5)


def linear(p, name, x):
    return x @ p[name + ".w"] + p[name + ".b"]


def split_heads(x, n):
    # heads.sg: [B, T, n * Dh] -> [B, n, T, Dh].
    b, t, d = x.shape
    return x.reshape(b, t, n, d // n).permute(0, 2, 1, 3)


def merge_heads(x):
    # heads.sg: [B, H, T, Dh] -> [B, T, H * Dh].
    b, h, t, dh = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, t, h * dh)


def causal_attention(q, k, v):
    # attention(q, k, v, causal = true): softmax(q k^T / sqrt(Dh)) v with the
    # future masked out.
    t, dh = q.shape[-2], q.shape[-1]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def gpt2_loss(p, inputs, n_layer, n_head):
    tokens = inputs["tokens"].long()
    targets = inputs["targets"].long()
    t = tokens.shape[1]
    x = p["wte"][tokens] + p["wpe"][torch.arange(t)]
    for i in range(n_layer):
        # `block` is called without `as`, so its params sit under h.<i>.block.
        prefix = f"h.{i}.block."
        h = layer_norm(p, prefix + "ln_1", x)
        q, k, v = linear(p, prefix + "attn.c_attn", h).split(
            x.shape[-1], dim=-1)
        y = causal_attention(split_heads(q, n_head), split_heads(k, n_head),
                             split_heads(v, n_head))
        x = x + linear(p, prefix + "attn.c_proj", merge_heads(y))
        h = layer_norm(p, prefix + "ln_2", x)
        h = F.gelu(linear(p, prefix + "mlp.c_fc", h), approximate="tanh")
        x = x + linear(p, prefix + "mlp.c_proj", h)
    x = layer_norm(p, "ln_f", x)
    logits = x @ p["wte"].t()  # tied output projection
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                           targets.reshape(-1))


def mlp_loss(p, inputs):
    h = torch.relu(linear(p, "fc1", inputs["x"]))
    logits = linear(p, "fc2", h)
    return F.cross_entropy(logits, inputs["targets"].long())


def gpt2_tiny_param_shapes(vocab=256, ctx=64, n_layer=2, d=64):
    shapes = {"wte": (vocab, d), "wpe": (ctx, d)}
    for i in range(n_layer):
        prefix = f"h.{i}.block."
        for ln in ("ln_1", "ln_2"):
            shapes[prefix + ln + ".w"] = (d,)
            shapes[prefix + ln + ".b"] = (d,)
        for name, n_in, n_out in (("attn.c_attn", d, 3 * d),
                                  ("attn.c_proj", d, d),
                                  ("mlp.c_fc", d, 4 * d),
                                  ("mlp.c_proj", 4 * d, d)):
            shapes[prefix + name + ".w"] = (n_in, n_out)
            shapes[prefix + name + ".b"] = (n_out,)
    shapes["ln_f.w"] = (d,)
    shapes["ln_f.b"] = (d,)
    return shapes


MODELS = {
    # model: (parameter shapes, loss function, input names)
    "gpt2_tiny": (gpt2_tiny_param_shapes(),
                  lambda p, inputs: gpt2_loss(p, inputs, n_layer=2, n_head=4),
                  ("tokens", "targets")),
    "mnist_mlp": ({"fc1.w": (784, 256), "fc1.b": (256,),
                   "fc2.w": (256, 10), "fc2.b": (10,)},
                  mlp_loss, ("x", "targets")),
}


# ----------------------------------------------------------------------------
# Training in PyTorch.
# ----------------------------------------------------------------------------

def learning_rate(cfg, step):
    """TRAINING-SPEC §1 `graph.lr_schedule`; `step` counts from 1."""
    base, warmup = cfg["lr"], cfg["warmup_steps"]
    if warmup > 0 and step <= warmup:
        return base * step / warmup
    if cfg["schedule"] == "constant":
        return base
    total, min_lr = cfg["total_steps"], cfg["min_lr"]
    progress = min(max((step - warmup) / max(1, total - warmup), 0.0), 1.0)
    return min_lr + 0.5 * (base - min_lr) * (1.0 + math.cos(math.pi * progress))


def train_torch(model, cfg, init, batches, dtype):
    """Losses of `len(batches)` steps of `model` in PyTorch."""
    shapes, loss_fn, _ = MODELS[model]
    # Copies: the optimizer updates parameters in place, and `init` serves
    # more than one run.
    params = {name: torch.nn.Parameter(torch.tensor(init[name], dtype=dtype))
              for name in shapes}
    # Weight decay only on matmul weights and embeddings (rank >= 2), as the
    # spec and nanoGPT do.
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg["weight_decay"]},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg["optimizer"] == "adamw":
        opt = torch.optim.AdamW(groups, lr=cfg["lr"],
                                betas=(cfg["beta1"], cfg["beta2"]),
                                eps=cfg["epsilon"])
    else:
        opt = torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"],
                              dampening=0.0)
    losses = []
    for step, micro_batches in enumerate(batches, start=1):
        opt.zero_grad(set_to_none=False)
        step_loss = 0.0
        for inputs in micro_batches:
            tensors = {name: torch.from_numpy(value) for name, value in
                       inputs.items()}
            for name, value in tensors.items():
                if value.is_floating_point():
                    tensors[name] = value.to(dtype)
            loss = loss_fn(params, tensors)
            (loss / len(micro_batches)).backward()
            step_loss += loss.item() / len(micro_batches)
        if cfg["clip_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(list(params.values()),
                                           cfg["clip_norm"])
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step)
        opt.step()
        losses.append(step_loss)
    return losses


# ----------------------------------------------------------------------------
# Running Strata.
# ----------------------------------------------------------------------------

def run(command):
    print("+ " + " ".join(command), flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.stdout:
        print(result.stdout.rstrip())
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed with exit status "
                           f"{result.returncode}")


def compile_flags(cfg):
    flags = ["--optimizer", cfg["optimizer"], "--lr", repr(cfg["lr"]),
             "--weight-decay", repr(cfg["weight_decay"]),
             "--clip-norm", repr(cfg["clip_norm"]),
             "--schedule", cfg["schedule"],
             "--warmup-steps", str(cfg["warmup_steps"]),
             "--accumulate", str(cfg["accumulate"])]
    if cfg["optimizer"] == "adamw":
        flags += ["--beta1", repr(cfg["beta1"]), "--beta2", repr(cfg["beta2"]),
                  "--epsilon", repr(cfg["epsilon"])]
    else:
        flags += ["--momentum", repr(cfg["momentum"])]
    if cfg["schedule"] == "cosine":
        flags += ["--total-steps", str(cfg["total_steps"]),
                  "--min-lr", repr(cfg["min_lr"])]
    return flags


def read_losses(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # (step, loss, learning rate or None when the CSV has no lr column)
    return [(int(row["step"]), float(row["loss"]),
             float(row["lr"]) if row.get("lr") else None) for row in rows]


def group_batches(dump, input_names):
    """`<step>.<micro>.<input>` tensors -> [[{input: array} per micro] per
    step], in step order."""
    steps = {}
    for key, value in dump.items():
        step, micro, name = key.split(".", 2)
        steps.setdefault(int(step), {}).setdefault(int(micro), {})[name] = value
    batches = []
    for step in sorted(steps):
        micros = steps[step]
        batch = []
        for micro in sorted(micros):
            # Other inputs (the apply program's `step`) are not the model's.
            missing = set(input_names) - set(micros[micro])
            if missing:
                raise RuntimeError(f"batch {step}.{micro} lacks inputs "
                                   f"{sorted(missing)}")
            batch.append({name: micros[micro][name] for name in input_names})
        batches.append(batch)
    return sorted(steps), batches


def check_init(model, init):
    shapes = MODELS[model][0]
    if set(init) != set(shapes):
        raise RuntimeError(
            f"init.safetensors names {sorted(set(init) ^ set(shapes))} differ "
            "from the PyTorch model's parameters")
    for name, shape in shapes.items():
        if tuple(init[name].shape) != shape or init[name].dtype != np.float32:
            raise RuntimeError(f"parameter {name}: {init[name].dtype}"
                               f"{list(init[name].shape)} in init.safetensors,"
                               f" expected float32{list(shape)}")


def compare(label, sg_file, model, cfg, args):
    work = os.path.join(args.work_dir, label)
    os.makedirs(work, exist_ok=True)
    plan = os.path.join(work, "model.plan")
    init_path = os.path.join(work, "init.safetensors")
    batches_path = os.path.join(work, "batches.safetensors")
    csv_path = os.path.join(work, "losses.csv")
    run([args.strata_compile, os.path.join(args.examples, sg_file),
         "--model", model, *compile_flags(cfg), "-o", plan])
    # The CPU: a GPU, where strata-run would pick one, multiplies in TF32 or
    # bf16 and cannot meet this comparison's float32 tolerance.
    run([args.strata_run, plan, "--device", "cpu", "--steps", str(args.steps),
         "--seed", str(args.seed), "--save-init", init_path, "--dump-batches",
         batches_path, "--log-csv", csv_path])

    init = read_safetensors(init_path)
    check_init(model, init)
    step_numbers, batches = group_batches(read_safetensors(batches_path),
                                          MODELS[model][2])
    strata = read_losses(csv_path)
    if len(batches) != args.steps or any(
            len(b) != cfg["accumulate"] for b in batches):
        raise RuntimeError(f"batches.safetensors holds {len(batches)} steps "
                           f"of {[len(b) for b in batches[:1]]} micro-batches"
                           f", expected {args.steps} of {cfg['accumulate']}")
    if [row[0] for row in strata] != list(range(1, args.steps + 1)):
        raise RuntimeError(f"losses.csv has steps {[r[0] for r in strata]}, "
                           f"expected 1..{args.steps}")
    for step, _, lr in strata:
        expected = learning_rate(cfg, step)
        # 1e-5: the CSV may print six significant digits.
        if lr is not None and abs(lr - expected) > 1e-5 * expected:
            raise RuntimeError(f"losses.csv: the learning rate of step {step}"
                               f" is {lr!r}, the schedule gives {expected!r}")

    torch32 = train_torch(model, cfg, init, batches, torch.float32)
    torch64 = train_torch(model, cfg, init, batches, torch.float64)
    worst, noise = 0.0, 0.0
    failures = []
    print(f"{label}: step  strata           torch (f32)      rel. diff")
    for (step, ours, _), ref, ref64 in zip(strata, torch32, torch64):
        diff = abs(ours - ref) / abs(ref)
        worst = max(worst, diff)
        noise = max(noise, abs(ref - ref64) / abs(ref64))
        flag = "" if diff <= RTOL else "  <-- exceeds " + repr(RTOL)
        print(f"{label}: {step:4d}  {ours:.9f}  {ref:.9f}  {diff:.2e}{flag}")
        if diff > RTOL or not math.isfinite(ours):
            failures.append(step)
    print(f"{label}: max relative difference {worst:.2e} (tolerance "
          f"{RTOL:.0e}); noise of float32 PyTorch against float64 {noise:.2e}")
    if failures:
        print(f"{label}: FAILED at steps {failures}")
    return not failures


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True,
                        help="folder with strata-compile and strata-run")
    parser.add_argument("--examples",
                        default=os.path.join(here, "..", "..", "examples"))
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="run only the configuration of this "
                        "label (" + ", ".join(c[0] for c in CONFIGS) + ")")
    args = parser.parse_args()
    args.strata_compile = os.path.join(args.bin_dir, "strata-compile")
    args.strata_run = os.path.join(args.bin_dir, "strata-run")
    for tool in (args.strata_compile, args.strata_run):
        if not os.access(tool, os.X_OK):
            print(f"error: {tool} is not built")
            return 1

    # One thread: reproducible sums, and the machine running ctest is shared.
    torch.set_num_threads(1)
    ok = True
    for label, sg_file, model, cfg in CONFIGS:
        if args.only and label != args.only:
            continue
        try:
            ok &= compare(label, sg_file, model, cfg, args)
        except RuntimeError as error:
            print(f"{label}: error: {error}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
