//===- Device.h - Where an executor's kernels run ---------------*- C++ -*-===//
//
// The executor (Executor.h) owns a plan and the host copy of its params,
// states and inputs. Without a device it runs every kernel on the CPU in host
// memory. With one (the CUDA backend, runtime/cuda/CudaDevice.h) the device
// keeps its own copy of the persistent region, the input region and the
// arena, runs the programs, and copies back only what the host asks for: the
// programs' outputs after each run, the persistent region when the host reads
// it (a checkpoint). The executor tracks which side holds the newer
// persistent data and calls upload/download as needed.
//
// A run has three phases so that the host can prepare the next micro-batch
// while the device computes: `stage` takes the filled host input region (the
// host may overwrite it as soon as stage returns), `launch` enqueues the
// program, `wait` blocks until it finished and fills the host copy of the
// program's outputs.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_EXEC_DEVICE_H
#define STRATA_EXEC_DEVICE_H

#include "plan.pb.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace strata::exec {

class Executor;

/// The memory regions of a plan (docs/plan-format.md): params and states,
/// inputs, the arena of temporaries, the local scratch of fused bodies.
enum class RegionKind { Persistent, Inputs, Arena, Locals };

/// The region `buffer` lives in, at buffer.offset().
inline RegionKind regionOf(const plan::Buffer &buffer) {
  switch (buffer.role()) {
  case plan::PARAM:
  case plan::STATE:
    return RegionKind::Persistent;
  case plan::INPUT:
    return RegionKind::Inputs;
  case plan::LOCAL:
    return RegionKind::Locals;
  default:
    return RegionKind::Arena;
  }
}

class Device {
public:
  virtual ~Device();

  /// "cuda", ...: for messages and the trace.
  virtual llvm::StringRef name() const = 0;
  /// One line naming the hardware, e.g. "NVIDIA H100 80GB HBM3 (sm_90)".
  virtual std::string description() const = 0;

  /// Whether the device runs `kernel` (op and operand counts), as
  /// exec::checkCpuKernel for the CPU. Fused kernels are checked by the
  /// executor through their body.
  virtual llvm::Error checkKernel(const plan::Kernel &kernel) = 0;

  /// Takes `executor`'s plan: allocates device memory for its regions (one
  /// allocation each) and loads its code. Called once, before anything else
  /// below; fails with how much memory the plan needs when it does not fit.
  virtual llvm::Error attach(Executor &executor) = 0;

  /// Copies the host persistent region `host` to the device.
  virtual llvm::Error upload(llvm::ArrayRef<uint8_t> host) = 0;
  /// Copies the device persistent region into `host`.
  virtual llvm::Error download(llvm::MutableArrayRef<uint8_t> host) = 0;

  /// Takes a copy of the host input region for the next launch.
  virtual llvm::Error stage(llvm::ArrayRef<uint8_t> hostInputs) = 0;
  /// Enqueues `program` on the last staged inputs.
  virtual llvm::Error launch(const plan::Program &program,
                             llvm::StringRef name) = 0;
  /// Waits for the last launch; then `outputBytes(id)` holds each of its
  /// program's outputs. Reports data errors the kernels found.
  virtual llvm::Error wait() = 0;
  /// The host copy of output buffer `id` of the last waited-for program.
  virtual llvm::ArrayRef<uint8_t> outputBytes(int id) const = 0;
  /// Device memory the device allocated for the plan (after attach).
  virtual uint64_t allocatedBytes() const = 0;
};

} // namespace strata::exec

#endif // STRATA_EXEC_DEVICE_H
