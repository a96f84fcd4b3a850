//===- CpuKernelsSupport.h - Shared pieces of the CPU dispatch --*- C++ -*-===//
//
// Internal to runtime/exec: the view of one kernel invocation that the
// CpuKernels*.cpp files share (attribute lookup, dtype and shape checks that
// turn into located errors) and the kernel entry points the dispatch table in
// CpuKernels.cpp refers to.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_EXEC_LIB_CPUKERNELSSUPPORT_H
#define STRATA_EXEC_LIB_CPUKERNELSSUPPORT_H

#include "strata/Cpu/Kernels.h"
#include "strata/Exec/CpuKernels.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"

#include <algorithm>
#include <string>
#include <vector>

/// Returns the llvm::Error of `expr` from the enclosing function if it is one.
#define STRATA_RETURN_IF_ERROR(expr)                                           \
  do {                                                                         \
    if (llvm::Error strataErr = (expr))                                        \
      return strataErr;                                                        \
  } while (false)

namespace strata::exec::detail {

int64_t numElements(llvm::ArrayRef<int64_t> shape);
std::string shapeString(llvm::ArrayRef<int64_t> shape);
inline cpu::Shape viewOf(llvm::ArrayRef<int64_t> shape) {
  return cpu::Shape{shape.data(), static_cast<int>(shape.size())};
}

/// Runs `body(begin, end)` over [0, n) split into at most `numThreads`
/// contiguous chunks, one std::thread each (the calling thread takes the
/// first).
void parallelFor(int numThreads, int64_t n,
                 llvm::function_ref<void(int64_t, int64_t)> body);
/// The threads worth starting for `work` independent element updates: each
/// gets at least 64K of them, since starting a thread costs about as much.
inline int threadsFor(int numThreads, int64_t work) {
  return int(std::clamp<int64_t>(work >> 16, 1, numThreads));
}

/// One invocation of a kernel. Every accessor that can fail returns an
/// llvm::Error prefixed with the kernel's location and op name.
class KernelCall {
public:
  KernelCall(const plan::Kernel &kernel, llvm::ArrayRef<BufferView> inputs,
             llvm::ArrayRef<BufferView> outputs, int numThreads)
      : kernel(kernel), inputs(inputs), outputs(outputs),
        numThreads(numThreads < 1 ? 1 : numThreads) {}

  const plan::Kernel &kernel;
  llvm::ArrayRef<BufferView> inputs, outputs;
  int numThreads;

  llvm::StringRef op() const { return kernel.op(); }
  llvm::Error fail(const llvm::Twine &message) const;

  //===--------------------------------------------------------------------===//
  // Attributes. A missing or mistyped required attribute is an error.
  //===--------------------------------------------------------------------===//

  bool hasAttr(llvm::StringRef name) const;
  llvm::Error intAttr(llvm::StringRef name, int64_t &value) const;
  /// Accepts `f`, or `i` for an integral value.
  llvm::Error floatAttr(llvm::StringRef name, double &value) const;
  /// Like floatAttr, but `value` keeps its default when the attribute is
  /// absent.
  llvm::Error optionalFloatAttr(llvm::StringRef name, double &value) const;
  llvm::Error optionalIntAttr(llvm::StringRef name, int64_t &value) const;
  llvm::Error stringAttr(llvm::StringRef name, std::string &value) const;
  llvm::Error intsAttr(llvm::StringRef name,
                       llvm::SmallVectorImpl<int64_t> &values) const;
  /// Unit attributes: b = true when present; absent is false.
  llvm::Error unitAttr(llvm::StringRef name, bool &value) const;

  //===--------------------------------------------------------------------===//
  // Buffers: typed pointers after a dtype check.
  //===--------------------------------------------------------------------===//

  llvm::ArrayRef<int64_t> inShape(unsigned i) const { return inputs[i].shape; }
  llvm::ArrayRef<int64_t> outShape(unsigned i) const {
    return outputs[i].shape;
  }
  int64_t inCount(unsigned i) const { return numElements(inputs[i].shape); }
  int64_t outCount(unsigned i) const { return numElements(outputs[i].shape); }

  llvm::Error f32In(unsigned i, const float *&data) const;
  llvm::Error i32In(unsigned i, const int32_t *&data) const;
  llvm::Error f32Out(unsigned i, float *&data) const;
  llvm::Error i32Out(unsigned i, int32_t *&data) const;

  /// Output i must have exactly `shape`.
  llvm::Error expectOutShape(unsigned i, llvm::ArrayRef<int64_t> shape) const;
  /// Input i must have exactly `shape`.
  llvm::Error expectInShape(unsigned i, llvm::ArrayRef<int64_t> shape) const;
  /// Input i must have `count` elements (a 0-d scalar or a [1] buffer for
  /// count 1).
  llvm::Error expectInCount(unsigned i, int64_t count) const;

  /// Output i must have `count` elements.
  llvm::Error expectOutCount(unsigned i, int64_t count) const;

  /// An index `value` at flat `position` of input `i` outside [0, bound).
  llvm::Error badIndex(llvm::StringRef what, unsigned i, int64_t position,
                       int64_t bound) const;
};

/// The float values of an F32 buffer, or of an I32 buffer converted to f32
/// (exact for |v| <= 2^24; larger values are an error). Used by the layout,
/// elementwise and reduction kernels that also move integer tensors.
class FloatInput {
public:
  llvm::Error init(const KernelCall &call, unsigned i);
  const float *data() const { return pointer; }

private:
  const float *pointer = nullptr;
  std::vector<float> converted;
};

/// Where a kernel writes f32 results for output `i`: the buffer itself when
/// it is F32, a scratch vector converted back to int32 by finish() when I32.
class FloatOutput {
public:
  llvm::Error init(const KernelCall &call, unsigned i);
  float *data() { return pointer; }
  void finish();

private:
  float *pointer = nullptr;
  int32_t *ints = nullptr;
  std::vector<float> scratch;
};

/// Output i and every input in `inputs` must share one dtype.
llvm::Error expectSameDType(const KernelCall &call,
                            llvm::ArrayRef<unsigned> inputs, unsigned output);

/// NumPy broadcast of two shapes; an error when they do not broadcast.
llvm::Error broadcastShapes(const KernelCall &call, llvm::ArrayRef<int64_t> a,
                            llvm::ArrayRef<int64_t> b,
                            llvm::SmallVectorImpl<int64_t> &out);

/// Reads `axes` (sorted, unique, in [0, rank)) and `keepdim` of a reduce or
/// reduce_grad on an input of `shape`, and the reduced shape.
llvm::Error reduceAxes(const KernelCall &call, llvm::ArrayRef<int64_t> shape,
                       llvm::SmallVectorImpl<int64_t> &axes,
                       llvm::SmallVectorImpl<int64_t> &reducedShape);
/// Enum keywords of the elementwise kinds ("add", "tanh", ...). Unary kinds
/// exclude "silu", which has its own kernel.
bool parseBinaryKind(llvm::StringRef name, cpu::BinaryKind &kind);
bool parseUnaryKind(llvm::StringRef name, cpu::UnaryKind &kind);
llvm::Error reduceKind(const KernelCall &call, cpu::ReduceKind &kind);
llvm::Error geluApproximation(const KernelCall &call,
                              cpu::GeluApproximation &approx);
/// The `axis` attribute of a softmax-like kernel over `rank` dimensions
/// (negative counts from the end).
llvm::Error softmaxAxis(const KernelCall &call, int64_t rank, int64_t &axis);

/// Applies `rowKernel(in, out, rows, cols)` (one normalization per row of
/// the last dimension) along `axis` of `numInputs` inputs of `shape` that
/// share the layout: moves the axis last, runs, and moves it back.
void alongAxis(llvm::ArrayRef<const float *> in, float *out,
               llvm::ArrayRef<int64_t> shape, int64_t axis,
               llvm::function_ref<void(llvm::ArrayRef<const float *>, float *,
                                       int64_t, int64_t)>
                   rowKernel);

//===----------------------------------------------------------------------===//
// Shape checks shared by a forward kernel and its gradient.
//===----------------------------------------------------------------------===//

/// rows and dim of a normalization over the last dimension of input 0, whose
/// `numWeights` following inputs are [dim] vectors.
llvm::Error normShape(const KernelCall &c, unsigned numWeights, int64_t &rows,
                      int64_t &dim);
/// axis/start/end of a slice of (or a slice_grad into) a tensor of `shape`;
/// `sliced` is the shape of the slice.
llvm::Error sliceBounds(const KernelCall &c, llvm::ArrayRef<int64_t> shape,
                        int64_t &axis, int64_t &start, int64_t &end,
                        llvm::SmallVectorImpl<int64_t> &sliced);
/// f32 input 0 (`in`) of shape [B, H, T, Dh] with Dh even, f32 output 0
/// (`out`) of the same shape, and the `theta` attribute of rope or rope_grad.
llvm::Error ropeOperands(const KernelCall &c, const float *&in, float *&out,
                         double &theta);
/// The attention shape of inputs 0-2 (query, key, value) and the
/// scale/causal attributes.
llvm::Error attentionShapeOf(const KernelCall &c, cpu::AttentionShape &shape);
/// A range of the batches of an attention (`shape.batch` of them) and the
/// element offsets of its first query, key, value and output.
struct AttentionBatches {
  cpu::AttentionShape shape;
  int64_t q, k, v, o;
};
/// Runs `body` on ranges of the (batch, kv head) groups of `shape` split over
/// `numThreads` threads, each range as an attention of its own (batch = its
/// groups, kvHeads = 1); groups are independent in attention and its
/// gradient.
void parallelOverBatches(
    int numThreads, const cpu::AttentionShape &shape,
    llvm::function_ref<void(const AttentionBatches &)> body);
/// y [E, C, D] (input 0), indices and weights [N, k] (inputs 1, 2).
llvm::Error moeCombineShape(const KernelCall &c, int64_t &experts,
                            int64_t &capacity, int64_t &dim, int64_t &tokens,
                            int64_t &k);
/// logits (input 0) [..., V] and i32 targets (input 1) with one entry per
/// row, all in [0, V).
llvm::Error crossEntropyShape(const KernelCall &c, int64_t &rows,
                              int64_t &vocab);

//===----------------------------------------------------------------------===//
// Attribute and shape checks shared by the CPU and the CUDA dispatch
// (KernelShapes.cpp): what a kernel's attributes and buffer shapes must be,
// with the messages a user sees, independent of dtypes and of where the data
// lives (no buffer is read).
//===----------------------------------------------------------------------===//

/// transpose: the `permutation` attribute over input 0 and the output shape.
llvm::Error transposeShape(const KernelCall &c,
                           llvm::SmallVectorImpl<int64_t> &perm,
                           llvm::SmallVectorImpl<int64_t> &shape);
/// concat: the `axis` attribute, inputs agreeing off the axis, and the output
/// shape.
llvm::Error concatShape(const KernelCall &c, int64_t &axis,
                        llvm::SmallVectorImpl<int64_t> &shape);
/// constant: the `value` attribute (one value, or one per output element).
llvm::Error constantValues(const KernelCall &c,
                           llvm::SmallVectorImpl<double> &values);
/// cross_entropy(_grad): logits (input 0) [..., V] and targets (input 1) with
/// one entry per row; the targets' values are not checked.
llvm::Error crossEntropyDims(const KernelCall &c, int64_t &rows,
                             int64_t &vocab);
/// topk: `k` and the shapes of the values and indices outputs.
llvm::Error topkShape(const KernelCall &c, int64_t &k, int64_t &rows,
                      int64_t &cols);
/// topk_grad: the gradient of the values (input 0) and the indices (input 1)
/// against the input's gradient (output 0).
llvm::Error topkGradShape(const KernelCall &c, int64_t &rows, int64_t &cols,
                          int64_t &k);
/// lr_schedule: the schedule's attributes and a one-element step and output.
llvm::Error lrScheduleOf(const KernelCall &c, cpu::LrSchedule &schedule);
/// layer_norm_grad / rms_norm_grad: `epsilon` and the shapes of dy, weight,
/// x and of the gradients (dbias for layer_norm_grad only).
llvm::Error normGradShape(const KernelCall &c, double &epsilon, int64_t &rows,
                          int64_t &dim);
/// gather_grad: dout (input 0) shaped as indices (input 1) + a table row.
llvm::Error gatherGradShape(const KernelCall &c, int64_t &numRows,
                            int64_t &rowSize);
/// moe_dispatch: x [N, D] (input 0), indices [N, k] (input 1), the
/// num_experts / capacity attributes and the output [E, C, D].
llvm::Error moeDispatchShape(const KernelCall &c, int64_t &experts,
                             int64_t &capacity);

//===----------------------------------------------------------------------===//
// Kernel entry points (op names in comments where they differ).
//===----------------------------------------------------------------------===//

using KernelFn = llvm::Error (*)(const KernelCall &);

// CpuKernelsForward.cpp
llvm::Error runBinary(const KernelCall &); // add ... pow
llvm::Error runUnary(const KernelCall &);  // neg ... abs, silu
llvm::Error runGelu(const KernelCall &);
llvm::Error runCast(const KernelCall &);
llvm::Error runMatmul(const KernelCall &);
llvm::Error runReduce(const KernelCall &);
llvm::Error runSoftmax(const KernelCall &); // softmax, log_softmax
llvm::Error runLayerNorm(const KernelCall &);
llvm::Error runRmsNorm(const KernelCall &);
llvm::Error runReshape(const KernelCall &);
llvm::Error runTranspose(const KernelCall &);
llvm::Error runSlice(const KernelCall &);
llvm::Error runConcat(const KernelCall &);
llvm::Error runGather(const KernelCall &);
llvm::Error runIota(const KernelCall &);
llvm::Error runOneHot(const KernelCall &);
llvm::Error runRope(const KernelCall &);
llvm::Error runAttention(const KernelCall &);
llvm::Error runTopk(const KernelCall &);
llvm::Error runMoeDispatch(const KernelCall &);
llvm::Error runMoeCombine(const KernelCall &);
llvm::Error runCrossEntropy(const KernelCall &);
llvm::Error runConstant(const KernelCall &);

// CpuKernelsGrad.cpp
llvm::Error runBinaryGrad(const KernelCall &);
llvm::Error runUnaryGrad(const KernelCall &);
llvm::Error runGeluGrad(const KernelCall &);
llvm::Error runReduceGrad(const KernelCall &);
llvm::Error
runSoftmaxGrad(const KernelCall &); // softmax_grad, log_softmax_grad
llvm::Error runLayerNormGrad(const KernelCall &);
llvm::Error runRmsNormGrad(const KernelCall &);
llvm::Error runAttentionGrad(const KernelCall &);
llvm::Error runRopeGrad(const KernelCall &);
llvm::Error runGatherGrad(const KernelCall &);
llvm::Error runSliceGrad(const KernelCall &);
llvm::Error runCrossEntropyGrad(const KernelCall &);
llvm::Error runMoeDispatchGrad(const KernelCall &);
llvm::Error runMoeCombineGrad(const KernelCall &);
llvm::Error runTopkGrad(const KernelCall &);

// CpuKernelsTraining.cpp
llvm::Error runAccumulate(const KernelCall &);
llvm::Error runZero(const KernelCall &);
llvm::Error runGlobalNorm(const KernelCall &);
llvm::Error runLrSchedule(const KernelCall &);
llvm::Error runAdamwUpdate(const KernelCall &);
llvm::Error runSgdUpdate(const KernelCall &);

} // namespace strata::exec::detail

#endif // STRATA_EXEC_LIB_CPUKERNELSSUPPORT_H
