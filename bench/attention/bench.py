#!/usr/bin/env python3
"""Strata's flash attention vs PyTorch's (F.scaled_dot_product_attention, flash
backend), bf16, forward and forward+backward. Prints one table.

    python3 bench/attention/bench.py path/to/libstrata_attention_bench.so

The library is runtime/cuda/lib/FlashAttention.cu + bench/attention/AttentionBench.cu
(run.sh builds it). FLOPs: 4*B*H*T*S*D for the forward (two matrix products),
half of it when causal; the backward counts 2.5 times the forward.
"""
import ctypes
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

lib = ctypes.CDLL(sys.argv[1])
P, I, Fl = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
lib.strataAttentionForward.argtypes = [P] * 5 + [I] * 7 + [Fl, P]
lib.strataAttentionBackwardWorkspaceSize.argtypes = [I] * 6
lib.strataAttentionBackwardWorkspaceSize.restype = ctypes.c_size_t
lib.strataAttentionBackward.argtypes = [P] * 10 + [I] * 7 + [Fl, P]


def median_ms(fn, warmup=10, reps=50):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def rel_err(got, want):
    got, want = got.float(), want.float()
    if torch.isnan(got).any():
        return float("inf")
    return ((got - want).norm() / want.norm()).item()


def bench(B, H, Hkv, T, D, causal):
    S = T
    scale = D ** -0.5
    dev = "cuda"
    q = torch.randn(B, H, T, D, device=dev, dtype=torch.bfloat16)
    k = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.bfloat16)
    v = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.bfloat16)
    dout = torch.randn(B, H, T, D, device=dev, dtype=torch.bfloat16)
    out = torch.full_like(q, float("nan"))
    lse = torch.full((B, H, T), float("nan"), device=dev)
    dq, dk, dv = torch.full_like(q, float("nan")), torch.full_like(k, float("nan")), torch.full_like(v, float("nan"))
    ws = torch.empty(lib.strataAttentionBackwardWorkspaceSize(B, H, Hkv, T, S, D), dtype=torch.uint8, device=dev)
    stream = P(torch.cuda.current_stream().cuda_stream)
    dims = (B, H, Hkv, T, S, D, int(causal))

    def ours_fwd():
        err = lib.strataAttentionForward(out.data_ptr(), lse.data_ptr(), q.data_ptr(), k.data_ptr(), v.data_ptr(),
                                         *dims, scale, stream)
        assert err == 0, f"forward: cudaError {err}"

    def ours_bwd():
        err = lib.strataAttentionBackward(dq.data_ptr(), dk.data_ptr(), dv.data_ptr(), dout.data_ptr(),
                                          q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr(), lse.data_ptr(),
                                          ws.data_ptr(), *dims, scale, stream)
        assert err == 0, f"backward: cudaError {err}"

    def ours_fwd_bwd():
        ours_fwd()
        ours_bwd()

    qg, kg, vg = (x.detach().clone().requires_grad_() for x in (q, k, v))
    gqa = H != Hkv

    def torch_fwd():
        with torch.no_grad():
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale, enable_gqa=gqa)

    def torch_fwd_bwd():
        o = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal, scale=scale, enable_gqa=gqa)
        o.backward(dout)

    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        # Agreement with torch on this shape (a sanity check; the unit tests
        # compare against the CPU reference).
        ours_fwd_bwd()
        torch_fwd_bwd()
        torch.cuda.synchronize()
        errs = dict(out=rel_err(out, torch_fwd()), dq=rel_err(dq, qg.grad), dk=rel_err(dk, kg.grad),
                    dv=rel_err(dv, vg.grad))
        t = dict(ours_fwd=median_ms(ours_fwd), torch_fwd=median_ms(torch_fwd),
                 ours_fb=median_ms(ours_fwd_bwd), torch_fb=median_ms(torch_fwd_bwd))
    fwd_flops = 4 * B * H * T * S * D * (0.5 if causal else 1.0)
    return errs, t, fwd_flops


def matmul_peak():
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    return 2 * 8192 ** 3 / (median_ms(lambda: a @ b, 3, 10) * 1e-3) / 1e12


def main():
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    peak = matmul_peak()
    print(f"bf16 matmul 8192^3 (torch): {peak:.0f} TFLOP/s")
    shapes = [  # (label, B, H, Hkv, T, D, causal)
        ("gpt2-124M B16 H12 T1024 D64 causal", 16, 12, 12, 1024, 64, True),
        ("B4 H16 T2048 D128 causal", 4, 16, 16, 2048, 128, True),
        ("B16 H12 T1024 D64 non-causal", 16, 12, 12, 1024, 64, False),
    ]
    rows = []
    for label, B, H, Hkv, T, D, causal in shapes:
        errs, t, fwd_flops = bench(B, H, Hkv, T, D, causal)
        print(f"{label}: rel. error vs torch " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
        for what, flops, ours, ref in (("fwd", fwd_flops, t["ours_fwd"], t["torch_fwd"]),
                                       ("fwd+bwd", 3.5 * fwd_flops, t["ours_fb"], t["torch_fb"])):
            rows.append((label, what, ours, flops / ours / 1e9, ref, flops / ref / 1e9, ref / ours))
    print()
    header = ("shape", "pass", "strata ms", "TFLOP/s", "torch ms", "TFLOP/s", "torch/strata")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.0f} | {r[4]:.3f} | {r[5]:.0f} | {r[6]:.2f} |")
    print("(torch/strata > 1: strata is faster)")


if __name__ == "__main__":
    main()
