//===- CudaDevice.h - Running plans on an NVIDIA GPU ------------*- C++ -*-===//
//
// The CUDA backend of the executor (exec::Device). On attach it makes one
// device allocation per region of the plan (persistent, inputs, arena, kernel
// workspace; the local scratch of fused bodies only once a fused kernel
// without a one-kernel form needs it), loads the plan's emitted
// kernels (Plan.cuda's cubin, through the CUDA runtime's library API: no
// compiler at run time) and checks that the plan fits in device memory.
//
// A program runs on one compute stream. Its first run launches kernel by
// kernel, so that a plan error surfaces with the kernel's location; later runs
// replay a CUDA graph captured on the second run (the whole program: every
// kernel, cuBLASLt call and the copy of its outputs to the host). Inputs go
// host region -> pinned staging (two slots) -> device staging on a copy
// stream, which overlaps with the previous launch; the launch copies the
// staging buffer into the input region on the compute stream first, so that
// the next batch's copy may start as soon as that is done. With a trace
// recording, programs run kernel by kernel between CUDA events and every
// kernel and copy becomes a trace event with its GPU time.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_CUDADEVICE_H
#define STRATA_CUDA_CUDADEVICE_H

#include "strata/Exec/Device.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace strata::cuda {

struct CudaDeviceOptions {
  /// The CUDA device ordinal.
  int ordinal = 0;
  /// Replay programs as CUDA graphs after their first runs.
  bool graphs = true;
};

/// Whether the CUDA runtime sees at least one GPU.
bool cudaDeviceAvailable();

/// The CUDA device `options.ordinal`, or an error that says why there is
/// none (no driver, no GPU, an ordinal out of range).
llvm::Expected<std::shared_ptr<exec::Device>>
createCudaDevice(CudaDeviceOptions options = {});

} // namespace strata::cuda

#endif // STRATA_CUDA_CUDADEVICE_H
