//===- Executor.h - Running a plan's programs on the CPU --------*- C++ -*-===//
//
// The executor owns the memory of one plan: the persistent region (params
// and states, kept across steps and saved in checkpoints), the input region
// (what the runtime writes before a program runs), one arena for the
// temporaries of whichever program runs, and the local scratch of fused
// kernels run kernel by kernel. Each is allocated once, 64-byte aligned, at
// the sizes the plan states; buffers are views at their offsets. Without a
// device a program runs kernel by kernel through exec::runCpuKernel (a fused
// kernel through its body); with one (Device.h) the device runs it and the
// host keeps the params, states and inputs, and the programs' outputs. See
// docs/plan-format.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_EXEC_EXECUTOR_H
#define STRATA_EXEC_EXECUTOR_H

#include "strata/Exec/Device.h"

#include "plan.pb.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::exec {

class TraceRecorder;

/// Bytes that memory regions and their sizes are aligned to.
inline constexpr uint64_t kRegionAlignment = 64;

/// One zero-filled, kRegionAlignment-aligned allocation.
class Region {
public:
  Region() = default;
  /// Fails when the memory cannot be allocated.
  static llvm::Expected<Region> allocate(uint64_t bytes, llvm::StringRef what);

  uint8_t *data() const { return memory.get(); }
  uint64_t size() const { return bytes; }

private:
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> memory;
  uint64_t bytes = 0;
};

struct ExecutorOptions {
  /// Seeds parameter initialization; the plan's `seed` when unset.
  std::optional<uint64_t> seed;
  /// Threads each kernel may use.
  int numThreads = 1;
  /// Where the programs run; the CPU when null.
  std::shared_ptr<Device> device;
};

class Executor {
public:
  /// Validates `plan` (runtime::validatePlan with the device's checkKernel,
  /// or exec::checkCpuKernel, for every kernel and every kernel of a fused
  /// body; every buffer f32, bf16 or i32), allocates its regions (on the
  /// device too), initializes the params and zeroes the states. `origin`
  /// (e.g. "plan file 'm.plan'") starts error messages.
  static llvm::Expected<std::unique_ptr<Executor>>
  create(plan::Plan plan, std::string origin, ExecutorOptions options = {});

  const plan::Plan &plan() const { return thePlan; }
  const std::string &origin() const { return planOrigin; }
  /// The seed the params were initialized with.
  uint64_t seed() const { return initSeed; }
  int numThreads() const { return threads; }

  /// The param, state or input buffer called `name`, or null.
  const plan::Buffer *find(llvm::StringRef name) const;

  /// The bytes of `buffer` in its host region: a param, state or input, or
  /// (with a device) an output of the last program run. With a device, the
  /// host copy of the params and states is current only after syncHost();
  /// writing them through the mutable overload makes the next run upload
  /// them.
  llvm::MutableArrayRef<uint8_t> bytes(const plan::Buffer &buffer);
  llvm::ArrayRef<uint8_t> bytes(const plan::Buffer &buffer) const;

  /// With a device: copies the device's params and states to the host
  /// region if they changed since the last copy. Nothing without one.
  llvm::Error syncHost() const;

  /// The device the programs run on; null for the CPU.
  Device *device() const { return theDevice.get(); }

  /// Stores `values` (one per element) into f32 buffer `buffer`.
  void storeFloats(const plan::Buffer &buffer, llvm::ArrayRef<float> values);
  /// The values of f32 buffer `buffer`.
  std::vector<float> loadFloats(const plan::Buffer &buffer) const;

  /// Initializes every param from its initializer with runtime::
  /// initializeParameter (the values compiler/interp's initializeParameters
  /// gives) and zeroes every state.
  llvm::Error initialize(uint64_t seed);

  /// Runs `program` (one of the plan's) on the current contents of the
  /// regions. `name` ("grad", "apply", "forward") is for error messages,
  /// which also carry the failing kernel's index, op and source location.
  llvm::Error run(const plan::Program &program, llvm::StringRef name);

  /// `run` in phases, so that the host can fill the next inputs while a
  /// device computes: `stage` takes the current host inputs (which may be
  /// overwritten as soon as it returns), `launch` starts `program` on the
  /// last staged inputs (staging them first if they were not), `wait`
  /// finishes it. Without a device, `launch` runs the program and the others
  /// do nothing.
  llvm::Error stage();
  llvm::Error launch(const plan::Program &program, llvm::StringRef name);
  llvm::Error wait();

  /// Records every program run and kernel into `trace` while it is
  /// recording (null: none). The recorder must outlive the runs.
  void setTrace(TraceRecorder *trace) { tracer = trace; }
  TraceRecorder *trace() const { return tracer; }

  uint64_t persistentBytes() const { return persistent.size(); }
  uint64_t inputBytes() const { return inputs.size(); }
  uint64_t arenaBytes() const { return arena.size(); }

  /// Runs `kernel` on the CPU (a fused kernel through its body), with error
  /// messages that name `program` and the kernel's index `index`.
  llvm::Error runKernelOnCpu(const plan::Kernel &kernel, int index,
                             llvm::StringRef program);

private:
  Executor(plan::Plan plan, std::string origin, int numThreads,
           std::shared_ptr<Device> device)
      : thePlan(std::move(plan)), planOrigin(std::move(origin)),
        threads(numThreads), theDevice(std::move(device)) {}

  uint8_t *address(const plan::Buffer &buffer) const;
  /// The kernel loop of `run`, with a trace event per kernel when `Traced`:
  /// two copies so that an untraced run does not test for tracing per
  /// kernel.
  template <bool Traced>
  llvm::Error runKernels(const plan::Program &program, llvm::StringRef name);

  plan::Plan thePlan;
  std::string planOrigin;
  int threads;
  uint64_t initSeed = 0;
  Region persistent, inputs, arena, locals;
  llvm::StringMap<int> byName;
  TraceRecorder *tracer = nullptr;
  std::shared_ptr<Device> theDevice;
  /// With a device: the host persistent region is older than the device's
  /// (a program ran since the last download), or newer (the host wrote it
  /// since the last upload).
  mutable bool hostStale = false;
  bool deviceStale = true;
  bool staged = false;
  /// The trace event of the program launched and not yet waited for.
  size_t programEvent = ~size_t(0);
};

} // namespace strata::exec

#endif // STRATA_EXEC_EXECUTOR_H
