//===- Trace.cpp - A timeline of what the executor ran --------------------===//

#include "strata/Exec/Trace.h"

#include "strata/Runtime/AtomicFile.h"

#include "plan.pb.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

#include <algorithm>

using namespace strata;
using namespace strata::exec;

llvm::StringRef exec::traceKindName(TraceKind kind) {
  switch (kind) {
  case TraceKind::Step:
    return "step";
  case TraceKind::Program:
    return "program";
  case TraceKind::Kernel:
    return "kernel";
  case TraceKind::Data:
    return "data";
  case TraceKind::Checkpoint:
    return "checkpoint";
  case TraceKind::Copy:
    return "copy";
  }
  return "event";
}

TraceRecorder::TraceRecorder(TraceOptions options)
    : options(options), origin(Clock::now()) {
  intern("");
}

uint32_t TraceRecorder::intern(llvm::StringRef text) {
  auto [it, inserted] = stringIndex.try_emplace(text, uint32_t(strings.size()));
  if (inserted)
    strings.push_back(text.str());
  return it->second;
}

void TraceRecorder::beginStep(int64_t step) {
  currentStep = step;
  currentMicro = -1;
  active = step >= options.firstStep && step <= options.lastStep;
}

bool TraceRecorder::reserve() {
  if (recorded.size() < options.maxEvents)
    return true;
  ++dropped;
  return false;
}

size_t TraceRecorder::begin(TraceKind kind, llvm::StringRef name) {
  uint32_t nameIndex = intern(name);
  if (kind == TraceKind::Program)
    currentProgram = nameIndex;
  if (!active || !reserve())
    return ~size_t(0);
  TraceEvent event;
  event.kind = kind;
  event.name = nameIndex;
  event.step = currentStep;
  event.micro = kind == TraceKind::Step ? -1 : currentMicro;
  event.startNs = sinceOrigin(Clock::now());
  recorded.push_back(event);
  return recorded.size() - 1;
}

void TraceRecorder::end(size_t handle) {
  if (handle >= recorded.size())
    return;
  TraceEvent &event = recorded[handle];
  event.durationNs = sinceOrigin(Clock::now()) - event.startNs;
}

void TraceRecorder::kernel(const plan::Kernel &kernel, int index,
                           Clock::time_point start, Clock::time_point end,
                           uint64_t outputBytes) {
  if (!reserve())
    return;
  TraceEvent event;
  event.kind = TraceKind::Kernel;
  event.name = intern(kernel.op());
  event.program = currentProgram;
  event.location = intern(kernel.location());
  event.kernelIndex = index;
  event.step = currentStep;
  event.micro = currentMicro;
  event.startNs = sinceOrigin(start);
  event.durationNs = sinceOrigin(end) - event.startNs;
  event.outputBytes = outputBytes;
  recorded.push_back(event);
}

void TraceRecorder::copy(llvm::StringRef name, Clock::time_point start,
                         Clock::time_point end, uint64_t bytes) {
  if (!reserve())
    return;
  TraceEvent event;
  event.kind = TraceKind::Copy;
  event.name = intern(name);
  event.step = currentStep;
  event.micro = currentMicro;
  event.startNs = sinceOrigin(start);
  event.durationNs = sinceOrigin(end) - event.startNs;
  event.outputBytes = bytes;
  recorded.push_back(event);
}

namespace {

/// Nanoseconds as microseconds with three decimals, the unit of the format.
void writeMicroseconds(llvm::json::OStream &json, int64_t ns) {
  json.rawValue([&](llvm::raw_ostream &os) {
    os << llvm::format("%.3f", double(ns) / 1000.0);
  });
}

} // namespace

void TraceRecorder::writeJSON(llvm::raw_ostream &os,
                              llvm::StringRef process) const {
  // An event still open (the step or program a failure left) is written as
  // lasting until the last recorded event ended.
  int64_t lastEnd = 0;
  for (const TraceEvent &event : recorded)
    lastEnd = std::max(lastEnd,
                       event.startNs + std::max<int64_t>(event.durationNs, 0));

  llvm::json::OStream json(os);
  json.object([&] {
    json.attribute("displayTimeUnit", "ms");
    json.attributeArray("traceEvents", [&] {
      json.object([&] {
        json.attribute("name", "process_name");
        json.attribute("ph", "M");
        json.attribute("pid", 1);
        json.attribute("tid", 1);
        json.attributeObject("args", [&] { json.attribute("name", process); });
      });
      for (const TraceEvent &event : recorded) {
        os << "\n";
        json.object([&] {
          json.attribute("name", strings[event.name]);
          json.attribute("cat", traceKindName(event.kind));
          json.attribute("ph", "X");
          json.attributeBegin("ts");
          writeMicroseconds(json, event.startNs);
          json.attributeEnd();
          json.attributeBegin("dur");
          writeMicroseconds(json, event.durationNs >= 0
                                      ? event.durationNs
                                      : lastEnd - event.startNs);
          json.attributeEnd();
          json.attribute("pid", 1);
          json.attribute("tid", 1);
          json.attributeObject("args", [&] {
            if (event.kind == TraceKind::Kernel) {
              json.attribute("program", strings[event.program]);
              json.attribute("kernel", event.kernelIndex);
            }
            if (event.step > 0)
              json.attribute("step", event.step);
            if (event.micro >= 0)
              json.attribute("micro", event.micro);
            if (event.kind == TraceKind::Kernel) {
              json.attribute("location", strings[event.location]);
              json.attribute("output_bytes", int64_t(event.outputBytes));
            }
            if (event.durationNs < 0)
              json.attribute("unfinished", true);
          });
        });
      }
    });
    json.attributeObject("otherData", [&] {
      json.attribute("first_step", options.firstStep);
      json.attribute("last_step", options.lastStep);
      json.attribute("dropped_events", int64_t(dropped));
    });
  });
  os << "\n";
}

llvm::Error TraceRecorder::write(llvm::StringRef path,
                                 llvm::StringRef process) const {
  std::string text;
  llvm::raw_string_ostream os(text);
  writeJSON(os, process);
  if (llvm::Error err = runtime::writeFileAtomically(path, text))
    return llvm::createStringError("cannot write trace '" + path +
                                   "': " + llvm::toString(std::move(err)));
  return llvm::Error::success();
}

TraceSummary TraceRecorder::summarize() const {
  TraceSummary summary;
  summary.droppedEvents = dropped;
  llvm::StringMap<size_t> rowOf;
  int64_t stepNs = 0, kernelNs = 0;
  std::vector<int64_t> opNs;
  for (const TraceEvent &event : recorded) {
    if (event.kind == TraceKind::Step && event.durationNs >= 0) {
      ++summary.steps;
      stepNs += event.durationNs;
    }
    if (event.kind != TraceKind::Kernel)
      continue;
    auto [it, inserted] =
        rowOf.try_emplace(strings[event.name], summary.ops.size());
    if (inserted) {
      summary.ops.push_back({strings[event.name].c_str()});
      opNs.push_back(0);
    }
    ++summary.ops[it->second].calls;
    opNs[it->second] += event.durationNs;
    kernelNs += event.durationNs;
  }
  for (size_t i = 0; i < summary.ops.size(); ++i) {
    summary.ops[i].milliseconds = double(opNs[i]) / 1e6;
    summary.ops[i].percentOfSteps =
        stepNs > 0 ? 100.0 * double(opNs[i]) / double(stepNs) : 0.0;
  }
  llvm::sort(summary.ops, [](const TraceOpSummary &a, const TraceOpSummary &b) {
    return a.milliseconds != b.milliseconds ? a.milliseconds > b.milliseconds
                                            : a.op < b.op;
  });
  summary.stepMilliseconds = double(stepNs) / 1e6;
  summary.kernelMilliseconds = double(kernelNs) / 1e6;
  return summary;
}

void TraceRecorder::printSummary(llvm::raw_ostream &os) const {
  TraceSummary summary = summarize();
  size_t width = 8;
  for (const TraceOpSummary &op : summary.ops)
    width = std::max(width, op.op.size());
  auto row = [&](llvm::StringRef op, llvm::StringRef calls, double ms,
                 double percent) {
    os << llvm::left_justify(op, width) << "  " << llvm::right_justify(calls, 7)
       << "  " << llvm::format("%10.3f", ms) << "  "
       << llvm::format("%6.1f%%", percent) << "\n";
  };
  os << "trace: " << summary.steps << " step" << (summary.steps == 1 ? "" : "s")
     << ", " << llvm::format("%.3f", summary.stepMilliseconds) << " ms";
  if (summary.steps > 0)
    os << " (" << llvm::format("%.3f", summary.stepMilliseconds / summary.steps)
       << " ms a step)";
  os << "\n";
  os << llvm::left_justify("op", width) << "  "
     << llvm::right_justify("calls", 7) << "  "
     << llvm::right_justify("total ms", 10) << "  "
     << llvm::right_justify("% step", 7) << "\n";
  auto percent = [&](double ms) {
    return summary.stepMilliseconds > 0 ? 100.0 * ms / summary.stepMilliseconds
                                        : 0.0;
  };
  uint64_t calls = 0;
  for (const TraceOpSummary &op : summary.ops) {
    row(op.op, std::to_string(op.calls), op.milliseconds, op.percentOfSteps);
    calls += op.calls;
  }
  row("(all kernels)", std::to_string(calls), summary.kernelMilliseconds,
      percent(summary.kernelMilliseconds));
  if (summary.steps > 0)
    row("(outside kernels)", "",
        summary.stepMilliseconds - summary.kernelMilliseconds,
        percent(summary.stepMilliseconds - summary.kernelMilliseconds));
  if (summary.droppedEvents)
    os << "trace: " << summary.droppedEvents
       << " events were dropped (over the limit of " << options.maxEvents
       << ")\n";
}
