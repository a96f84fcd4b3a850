//===- FusedKinds.cpp - Fused matmul groups as one cuBLASLt call ----------===//
//
// Matches the body of a "matmul_bias" / "matmul_bias_gelu" group against the
// one shape cuBLASLt's epilogues compute and maps its buffers onto a GEMM:
// the matmul's result is a local that never reaches memory, the bias is read
// by the epilogue, and the GELU's input, when the group outputs it, is
// cuBLASLt's aux. A "matmul_accumulate" group is a GEMM that adds its
// product to the gradient it accumulates into (beta = 1).
//
//===----------------------------------------------------------------------===//

#include "FusedKinds.h"

#include "CpuKernelsSupport.h"

#include "strata/Cuda/Gemm.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

using namespace strata;
using namespace strata::cuda;
using exec::BufferView;
using exec::detail::KernelCall;
using exec::detail::numElements;
using exec::detail::shapeString;
using llvm::Error;

namespace {

/// The group's buffers by id: its inputs, its outputs, and its locals (which
/// have no memory here).
class GroupBuffers {
public:
  GroupBuffers(const plan::Kernel &fused, llvm::ArrayRef<BufferView> in,
               llvm::ArrayRef<BufferView> out)
      : fused(fused), in(in), out(out) {}

  const BufferView *input(int32_t id) const {
    for (int i = 0; i < fused.inputs_size(); ++i)
      if (fused.inputs(i) == id)
        return &in[i];
    return nullptr;
  }
  const BufferView *output(int32_t id) const {
    for (int i = 0; i < fused.outputs_size(); ++i)
      if (fused.outputs(i) == id)
        return &out[i];
    return nullptr;
  }
  bool isLocal(int32_t id) const {
    return llvm::is_contained(fused.locals(), id) && !output(id);
  }

private:
  const plan::Kernel &fused;
  llvm::ArrayRef<BufferView> in, out;
};

bool hasOperands(const plan::Kernel &k, llvm::StringRef op, int inputs) {
  return k.op() == op && k.inputs_size() == inputs && k.outputs_size() == 1;
}

/// Whether the bytes of `a` and `b` overlap.
bool overlaps(const BufferView &a, const BufferView &b) {
  auto bytes = [](const BufferView &v) {
    return numElements(v.shape) * (v.dtype == plan::BF16 ? 2 : 4);
  };
  const char *aBegin = static_cast<const char *>(a.data),
             *bBegin = static_cast<const char *>(b.data);
  return aBegin < bBegin + bytes(b) && bBegin < aBegin + bytes(a);
}

bool unitAttr(const plan::Kernel &k, const std::string &name) {
  auto it = k.attrs().find(name);
  return it != k.attrs().end() &&
         it->second.value_case() == plan::Attribute::kB && it->second.b();
}

} // namespace

Error cuda::launchMatmulEpilogue(const plan::Kernel &fused,
                                 llvm::ArrayRef<BufferView> in,
                                 llvm::ArrayRef<BufferView> out,
                                 const LaunchContext &context) {
  KernelCall call(fused, in, out, /*numThreads=*/1);
  std::string kind;
  STRATA_RETURN_IF_ERROR(call.stringAttr("kind", kind));
  bool gelu = kind == "matmul_bias_gelu";
  if (!gelu && kind != "matmul_bias")
    return call.fail("kind '" + kind + "' is not a matmul epilogue");
  if (int(in.size()) != fused.inputs_size() ||
      int(out.size()) != fused.outputs_size())
    return call.fail("the buffers do not match the kernel's inputs/outputs");
  if (fused.body_size() != (gelu ? 3 : 2))
    return call.fail("the body is not matmul, add" +
                     llvm::Twine(gelu ? ", gelu" : ""));
  const plan::Kernel &mm = fused.body(0), &add = fused.body(1);
  if (!hasOperands(mm, "matmul", 2) || !hasOperands(add, "add", 2))
    return call.fail("the body is not matmul, add" +
                     llvm::Twine(gelu ? ", gelu" : ""));
  GroupBuffers buffers(fused, in, out);

  // y = x·W + b, the product a local.
  const BufferView *x = buffers.input(mm.inputs(0)),
                   *w = buffers.input(mm.inputs(1));
  int32_t product = mm.outputs(0);
  if (!x || !w || !buffers.isLocal(product))
    return call.fail("the matmul must read group inputs into a local");
  if (unitAttr(mm, "transpose_a") || w->shape.size() != 2 ||
      x->shape.size() < 2)
    return call.fail("only x [..., K] times a rank-2 weight runs as one GEMM");
  bool transB = unitAttr(mm, "transpose_b");
  int64_t k = x->shape.back(), n = transB ? w->shape[0] : w->shape[1];
  if ((transB ? w->shape[1] : w->shape[0]) != k)
    return call.fail("contracting dimensions differ: " + shapeString(x->shape) +
                     " and " + shapeString(w->shape));
  int64_t m = numElements(llvm::ArrayRef(x->shape).drop_back());
  int32_t biasId = add.inputs(0) == product ? add.inputs(1) : add.inputs(0);
  const BufferView *bias = buffers.input(biasId);
  if ((add.inputs(0) != product && add.inputs(1) != product) || !bias ||
      numElements(bias->shape) != n ||
      (!bias->shape.empty() && bias->shape.back() != n))
    return call.fail("the add must add a bias of " + llvm::Twine(n) +
                     " elements to the product");

  // The result, and for gelu the pre-activation when the group outputs it.
  int32_t sum = add.outputs(0);
  const BufferView *result = buffers.output(sum), *aux = nullptr;
  if (gelu) {
    const plan::Kernel &act = fused.body(2);
    auto approx = act.attrs().find("approximate");
    if (!hasOperands(act, "gelu", 1) || act.inputs(0) != sum ||
        approx == act.attrs().end() || approx->second.s() != "tanh")
      return call.fail("the third kernel must be gelu (tanh) of the sum");
    aux = result;
    result = buffers.output(act.outputs(0));
    if (!aux && !buffers.isLocal(sum))
      return call.fail("the sum must be a local or a group output");
  }
  if (!result)
    return call.fail("the group must output the result");
  llvm::SmallVector<int64_t> shape(llvm::ArrayRef(x->shape).drop_back());
  shape.push_back(n);
  if (result->shape != llvm::ArrayRef<int64_t>(shape))
    return call.fail("the result has shape " + shapeString(result->shape) +
                     ", expected " + shapeString(shape));
  if (aux && (aux->shape != result->shape || aux->dtype != result->dtype ||
              gemmAuxLeadingDim(n) != n))
    return call.fail("the GELU input can be an output only with the result's "
                     "shape and dtype and N a multiple of 8");

  // Types: bf16 operands (any float result) or f32 operands (TF32, f32
  // result); the bias in the result's type.
  GemmConfig config;
  if (x->dtype == plan::BF16 && w->dtype == plan::BF16)
    config.inputType = GemmInputType::BF16;
  else if (x->dtype == plan::F32 && w->dtype == plan::F32)
    config.inputType = GemmInputType::F32;
  else
    return call.fail("the matmul operands must be both bf16 or both f32");
  if (result->dtype != plan::F32 && result->dtype != plan::BF16)
    return call.fail("the result must be f32 or bf16");
  config.outputType =
      result->dtype == plan::F32 ? GemmOutputType::F32 : GemmOutputType::BF16;
  if (config.inputType == GemmInputType::F32 &&
      config.outputType != GemmOutputType::F32)
    return call.fail("f32 operands need an f32 result");
  if (bias->dtype != result->dtype)
    return call.fail("the bias must have the result's dtype");
  if (!context.gemm)
    return call.fail("needs a cuBLASLt handle (LaunchContext::gemm)");
  if (m == 0 || n == 0 || k == 0)
    return call.fail("empty products run as the body");

  config.shape = MatmulShape{1, m, n, k, false, transB};
  config.epilogue = !gelu ? GemmEpilogue::Bias
                    : aux ? GemmEpilogue::BiasGelu
                          : GemmEpilogue::BiasGeluNoAux;
  GemmArgs args;
  args.a = x->data;
  args.b = w->data;
  args.c = result->data;
  args.bias = bias->data;
  args.aux = aux ? aux->data : nullptr;
  GemmStatus status = context.gemm->matmul(config, args, context.stream);
  if (!status.ok())
    return call.fail("cuBLASLt: " + status.message);
  return Error::success();
}

Error cuda::launchMatmulAccumulate(const plan::Kernel &fused,
                                   llvm::ArrayRef<BufferView> in,
                                   llvm::ArrayRef<BufferView> out,
                                   const LaunchContext &context) {
  KernelCall call(fused, in, out, /*numThreads=*/1);
  std::string kind;
  STRATA_RETURN_IF_ERROR(call.stringAttr("kind", kind));
  if (kind != "matmul_accumulate")
    return call.fail("kind '" + kind + "' is not matmul_accumulate");
  if (int(in.size()) != fused.inputs_size() ||
      int(out.size()) != fused.outputs_size())
    return call.fail("the buffers do not match the kernel's inputs/outputs");
  int numKernels = fused.body_size();
  bool withCast = numKernels == 3;
  if (numKernels != 2 && !withCast)
    return call.fail("the body is not matmul, [cast,] accumulate");
  const plan::Kernel &mm = fused.body(0), &acc = fused.body(numKernels - 1);
  if (!hasOperands(mm, "matmul", 2) ||
      (withCast && !hasOperands(fused.body(1), "cast", 1)) ||
      acc.op() != "accumulate" || acc.inputs_size() != 2 ||
      acc.outputs_size() != 0)
    return call.fail("the body is not matmul, [cast,] accumulate");
  GroupBuffers buffers(fused, in, out);

  // target += op(A)·op(B), the product (and its cast) locals.
  const BufferView *a = buffers.input(mm.inputs(0)),
                   *b = buffers.input(mm.inputs(1));
  int32_t value = mm.outputs(0);
  if (!a || !b || !buffers.isLocal(value))
    return call.fail("the matmul must read group inputs into a local");
  if (withCast) {
    const plan::Kernel &convert = fused.body(1);
    if (convert.inputs(0) != value || !buffers.isLocal(convert.outputs(0)))
      return call.fail("the cast must convert the product into a local");
    value = convert.outputs(0);
  }
  const BufferView *target = buffers.input(acc.inputs(0));
  if (!target || acc.inputs(1) != value)
    return call.fail("the accumulate must add the product to an input of the "
                     "group");
  if (target->dtype != plan::F32)
    return call.fail("the gradient must be f32");
  if (overlaps(*target, *a) || overlaps(*target, *b))
    return call.fail("the matmul reads the buffer it accumulates into");

  // The sizes as the CPU's matmul takes them (its attributes read as it does).
  BufferView operands[] = {*a, *b};
  KernelCall mmCall(mm, operands, {}, /*numThreads=*/1);
  bool transA, transB;
  STRATA_RETURN_IF_ERROR(mmCall.unitAttr("transpose_a", transA));
  STRATA_RETURN_IF_ERROR(mmCall.unitAttr("transpose_b", transB));
  llvm::ArrayRef<int64_t> as = a->shape, bs = b->shape;
  if (as.size() < 2 || bs.size() < 2)
    return call.fail("operands must have rank >= 2, got " + shapeString(as) +
                     " and " + shapeString(bs));
  int64_t m = transA ? as.back() : as[as.size() - 2];
  int64_t k = transA ? as[as.size() - 2] : as.back();
  int64_t n = transB ? bs[bs.size() - 2] : bs.back();
  if ((transB ? bs.back() : bs[bs.size() - 2]) != k)
    return call.fail("contracting dimensions differ: " + shapeString(as) +
                     " and " + shapeString(bs));
  llvm::ArrayRef<int64_t> aBatch = as.drop_back(2), bBatch = bs.drop_back(2);
  MatmulShape shape{1, m, n, k, transA, transB};
  if (bBatch.empty() && !transA) {
    // A rank-2 B is shared by every batch: A's leading dimensions fold into
    // its rows (C's rows follow the same order).
    shape.m = numElements(aBatch) * m;
  } else if (aBatch == bBatch) {
    shape.batch = numElements(aBatch);
  } else {
    return call.fail("only equal batch dimensions, or a rank-2 B, run as one "
                     "GEMM: " +
                     shapeString(as) + " and " + shapeString(bs));
  }
  llvm::SmallVector<int64_t> expected(aBatch);
  expected.append({m, n});
  if (target->shape != llvm::ArrayRef<int64_t>(expected))
    return call.fail("the gradient has shape " + shapeString(target->shape) +
                     ", expected " + shapeString(expected));

  GemmConfig config;
  if (a->dtype == plan::BF16 && b->dtype == plan::BF16)
    config.inputType = GemmInputType::BF16;
  else if (a->dtype == plan::F32 && b->dtype == plan::F32)
    config.inputType = GemmInputType::F32;
  else
    return call.fail("the matmul operands must be both bf16 or both f32");
  if (!context.gemm)
    return call.fail("needs a cuBLASLt handle (LaunchContext::gemm)");
  if (shape.batch == 0 || shape.m == 0 || n == 0 || k == 0)
    return call.fail("empty products run as the body");

  // The product is added in f32 as cuBLASLt computes it: a bf16 body rounds
  // it to bf16 first (docs/plan-format.md, "matmul_accumulate").
  config.shape = shape;
  config.outputType = GemmOutputType::F32;
  config.accumulate = true;
  GemmArgs args;
  args.a = a->data;
  args.b = b->data;
  args.c = target->data;
  GemmStatus status = context.gemm->matmul(config, args, context.stream);
  if (!status.ok())
    return call.fail("cuBLASLt: " + status.message);
  return Error::success();
}
