//===- DeviceError.h - Data errors found on the GPU -------------*- C++ -*-===//
//
// Plain C++ (no LLVM): included by the .cu files too.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_DEVICEERROR_H
#define STRATA_CUDA_DEVICEERROR_H

#include <cstdint>

namespace strata::cuda {

/// What a device kernel found wrong with its data. `code` 0 means nothing;
/// the first failing kernel wins (atomicCAS on `code`).
struct DeviceErrorRecord {
  int32_t code;     // DeviceErrorCode
  int32_t kernel;   // LaunchContext::kernelIndex of the failing launch
  int64_t position; // flat element index of the bad value
  int64_t value;    // the bad value
  int64_t bound;    // the bound it broke: valid values are [0, bound)
};

enum DeviceErrorCode : int32_t {
  kNoDeviceError = 0,
  /// An integer index outside [0, bound) (gather, one_hot, cross_entropy
  /// targets, moe routing).
  kIndexOutOfRange = 1,
};

} // namespace strata::cuda

#endif // STRATA_CUDA_DEVICEERROR_H
