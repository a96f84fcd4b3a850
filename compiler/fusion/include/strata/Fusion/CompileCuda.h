//===- CompileCuda.h - Emitted CUDA C++ to a cubin with NVRTC ---*- C++ -*-===//
//
// NVRTC compiles without a GPU, so strata-compile builds the cubin of a plan
// on any machine with the CUDA toolkit. A build without it (no CUDA::nvrtc at
// configure time) still emits the source; plans then carry no cubin.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FUSION_COMPILECUDA_H
#define STRATA_FUSION_COMPILECUDA_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace strata::fusion {

/// The architecture plans are compiled for (Hopper: H100/H200).
inline constexpr llvm::StringLiteral kCudaArch = "sm_90a";

/// A compiled translation unit.
struct CudaBinary {
  std::string cubin;
  /// What compiled it, e.g. "nvrtc 13.0".
  std::string compiler;
};

/// Whether this build links NVRTC.
bool haveNvrtc();

/// Compiles `source` for `arch` with NVRTC (`--gpu-architecture=<arch>`,
/// `-std=c++17`, `--use_fast_math` off) into a cubin. `name` names the source
/// in NVRTC's log. The error holds the log; without NVRTC it says so.
llvm::Expected<CudaBinary>
compileCuda(llvm::StringRef source, llvm::StringRef arch = kCudaArch,
            llvm::StringRef name = "strata_fused.cu");

} // namespace strata::fusion

#endif // STRATA_FUSION_COMPILECUDA_H
