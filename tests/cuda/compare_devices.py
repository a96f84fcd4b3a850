#!/usr/bin/env python3
"""Trains the same plans on the CPU and on the GPU and compares the losses.

Each plan runs `--steps` steps with `strata-run --device cpu` and with
`strata-run --device cuda` from the same seed and data, and the loss of every
step must agree within the plan's tolerance (relative): GPU matmuls use TF32
(f32 plans) or bf16 tensor cores, and reductions sum in another order, so the
curves agree to about 1e-3 per step, not bit for bit.

Exits 77 (skipped) where strata-run has no CUDA backend or sees no GPU.

  compare_devices.py --strata-run build/bin/strata-run \
      [--strata-compile build/bin/strata-compile --examples examples] \
      [--plan NAME=FILE:TOL ...] --work-dir DIR
"""

import argparse
import csv
import os
import subprocess
import sys

SKIP = 77

# (name, example file, model, extra strata-compile flags, tolerance)
DEFAULT_MODELS = [
    ("gpt2_tiny", "gpt2.sg", "gpt2_tiny", [], 2e-2),
    ("gpt2_tiny-bf16", "gpt2.sg", "gpt2_tiny", ["--precision", "bf16"], 3e-2),
    ("llama_tiny", "llama.sg", "llama_tiny", [], 2e-2),
    ("moe_tiny", "moe.sg", "moe_tiny", [], 2e-2),
    ("mnist_mlp", "mlp.sg", "mnist_mlp", [], 2e-2),
]


def run(cmd, **kwargs):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kwargs)


def losses(path):
    with open(path) as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--strata-run", required=True)
    parser.add_argument("--strata-compile")
    parser.add_argument("--examples")
    parser.add_argument("--plan", action="append", default=[],
                        help="NAME=FILE:TOLERANCE, a plan compiled elsewhere")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)

    probe = run([args.strata_run, "--help"])
    if "--device" not in probe.stdout:
        print("strata-run has no --device option")
        return 1

    plans = []
    for spec in args.plan:
        name, rest = spec.split("=", 1)
        path, tol = rest.rsplit(":", 1)
        plans.append((name, path, float(tol)))
    if args.strata_compile:
        for name, example, model, flags, tol in DEFAULT_MODELS:
            path = os.path.join(args.work_dir, name + ".plan")
            result = run([args.strata_compile,
                          os.path.join(args.examples, example),
                          "--model", model, "-o", path] + flags)
            if result.returncode != 0:
                print(f"{name}: strata-compile failed:\n{result.stdout}")
                return 1
            plans.append((name, path, tol))

    failures = 0
    for name, path, tol in plans:
        curves = {}
        # The GPU first: where there is none, the test stops before any work.
        for device in ("cuda", "cpu"):
            out = os.path.join(args.work_dir, f"{name}-{device}.csv")
            result = run([args.strata_run, path, "--device", device,
                          "--steps", str(args.steps), "--log-csv", out,
                          "--log-every", str(args.steps)])
            if result.returncode != 0:
                text = result.stdout
                if device == "cuda" and ("no CUDA device" in text or
                                         "no usable CUDA device" in text or
                                         "without the CUDA backend" in text):
                    print(f"skipped: {text.strip()}")
                    return SKIP
                print(f"{name} on {device}: strata-run failed:\n{text}")
                return 1
            curves[device] = losses(out)
        cpu, gpu = curves["cpu"], curves["cuda"]
        worst = max(abs(g - c) / max(abs(c), 1e-6) for c, g in zip(cpu, gpu))
        ok = len(cpu) == len(gpu) == args.steps and worst <= tol
        failures += not ok
        print(f"{name:16s} steps {len(gpu):3d}  loss cpu {cpu[0]:.4f} -> "
              f"{cpu[-1]:.4f}  cuda {gpu[0]:.4f} -> {gpu[-1]:.4f}  max rel "
              f"diff {worst:.2e} (tolerance {tol:.0e})  "
              f"{'ok' if ok else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
