//===- FusedTraining.cpp - The adamw and cross_entropy groups -------------===//
//
// Matches a fused kernel's body against its kind's pattern, checks every body
// kernel as its single CUDA kernel would, and makes one launch of the whole.
//
//===----------------------------------------------------------------------===//

#include "FusedTraining.h"
#include "KernelsTrainingChecks.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Twine.h"

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::detail;
using namespace strata::cuda::training;
using llvm::Error;

namespace {

Error groupError(const plan::Kernel &fused, const llvm::Twine &message) {
  std::string where =
      fused.location().empty() ? std::string("<unknown>") : fused.location();
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 where + ": fused kernel: " + message);
}

/// The views of a body kernel's buffers `ids`: each must be an input or an
/// output of the group (a LOCAL buffer has no storage a single launch could
/// use).
Error bodyViews(const plan::Kernel &fused, llvm::ArrayRef<exec::BufferView> in,
                llvm::ArrayRef<exec::BufferView> out,
                const google::protobuf::RepeatedField<int32_t> &ids,
                llvm::SmallVectorImpl<exec::BufferView> &views) {
  for (int32_t id : ids) {
    auto find =
        [&](const google::protobuf::RepeatedField<int32_t> &list) -> int {
      for (int i = 0; i < list.size(); ++i)
        if (list[i] == id)
          return i;
      return -1;
    };
    if (int i = find(fused.inputs()); i >= 0 && size_t(i) < in.size())
      views.push_back(in[i]);
    else if (int o = find(fused.outputs()); o >= 0 && size_t(o) < out.size())
      views.push_back(out[o]);
    else
      return groupError(fused, "buffer " + llvm::Twine(id) +
                                   " of its body is neither an input nor an "
                                   "output of the group");
  }
  return Error::success();
}

/// The operands of a "cross_entropy" group: the forward kernel's (loss in
/// `out`) and the gradient's (dlogits in `out`).
struct CrossEntropyGroup {
  CrossEntropyOperands forward, grad;
};

Error matchCrossEntropy(const plan::Kernel &fused,
                        llvm::ArrayRef<exec::BufferView> in,
                        llvm::ArrayRef<exec::BufferView> out,
                        CrossEntropyGroup &group) {
  if (fused.body_size() != 2 || fused.body(0).op() != "cross_entropy" ||
      fused.body(1).op() != "cross_entropy_grad")
    return groupError(fused, "a cross_entropy group is cross_entropy then "
                             "cross_entropy_grad");
  const plan::Kernel &forward = fused.body(0), &grad = fused.body(1);
  if (forward.inputs_size() != 2 || forward.outputs_size() != 1 ||
      grad.inputs_size() != 3 || grad.outputs_size() != 1)
    return groupError(fused, "cross_entropy takes 2 inputs and "
                             "cross_entropy_grad 3, with one output each");
  if (forward.inputs(0) != grad.inputs(0) ||
      forward.inputs(1) != grad.inputs(1))
    return groupError(fused, "cross_entropy and cross_entropy_grad read "
                             "different logits or targets");
  llvm::SmallVector<exec::BufferView> fIn, fOut, gIn, gOut;
  STRATA_RETURN_IF_ERROR(bodyViews(fused, in, out, forward.inputs(), fIn));
  STRATA_RETURN_IF_ERROR(bodyViews(fused, in, out, forward.outputs(), fOut));
  STRATA_RETURN_IF_ERROR(bodyViews(fused, in, out, grad.inputs(), gIn));
  STRATA_RETURN_IF_ERROR(bodyViews(fused, in, out, grad.outputs(), gOut));
  STRATA_RETURN_IF_ERROR(parseCrossEntropy(KernelCall(forward, fIn, fOut, 1),
                                           /*withGrad=*/false, group.forward));
  return parseCrossEntropy(KernelCall(grad, gIn, gOut, 1), /*withGrad=*/true,
                           group.grad);
}

} // namespace

Error cuda::launchAdamwGroup(const plan::Kernel &fused,
                             llvm::ArrayRef<exec::BufferView> in,
                             llvm::ArrayRef<exec::BufferView> out,
                             const LaunchContext &context) {
  if (fused.body_size() == 0)
    return groupError(fused, "an adamw group has no body");
  llvm::SmallVector<AdamwTensor> tensors;
  AdamwShared shared;
  for (const plan::Kernel &body : fused.body()) {
    if (body.op() != "adamw_update")
      return groupError(fused, "an adamw group holds only adamw_update "
                               "kernels, not '" +
                                   body.op() + "'");
    if (body.inputs_size() != 7 || body.outputs_size() != 0)
      return groupError(fused, "adamw_update takes 7 inputs and no outputs");
    llvm::SmallVector<exec::BufferView> views;
    STRATA_RETURN_IF_ERROR(bodyViews(fused, in, out, body.inputs(), views));
    AdamwTensor tensor;
    AdamwShared mine;
    STRATA_RETURN_IF_ERROR(
        parseAdamwUpdate(KernelCall(body, views, {}, 1), tensor, mine));
    if (tensors.empty()) {
      shared = mine;
    } else if (mine.beta1 != shared.beta1 || mine.beta2 != shared.beta2 ||
               mine.epsilon != shared.epsilon ||
               mine.lr.data != shared.lr.data ||
               mine.gradScale.data != shared.gradScale.data ||
               mine.step != shared.step) {
      return groupError(fused, "the adamw_update kernels of an adamw group "
                               "do not share their hyperparameters, lr, "
                               "gradient scale and step");
    }
    tensors.push_back(tensor);
  }
  cudaError_t err = launchAdamw(tensors.data(), int(tensors.size()), shared,
                                streamOf(context));
  if (err != cudaSuccess)
    return groupError(fused, llvm::Twine("CUDA launch failed: ") +
                                 cudaGetErrorString(err));
  return Error::success();
}

llvm::Expected<size_t>
cuda::crossEntropyGroupWorkspace(const plan::Kernel &fused,
                                 llvm::ArrayRef<exec::BufferView> in,
                                 llvm::ArrayRef<exec::BufferView> out) {
  CrossEntropyGroup group;
  STRATA_RETURN_IF_ERROR(matchCrossEntropy(fused, in, out, group));
  return crossEntropyWorkspace(group.forward.rows);
}

Error cuda::launchCrossEntropyGroup(const plan::Kernel &fused,
                                    llvm::ArrayRef<exec::BufferView> in,
                                    llvm::ArrayRef<exec::BufferView> out,
                                    const LaunchContext &context) {
  CrossEntropyGroup group;
  STRATA_RETURN_IF_ERROR(matchCrossEntropy(fused, in, out, group));
  if (context.workspaceBytes < crossEntropyWorkspace(group.forward.rows))
    return groupError(fused, "the launch has less workspace than "
                             "crossEntropyGroupWorkspace asks for");
  const CrossEntropyOperands &g = group.grad;
  cudaError_t err =
      launchCrossEntropy(g.logits, g.targets, g.dloss, g.out, group.forward.out,
                         g.rows, g.vocab, context.workspace, streamOf(context));
  if (err != cudaSuccess)
    return groupError(fused, llvm::Twine("CUDA launch failed: ") +
                                 cudaGetErrorString(err));
  return Error::success();
}
