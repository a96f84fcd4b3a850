//===- Trace.h - A timeline of what the executor ran ------------*- C++ -*-===//
//
// A TraceRecorder collects complete events (a start and a duration) for every
// kernel the executor runs, every program run, every optimizer step, the
// data loading of each micro-step and every checkpoint write, and writes
// them as a Chrome trace (the JSON "traceEvents" format that Perfetto and
// chrome://tracing open). It also sums the kernels by op: the table that
// shows where a step's time goes.
//
// Tracing costs nothing when it is off: the executor checks one pointer per
// program run and otherwise runs the loop it runs without a recorder. Memory
// is bounded by a window of steps (TraceOptions) and a cap on the number of
// events. See docs/strata-run.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_EXEC_TRACE_H
#define STRATA_EXEC_TRACE_H

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace strata::plan {
class Kernel;
} // namespace strata::plan

namespace strata::exec {

/// What an event times; also its Chrome-trace category.
enum class TraceKind : uint8_t {
  Step,
  Program,
  Kernel,
  Data,
  Checkpoint,
  Copy
};

/// The category name of `kind` ("step", "program", "kernel", "data",
/// "checkpoint", "copy").
llvm::StringRef traceKindName(TraceKind kind);

struct TraceOptions {
  /// The steps recorded, inclusive. Events outside any step (a program run
  /// before the first step) are recorded too; a checkpoint is recorded when
  /// the step before it was.
  int64_t firstStep = 1;
  int64_t lastStep = std::numeric_limits<int64_t>::max();
  /// Events beyond this many are dropped (and counted), whatever the window.
  size_t maxEvents = size_t(1) << 20;
};

/// One complete event. Strings are indices into the recorder's table so
/// that an event stays small and does not point into the plan.
struct TraceEvent {
  TraceKind kind;
  /// The micro-step (0-based) the event belongs to, -1 outside one.
  int32_t micro = -1;
  /// The kernel's index in its program (kernels only), else -1.
  int32_t kernelIndex = -1;
  /// The event's name: the kernel's op, the program's name, "step N",
  /// "data", "checkpoint".
  uint32_t name = 0;
  /// Kernels: the program that ran them; the kernel's source location.
  uint32_t program = 0, location = 0;
  /// The step (1-based) the event belongs to, 0 outside one.
  int64_t step = 0;
  /// Nanoseconds since the recorder was created; the duration is -1 while
  /// the event is open (written as lasting until the last event ended).
  int64_t startNs = 0, durationNs = -1;
  /// Kernels: the bytes of their outputs.
  uint64_t outputBytes = 0;
};

/// The kernels of one op, summed over the recorded events.
struct TraceOpSummary {
  std::string op;
  uint64_t calls = 0;
  double milliseconds = 0;
  /// Of the recorded steps' time (0 when no step was recorded).
  double percentOfSteps = 0;
};

struct TraceSummary {
  /// Sorted by time, longest first.
  std::vector<TraceOpSummary> ops;
  int64_t steps = 0;
  double stepMilliseconds = 0;
  double kernelMilliseconds = 0;
  size_t droppedEvents = 0;
};

class TraceRecorder {
public:
  using Clock = std::chrono::steady_clock;

  explicit TraceRecorder(TraceOptions options = {});

  /// Whether events are recorded now. The executor checks this once per
  /// program run.
  bool recording() const { return active; }

  /// Marks the start of step `step` (1-based); recording follows the window.
  void beginStep(int64_t step);
  /// The micro-step later events belong to (-1: none).
  void setMicro(int micro) { currentMicro = micro; }

  /// Opens a span event of `kind` called `name` and returns its handle for
  /// `end`; ~0 when not recording or the event was dropped.
  size_t begin(TraceKind kind, llvm::StringRef name);
  void end(size_t handle);

  /// Records kernel `index` of the program named by the enclosing open
  /// Program event (the last `begin(TraceKind::Program, ...)`).
  void kernel(const plan::Kernel &kernel, int index, Clock::time_point start,
              Clock::time_point end, uint64_t outputBytes);
  /// Records a memory copy between host and device (`name`: "inputs to
  /// device", "outputs to host", ...) of `bytes` bytes.
  void copy(llvm::StringRef name, Clock::time_point start,
            Clock::time_point end, uint64_t bytes);

  const std::vector<TraceEvent> &events() const { return recorded; }
  llvm::StringRef string(uint32_t index) const { return strings[index]; }
  size_t droppedEvents() const { return dropped; }

  /// The trace as Chrome-trace JSON: {"traceEvents": [...], ...}, times in
  /// microseconds, every event on pid 1, tid 1. `process` names the track.
  void writeJSON(llvm::raw_ostream &os, llvm::StringRef process) const;
  /// Writes writeJSON's text to `path` atomically.
  llvm::Error write(llvm::StringRef path, llvm::StringRef process) const;

  TraceSummary summarize() const;
  /// The summary as a table: op, calls, total ms, % of step time.
  void printSummary(llvm::raw_ostream &os) const;

private:
  uint32_t intern(llvm::StringRef text);
  int64_t sinceOrigin(Clock::time_point time) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time - origin)
        .count();
  }
  bool reserve();

  TraceOptions options;
  Clock::time_point origin;
  bool active = true;
  int64_t currentStep = 0;
  int currentMicro = -1;
  uint32_t currentProgram = 0;
  std::vector<TraceEvent> recorded;
  std::vector<std::string> strings;
  llvm::StringMap<uint32_t> stringIndex;
  size_t dropped = 0;
};

/// Opens a span on construction and closes it on destruction, so that a
/// step or program that returns early with an error still ends. Does
/// nothing when `trace` is null or not recording.
class TraceScope {
public:
  TraceScope(TraceRecorder *trace, TraceKind kind, llvm::StringRef name)
      : trace(trace && trace->recording() ? trace : nullptr) {
    if (this->trace)
      handle = this->trace->begin(kind, name);
  }
  ~TraceScope() {
    if (trace)
      trace->end(handle);
  }
  TraceScope(const TraceScope &) = delete;
  TraceScope &operator=(const TraceScope &) = delete;

private:
  TraceRecorder *trace;
  size_t handle = ~size_t(0);
};

} // namespace strata::exec

#endif // STRATA_EXEC_TRACE_H
