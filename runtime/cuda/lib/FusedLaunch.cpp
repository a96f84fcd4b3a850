//===- FusedLaunch.cpp - One-kernel forms of fused groups -------*- C++ -*-===//

#include "FusedLaunch.h"

#include "FusedKinds.h"
#include "FusedTraining.h"

#include "llvm/ADT/Twine.h"

using namespace strata;

llvm::Error cuda::launchFusedKind(llvm::StringRef kind,
                                  const plan::Kernel &fused,
                                  llvm::ArrayRef<exec::BufferView> inputs,
                                  llvm::ArrayRef<exec::BufferView> outputs,
                                  const LaunchContext &context) {
  if (kind == "matmul_bias" || kind == "matmul_bias_gelu")
    return launchMatmulEpilogue(fused, inputs, outputs, context);
  if (kind == "matmul_accumulate")
    return launchMatmulAccumulate(fused, inputs, outputs, context);
  if (kind == "adamw")
    return launchAdamwGroup(fused, inputs, outputs, context);
  if (kind == "cross_entropy")
    return launchCrossEntropyGroup(fused, inputs, outputs, context);
  return llvm::createStringError("no one-kernel form for fused kind '" + kind +
                                 "'");
}

size_t cuda::fusedKindWorkspace(llvm::StringRef kind, const plan::Kernel &fused,
                                llvm::ArrayRef<exec::BufferView> inputs,
                                llvm::ArrayRef<exec::BufferView> outputs) {
  if (kind != "cross_entropy")
    return 0;
  llvm::Expected<size_t> bytes =
      crossEntropyGroupWorkspace(fused, inputs, outputs);
  if (!bytes) {
    // The group does not fit its one-kernel form: its body runs instead.
    llvm::consumeError(bytes.takeError());
    return 0;
  }
  return *bytes;
}
