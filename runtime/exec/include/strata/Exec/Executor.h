//===- Executor.h - Running a plan's programs on the CPU --------*- C++ -*-===//
//
// The executor owns the memory of one plan: the persistent region (params
// and states, kept across steps and saved in checkpoints), the input region
// (what the runtime writes before a program runs) and one arena for the
// temporaries of whichever program runs. Each is allocated once, 64-byte
// aligned, at the sizes the plan states; buffers are views at their offsets.
// A program runs kernel by kernel through exec::runCpuKernel. See
// docs/plan-format.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_EXEC_EXECUTOR_H
#define STRATA_EXEC_EXECUTOR_H

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
};

class Executor {
public:
  /// Validates `plan` (runtime::validatePlan with exec::checkCpuKernel for
  /// every kernel; every buffer f32 or i32, which is what the CPU kernels
  /// compute in), allocates its regions, initializes the params and zeroes
  /// the states. `origin` (e.g. "plan file 'm.plan'") starts error messages.
  static llvm::Expected<std::unique_ptr<Executor>>
  create(plan::Plan plan, std::string origin, ExecutorOptions options = {});

  const plan::Plan &plan() const { return thePlan; }
  const std::string &origin() const { return planOrigin; }
  /// The seed the params were initialized with.
  uint64_t seed() const { return initSeed; }
  int numThreads() const { return threads; }

  /// The param, state or input buffer called `name`, or null.
  const plan::Buffer *find(llvm::StringRef name) const;

  /// The bytes of `buffer` in its region.
  llvm::MutableArrayRef<uint8_t> bytes(const plan::Buffer &buffer);
  llvm::ArrayRef<uint8_t> bytes(const plan::Buffer &buffer) const;

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

  /// Records every program run and kernel into `trace` while it is
  /// recording (null: none). The recorder must outlive the runs.
  void setTrace(TraceRecorder *trace) { tracer = trace; }
  TraceRecorder *trace() const { return tracer; }

  uint64_t persistentBytes() const { return persistent.size(); }
  uint64_t inputBytes() const { return inputs.size(); }
  uint64_t arenaBytes() const { return arena.size(); }

private:
  Executor(plan::Plan plan, std::string origin, int numThreads)
      : thePlan(std::move(plan)), planOrigin(std::move(origin)),
        threads(numThreads) {}

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
  Region persistent, inputs, arena;
  llvm::StringMap<int> byName;
  TraceRecorder *tracer = nullptr;
};

} // namespace strata::exec

#endif // STRATA_EXEC_EXECUTOR_H
