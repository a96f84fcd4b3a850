//===- Kernels.h - CPU reference kernels ------------------------*- C++ -*-===//
//
// f32 forward and backward kernels over contiguous row-major arrays. They are
// the numerical reference for the GPU kernels: clarity first. Every kernel
// writes every element of its outputs (no caller-side zeroing needed) unless
// it takes an `accumulate` flag. Semantics and gradient formulas are in
// docs/cpu-kernels.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CPU_KERNELS_H
#define STRATA_CPU_KERNELS_H

#include <cstdint>

namespace strata::cpu {

//===----------------------------------------------------------------------===//
// Shape convention for the shape-generic kernels (binary, reduce, transpose,
// slice, concat): a non-owning view of a row-major shape. Build one from a
// std::vector<int64_t> v as `Shape{v.data(), int(v.size())}`; rank 0 is a
// scalar (one element, `dims` may be null). Kernels with a fixed layout take
// plain `rows`/`cols`-style sizes instead.
//===----------------------------------------------------------------------===//

struct Shape {
  const int64_t *dims = nullptr;
  int rank = 0;

  int64_t numElements() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i)
      n *= dims[i];
    return n;
  }
};

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// Sizes and layout of `batch` independent products C[M,N] = op(A)·op(B).
/// A is stored [M,K] ([K,M] when transA), B is [K,N] ([N,K] when transB), C
/// is [M,N]; consecutive batches are consecutive matrices of each operand.
struct MatmulShape {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
};

/// C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`. Cache-blocked;
/// `numThreads` > 1 splits the rows of C over std::threads.
void matmulForward(float *c, const float *a, const float *b,
                   const MatmulShape &shape, bool accumulate = false,
                   int numThreads = 1);

/// Given dC, computes dA (in A's stored layout) and dB (in B's). Either output
/// may be null to skip it. With `accumulate` the gradients are added to dA/dB
/// (parameters used twice, e.g. tied embeddings, sum their gradients).
void matmulBackward(float *da, float *db, const float *dc, const float *a,
                    const float *b, const MatmulShape &shape,
                    bool accumulate = false, int numThreads = 1);

//===----------------------------------------------------------------------===//
// Normalization over the last dimension: x is [rows, dim].
//===----------------------------------------------------------------------===//

/// out = (x - mean) * rstd * weight + bias. Saves mean and rstd ([rows]) for
/// the backward pass.
void layerNormForward(float *out, float *mean, float *rstd, const float *x,
                      const float *weight, const float *bias, int64_t rows,
                      int64_t dim, float epsilon);
void layerNormBackward(float *dx, float *dweight, float *dbias,
                       const float *dout, const float *x, const float *weight,
                       const float *mean, const float *rstd, int64_t rows,
                       int64_t dim);

/// out = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + epsilon). Saves rstd.
void rmsNormForward(float *out, float *rstd, const float *x,
                    const float *weight, int64_t rows, int64_t dim,
                    float epsilon);
void rmsNormBackward(float *dx, float *dweight, const float *dout,
                     const float *x, const float *weight, const float *rstd,
                     int64_t rows, int64_t dim);

//===----------------------------------------------------------------------===//
// Softmax and cross entropy over the last dimension: x is [rows, dim].
//===----------------------------------------------------------------------===//

void softmaxForward(float *out, const float *x, int64_t rows, int64_t dim);
/// dx = y * (dy - sum(dy * y)) with y the softmax output.
void softmaxBackward(float *dx, const float *dout, const float *out,
                     int64_t rows, int64_t dim);

/// Mean over the `rows` positions of -log softmax(logits[r])[targets[r]].
/// `numThreads` > 1 splits the rows over std::threads; the result does not
/// depend on it.
float crossEntropyForward(const float *logits, const int32_t *targets,
                          int64_t rows, int64_t vocab, int numThreads = 1);
/// dlogits = dloss * (softmax(logits) - onehot(targets)) / rows. `dlogits`
/// may be `logits` (the memory planner's in-place hint for the cross_entropy
/// group): each row is read before that row is written.
void crossEntropyBackward(float *dlogits, const float *logits,
                          const int32_t *targets, int64_t rows, int64_t vocab,
                          float dloss = 1.0f, int numThreads = 1);

//===----------------------------------------------------------------------===//
// Elementwise activations over n elements.
//===----------------------------------------------------------------------===//

enum class GeluApproximation { None, Tanh };

void geluForward(float *out, const float *x, int64_t n,
                 GeluApproximation approx);
void geluBackward(float *dx, const float *dout, const float *x, int64_t n,
                  GeluApproximation approx);
/// silu(x) = x * sigmoid(x).
void siluForward(float *out, const float *x, int64_t n);
void siluBackward(float *dx, const float *dout, const float *x, int64_t n);

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// q [B,Hq,T,Dh], k [B,Hkv,S,Dh], v [B,Hkv,S,Dv], out [B,Hq,T,Dv]. Query head h
/// reads key/value head h / (Hq / Hkv). With `causal`, query t sees keys
/// s <= t + (S - T); a query that sees no key outputs zeros.
struct AttentionShape {
  int64_t batch = 1, qHeads = 1, kvHeads = 1, qLen = 0, kvLen = 0, headDim = 0,
          valueDim = 0;
  bool causal = false;
  float scale = 1.0f;
};

void attentionForward(float *out, const float *q, const float *k,
                      const float *v, const AttentionShape &shape);
/// Recomputes the probabilities; dk and dv sum over the query heads of a
/// group.
void attentionBackward(float *dq, float *dk, float *dv, const float *dout,
                       const float *q, const float *k, const float *v,
                       const AttentionShape &shape);

//===----------------------------------------------------------------------===//
// Rotary position embedding on x [B,H,T,Dh], Dh even.
//===----------------------------------------------------------------------===//

/// Rotates the pair (x[i], x[i + Dh/2]) by angle t * theta^(-2i/Dh).
void ropeForward(float *out, const float *x, int64_t batch, int64_t heads,
                 int64_t seqLen, int64_t headDim, float theta);
/// The inverse rotation applied to dout.
void ropeBackward(float *dx, const float *dout, int64_t batch, int64_t heads,
                  int64_t seqLen, int64_t headDim, float theta);

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

struct AdamWConfig {
  float learningRate = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f,
        weightDecay = 0.01f;
  /// The gradient is multiplied by this before the step (gradient clipping).
  float gradScale = 1.0f;
};

/// One AdamW step over n parameters; `step` counts from 1. m and v are the
/// first and second moments, updated in place. With g = grad * gradScale,
/// weight decay is decoupled:
/// param -= lr * (mhat / (sqrt(vhat) + eps) + weightDecay * param).
void adamwUpdate(float *param, const float *grad, float *m, float *v, int64_t n,
                 int64_t step, const AdamWConfig &config);

/// One SGD step (PyTorch semantics, dampening 0) over n parameters:
/// g = grad * gradScale + weightDecay * param; buf = momentum * buf + g;
/// param -= lr * buf. `momentumBuffer` is null when momentum == 0 (then
/// param -= lr * g).
void sgdUpdate(float *param, const float *grad, float *momentumBuffer,
               int64_t n, float lr, float gradScale, float momentum,
               float weightDecay);

/// Σ x[i]², accumulated in double (one term of a global gradient norm).
double sumOfSquares(const float *x, int64_t n);

enum class LrScheduleKind { Constant, Cosine };

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::Constant;
  double baseLr = 1e-3;
  int64_t warmupSteps = 0, totalSteps = 0;
  double minLr = 0;
};

/// The learning rate of 1-based `step`: a linear warmup base * step / warmup
/// over the first warmupSteps steps, then constant base, or cosine decay from
/// base to minLr over the steps up to totalSteps (minLr after it).
double learningRate(const LrSchedule &schedule, int64_t step);

} // namespace strata::cpu

#include "strata/Cpu/TensorKernels.h"

#endif // STRATA_CPU_KERNELS_H
