//===- KernelDispatch.cpp - Plan kernels to CUDA launches -------*- C++ -*-===//
//
// Looks a kernel's op up in the forward and training tables, checks its
// operand counts as checkCpuKernel does, and hands it to the entry.
//
//===----------------------------------------------------------------------===//

#include "KernelTable.h"

#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::detail;

namespace {

const llvm::StringMap<const CudaKernelEntry *> &kernelTable() {
  static const llvm::StringMap<const CudaKernelEntry *> table = [] {
    llvm::StringMap<const CudaKernelEntry *> map;
    for (llvm::ArrayRef<CudaKernelEntry> entries :
         {forwardKernels(), trainingKernels()})
      for (const CudaKernelEntry &entry : entries)
        map.try_emplace(entry.op, &entry);
    return map;
  }();
  return table;
}

const CudaKernelEntry *lookup(llvm::StringRef op) {
  auto it = kernelTable().find(op);
  return it == kernelTable().end() ? nullptr : it->second;
}

llvm::Error located(const plan::Kernel &kernel, const llvm::Twine &message) {
  std::string where =
      kernel.location().empty() ? std::string("<unknown>") : kernel.location();
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 where + ": kernel '" + kernel.op() +
                                     "': " + message);
}

} // namespace

llvm::Error cuda::checkCudaKernel(const plan::Kernel &kernel, size_t numInputs,
                                  size_t numOutputs) {
  const CudaKernelEntry *entry = lookup(kernel.op());
  if (!entry)
    return located(kernel, "the CUDA backend has no kernel for this op "
                           "(run the plan with --device cpu)");
  bool inputsOk = numInputs >= size_t(entry->minInputs) &&
                  (entry->maxInputs == kVariadicInputs ||
                   numInputs <= size_t(entry->maxInputs));
  if (!inputsOk || numOutputs != size_t(entry->numOutputs)) {
    std::string expected = entry->maxInputs == kVariadicInputs
                               ? "at least " + std::to_string(entry->minInputs)
                           : entry->minInputs == entry->maxInputs
                               ? std::to_string(entry->minInputs)
                               : std::to_string(entry->minInputs) + " to " +
                                     std::to_string(entry->maxInputs);
    return located(kernel, "expects " + expected + " inputs and " +
                               llvm::Twine(entry->numOutputs) +
                               " outputs, the plan gives " +
                               llvm::Twine(numInputs) + " and " +
                               llvm::Twine(numOutputs));
  }
  return llvm::Error::success();
}

llvm::Expected<size_t>
cuda::cudaKernelWorkspace(const plan::Kernel &kernel,
                          llvm::ArrayRef<exec::BufferView> inputs,
                          llvm::ArrayRef<exec::BufferView> outputs) {
  if (llvm::Error err = checkCudaKernel(kernel, inputs.size(), outputs.size()))
    return std::move(err);
  const CudaKernelEntry *entry = lookup(kernel.op());
  if (!entry->workspace)
    return size_t(0);
  KernelCall call(kernel, inputs, outputs, /*numThreads=*/1);
  return entry->workspace(call);
}

llvm::Error cuda::launchCudaKernel(const plan::Kernel &kernel,
                                   llvm::ArrayRef<exec::BufferView> inputs,
                                   llvm::ArrayRef<exec::BufferView> outputs,
                                   const LaunchContext &context) {
  if (llvm::Error err = checkCudaKernel(kernel, inputs.size(), outputs.size()))
    return err;
  KernelCall call(kernel, inputs, outputs, /*numThreads=*/1);
  return lookup(kernel.op())->launch(call, context);
}

llvm::Error detail::expectFloatBuffer(const KernelCall &call, bool isInput,
                                      unsigned i) {
  const exec::BufferView &view = isInput ? call.inputs[i] : call.outputs[i];
  if (view.dtype == plan::F32 || view.dtype == plan::BF16)
    return llvm::Error::success();
  return call.fail(llvm::Twine(isInput ? "input " : "output ") +
                   llvm::Twine(i) + " must be f32 or bf16, not " +
                   runtime::planDTypeName(view.dtype));
}

llvm::Error detail::launchStatus(const KernelCall &call, cudaError_t status) {
  if (status == cudaSuccess)
    return llvm::Error::success();
  return call.fail(llvm::Twine("CUDA launch failed: ") +
                   cudaGetErrorString(status));
}
