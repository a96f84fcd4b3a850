//===- kernel_bench.cpp - Per-kernel timings of the CPU kernels ----------===//
//
// Times the strata::cpu kernels one GPT-2 124M step (B=1, T=1024) spends its
// time in, at that step's shapes, and prints ms per call and GFLOP/s where
// the FLOPs are well defined. Built by run.sh straight from runtime/cpu.
//
//   kernel_bench [threads] [--floor-only]
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace strata::cpu;

namespace {
std::vector<float> randomVector(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// Best of `reps` runs (after one warm-up), in milliseconds.
double bestMs(int reps, const std::function<void()> &body) {
  body();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    body();
    std::chrono::duration<double, std::milli> ms =
        std::chrono::steady_clock::now() - start;
    best = std::min(best, ms.count());
  }
  return best;
}

void report(const char *name, double ms, double flops) {
  if (flops > 0)
    std::printf("%-44s %10.2f ms %9.1f GFLOP/s\n", name, ms, flops / ms / 1e6);
  else
    std::printf("%-44s %10.2f ms\n", name, ms);
}

void benchMatmul(const char *name, MatmulShape s, int threads, int reps = 3) {
  auto a = randomVector(s.m * s.k, 1), b = randomVector(s.k * s.n, 2);
  std::vector<float> c(s.m * s.n);
  double ms = bestMs(reps, [&] {
    matmulForward(c.data(), a.data(), b.data(), s, false, threads);
  });
  report(name, ms, 2.0 * s.m * s.n * s.k);
}
} // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  std::printf("threads %d\n", threads);
  const int64_t T = 1024, D = 768, V = 50304, H = 12;
  // The floor reference: one large square product.
  benchMatmul("matmul 2048x2048x2048 (floor reference)",
              {1, 2048, 2048, 2048, false, false}, threads);
  if (argc > 2 && std::string(argv[2]) == "--floor-only")
    return 0;
  benchMatmul("matmul qkv   x[T,D]·W[D,3D]", {1, T, 3 * D, D, false, false},
              threads);
  benchMatmul("matmul lm_head x[T,D]·wteᵀ", {1, T, V, D, false, true}, threads,
              1);
  benchMatmul("matmul dW = xᵀ·dY [D,4D] (transA)",
              {1, D, 4 * D, T, true, false}, threads);
  benchMatmul("matmul dX = dY·Wᵀ [T,D] (transB)", {1, T, D, 4 * D, false, true},
              threads);

  AttentionShape as{1, H, H, T, T, D / H, D / H, true, 0.125f};
  auto q = randomVector(H * T * 64, 3), k = randomVector(H * T * 64, 4),
       v = randomVector(H * T * 64, 5), dout = randomVector(H * T * 64, 6);
  std::vector<float> o(H * T * 64), dq(o.size()), dk(o.size()), dv(o.size());
  // Causal: half of QKᵀ and PV; the backward pass recomputes P.
  double attnFlops = 2.0 * 2 * H * T * T / 2 * 64;
  report("attention forward (1 thread, 12 heads)",
         bestMs(1,
                [&] {
                  attentionForward(o.data(), q.data(), k.data(), v.data(), as);
                }),
         attnFlops);
  report("attention backward (1 thread, 12 heads)",
         bestMs(1,
                [&] {
                  attentionBackward(dq.data(), dk.data(), dv.data(),
                                    dout.data(), q.data(), k.data(), v.data(),
                                    as);
                }),
         2.5 * attnFlops);

  auto x = randomVector(T * D, 7), w = randomVector(D, 8),
       bias = randomVector(D, 9), dy = randomVector(T * D, 10);
  std::vector<float> y(T * D), mean(T), rstd(T), dx(T * D), dw(D), db(D);
  report("layer_norm forward [T,D]",
         bestMs(5,
                [&] {
                  layerNormForward(y.data(), mean.data(), rstd.data(), x.data(),
                                   w.data(), bias.data(), T, D, 1e-5f);
                }),
         0);
  report("layer_norm backward [T,D]",
         bestMs(5,
                [&] {
                  layerNormBackward(dx.data(), dw.data(), db.data(), dy.data(),
                                    x.data(), w.data(), mean.data(),
                                    rstd.data(), T, D);
                }),
         0);

  auto h = randomVector(T * 4 * D, 11), dh = randomVector(T * 4 * D, 12);
  std::vector<float> gh(h.size()), dgh(h.size());
  report("gelu(tanh) forward [T,4D]",
         bestMs(5,
                [&] {
                  geluForward(gh.data(), h.data(), h.size(),
                              GeluApproximation::Tanh);
                }),
         0);
  report("gelu(tanh) backward [T,4D]",
         bestMs(5,
                [&] {
                  geluBackward(dgh.data(), dh.data(), h.data(), h.size(),
                               GeluApproximation::Tanh);
                }),
         0);

  auto logits = randomVector(T * V, 13);
  std::vector<float> dlogits(logits.size());
  std::vector<int32_t> targets(T);
  for (int64_t i = 0; i < T; ++i)
    targets[i] = int32_t(i * 7919 % V);
  report(
      "cross_entropy forward [T,50304]",
      bestMs(2,
             [&] { crossEntropyForward(logits.data(), targets.data(), T, V); }),
      0);
  report("cross_entropy backward [T,50304]",
         bestMs(2,
                [&] {
                  crossEntropyBackward(dlogits.data(), logits.data(),
                                       targets.data(), T, V);
                }),
         0);

  const int64_t P = 124'000'000 / 10;
  auto p = randomVector(P, 14), g = randomVector(P, 15);
  std::vector<float> m1(P, 0.0f), m2(P, 0.0f);
  AdamWConfig cfg;
  int64_t step = 0;
  double adamMs = bestMs(2, [&] {
    adamwUpdate(p.data(), g.data(), m1.data(), m2.data(), P, ++step, cfg);
  });
  report("adamw 12.4M params (x10 = 124M)", adamMs, 0);
  return 0;
}
