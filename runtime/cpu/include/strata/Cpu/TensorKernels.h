//===- TensorKernels.h - Shape-generic CPU reference kernels ----*- C++ -*-===//
//
// The elementwise, reduction, layout, indexing and MoE kernels behind the
// graph ops of the same names. Included from Kernels.h; uses its `Shape`.
// Unlike the kernels in Kernels.h these take inputs first and outputs last.
// Kernels that read integer indices return the position (flat, in `indices`)
// of the first out-of-range index, or -1 when all are valid; a bad index never
// causes an out-of-bounds access (see each kernel for what it writes instead),
// so the caller can report it.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CPU_TENSORKERNELS_H
#define STRATA_CPU_TENSORKERNELS_H

#include "strata/Cpu/Kernels.h"

#include <cstdint>

namespace strata::cpu {

//===----------------------------------------------------------------------===//
// Elementwise binary ops with NumPy broadcasting.
//===----------------------------------------------------------------------===//

enum class BinaryKind { Add, Sub, Mul, Div, Maximum, Minimum, Pow };

/// out = a ⊙ b. Shapes align from the right; a dimension of 1 (or a missing
/// leading one) broadcasts. `outShape` is the broadcast shape.
void binaryForward(BinaryKind kind, const float *a, Shape aShape,
                   const float *b, Shape bShape, float *out, Shape outShape);
/// da/db (either may be null) are overwritten with dout·∂out/∂a (resp. b)
/// summed over the broadcast dimensions back to the operand's shape.
/// Maximum/Minimum send the gradient to `a` on ties.
void binaryBackward(BinaryKind kind, const float *a, Shape aShape,
                    const float *b, Shape bShape, const float *dout,
                    Shape outShape, float *da, float *db);

//===----------------------------------------------------------------------===//
// Elementwise unary ops over n elements.
//===----------------------------------------------------------------------===//

enum class UnaryKind { Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Relu, Abs };

void unaryForward(UnaryKind kind, const float *x, float *y, int64_t n);
/// dx = dy·f'(x); `y` is the forward output (used where it is cheaper).
/// Relu' and Abs' at 0 are 0.
void unaryBackward(UnaryKind kind, const float *x, const float *y,
                   const float *dy, float *dx, int64_t n);

//===----------------------------------------------------------------------===//
// Reductions over a set of axes.
//===----------------------------------------------------------------------===//

enum class ReduceKind { Sum, Mean, Max, Min };

/// `axes` (numAxes entries) are sorted and unique; `out` has the shape of x
/// with those dimensions removed. Reducing an empty extent gives 0 for
/// Sum/Mean and ∓inf for Max/Min.
void reduceForward(ReduceKind kind, const float *x, Shape shape,
                   const int64_t *axes, int numAxes, float *out);
/// dx is overwritten. Max/Min send each output's gradient to the first
/// (row-major) position of its extremum in x; `out` is the forward output.
void reduceBackward(ReduceKind kind, const float *x, Shape shape,
                    const int64_t *axes, int numAxes, const float *out,
                    const float *dout, float *dx);

//===----------------------------------------------------------------------===//
// Log-softmax over the last dimension: x is [rows, cols]. (Softmax is in
// Kernels.h: softmaxForward(out, x, rows, dim), softmaxBackward(dx, dout, out,
// rows, dim).)
//===----------------------------------------------------------------------===//

void logSoftmaxForward(const float *x, float *y, int64_t rows, int64_t cols);
/// dx = dy - exp(y)·Σ dy, with y the log-softmax output.
void logSoftmaxBackward(const float *y, const float *dy, float *dx,
                        int64_t rows, int64_t cols);

//===----------------------------------------------------------------------===//
// Layout.
//===----------------------------------------------------------------------===//

/// out[i_perm[0], ..., i_perm[r-1]] = x[i_0, ..., i_{r-1}], i.e. output dim d
/// is input dim perm[d]. The backward pass is transposeForward of dout (whose
/// shape is the output shape) by the inverse permutation.
void transposeForward(const float *x, Shape shape, const int64_t *perm,
                      float *out);

/// out = x[..., start:end, ...] along `axis`; `shape` is x's shape.
void sliceForward(const float *x, Shape shape, int axis, int64_t start,
                  int64_t end, float *out);
/// dx (x's shape) = dout inside [start, end) along `axis`, zeros outside.
void sliceBackward(const float *dout, Shape shape, int axis, int64_t start,
                   int64_t end, float *dx);

/// Concatenates `count` inputs along `axis`; all other dimensions agree. The
/// backward pass of input i is sliceForward of dout at its offset.
void concatForward(const float *const *inputs, const Shape *shapes, int count,
                   int axis, float *out);

//===----------------------------------------------------------------------===//
// Indexing.
//===----------------------------------------------------------------------===//

/// out[i] = table[indices[i]] (rows of rowSize floats), table has numRows rows.
/// A row whose index is out of [0, numRows) is written as zeros. Returns the
/// first bad position or -1.
int64_t gatherForward(const float *table, int64_t numRows, int64_t rowSize,
                      const int32_t *indices, int64_t n, float *out);
/// dtable[indices[i]] += dout[i]: accumulates (the caller zeroes dtable).
/// Bad indices are skipped. Returns the first bad position or -1.
int64_t gatherBackward(const float *dout, const int32_t *indices, int64_t n,
                       int64_t rowSize, float *dtable, int64_t numRows);

/// The k largest of each row of x [rows, cols], descending; ties go to the
/// lower column index. values and indices are [rows, k].
void topkForward(const float *x, int64_t rows, int64_t cols, int64_t k,
                 float *values, int32_t *indices);
/// dx [rows, cols] = 0 except dx[r, indices[r, j]] += dvalues[r, j] (values
/// and indices are [rows, k]). An index out of [0, cols) is skipped. Returns
/// the first bad position or -1.
int64_t topkBackward(const float *dvalues, const int32_t *indices, int64_t rows,
                     int64_t cols, int64_t k, float *dx);

//===----------------------------------------------------------------------===//
// Mixture of experts (graph.moe_dispatch / graph.moe_combine).
//===----------------------------------------------------------------------===//

/// The slot table shared by dispatch and combine: walks the assignments (n, j)
/// in row-major order of indices [N, k]; assignment (n, j) to expert e takes
/// the next free slot of e, or is dropped (slot -1) when e already has
/// `capacity` of them. An expert id out of [0, numExperts) is dropped too.
/// slots is [N, k]. Returns the first bad position or -1.
int64_t moeAssignSlots(const int32_t *indices, int64_t numTokens, int64_t k,
                       int64_t numExperts, int64_t capacity, int64_t *slots);

/// out [E, C, D]: slot c of expert e holds x[n] for the assignment that took
/// it; unused slots are zero.
int64_t moeDispatchForward(const float *x, const int32_t *indices,
                           int64_t numTokens, int64_t dim, int64_t k,
                           int64_t numExperts, int64_t capacity, float *out);
/// dx [N, D] = Σ over the kept assignments of token n of dout[e, slot].
int64_t moeDispatchBackward(const float *dout, const int32_t *indices,
                            int64_t numTokens, int64_t dim, int64_t k,
                            int64_t numExperts, int64_t capacity, float *dx);

/// out [N, D] = Σ_j weights[n, j] · y[e, slot(n, j)] over the kept
/// assignments; y is [E, C, D], weights [N, k].
int64_t moeCombineForward(const float *y, const int32_t *indices,
                          const float *weights, int64_t numTokens, int64_t dim,
                          int64_t k, int64_t numExperts, int64_t capacity,
                          float *out);
/// dy [E, C, D] (zero in unused slots) and dweights [N, k] (zero for dropped
/// assignments); either may be null.
int64_t moeCombineBackward(const float *y, const int32_t *indices,
                           const float *weights, const float *dout,
                           int64_t numTokens, int64_t dim, int64_t k,
                           int64_t numExperts, int64_t capacity, float *dy,
                           float *dweights);

} // namespace strata::cpu

#endif // STRATA_CPU_TENSORKERNELS_H
