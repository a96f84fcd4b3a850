//===- TraceTest.cpp - The executor's Chrome-trace timeline ---------------===//

#include "strata/Exec/Trace.h"
#include "strata/Exec/Trainer.h"

#include "TestPlans.h"

#include "llvm/Support/JSON.h"

#include "gtest/gtest.h"

#include <limits>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::testing;

namespace {

/// A trainer over the linear model with `trace` on its executor.
struct TracedRun {
  std::unique_ptr<Executor> executor;
  std::unique_ptr<Trainer> trainer;

  TracedRun(TraceRecorder *trace, const ModelOptions &model = {}) {
    llvm::Expected<std::unique_ptr<Executor>> created =
        Executor::create(linearModelPlan(model), "plan 'test'");
    EXPECT_TRUE(bool(created)) << llvm::toString(created.takeError());
    executor = std::move(*created);
    executor->setTrace(trace);
    llvm::Expected<std::unique_ptr<Trainer>> made =
        Trainer::create(*executor, TrainerOptions());
    EXPECT_TRUE(bool(made)) << llvm::toString(made.takeError());
    trainer = std::move(*made);
  }

  int kernelsPerStep() const {
    const plan::Plan &plan = executor->plan();
    return plan.grad().kernels_size() * plan.accumulate() +
           plan.apply().kernels_size();
  }
};

/// One "ph": "X" event of a parsed trace.
struct Event {
  std::string name, cat;
  double ts, dur;
  const llvm::json::Object *args;
};

/// Parses the trace's JSON and returns its complete events, checking the
/// fields every event must have.
std::vector<Event> parseTrace(const std::string &text,
                              llvm::json::Value &storage) {
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(text);
  EXPECT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  if (!parsed)
    return {};
  storage = std::move(*parsed);
  std::vector<Event> events;
  const llvm::json::Array *array =
      storage.getAsObject()->getArray("traceEvents");
  EXPECT_NE(array, nullptr);
  if (!array)
    return {};
  for (const llvm::json::Value &value : *array) {
    const llvm::json::Object &object = *value.getAsObject();
    EXPECT_EQ(object.getInteger("pid"), 1);
    EXPECT_EQ(object.getInteger("tid"), 1);
    if (object.getString("ph") != "X")
      continue;
    Event event;
    event.name = object.getString("name").value_or("").str();
    event.cat = object.getString("cat").value_or("").str();
    event.ts = object.getNumber("ts").value_or(-1);
    event.dur = object.getNumber("dur").value_or(-1);
    event.args = object.getObject("args");
    EXPECT_GE(event.ts, 0);
    EXPECT_GE(event.dur, 0);
    EXPECT_NE(event.args, nullptr);
    events.push_back(event);
  }
  return events;
}

size_t count(llvm::ArrayRef<Event> events, llvm::StringRef cat) {
  return llvm::count_if(events, [&](const Event &e) { return e.cat == cat; });
}

/// Whether `inner` lies within `outer` (times are rounded to nanoseconds).
bool within(const Event &inner, const Event &outer) {
  const double slack = 0.002;
  return inner.ts + slack >= outer.ts &&
         inner.ts + inner.dur <= outer.ts + outer.dur + slack;
}

std::string writeJSON(const TraceRecorder &trace) {
  std::string text;
  llvm::raw_string_ostream os(text);
  trace.writeJSON(os, "test");
  return text;
}

TEST(Trace, RecordsEveryKernelOfTheTracedStepsNested) {
  TraceOptions options;
  options.firstStep = 2;
  options.lastStep = 3;
  TraceRecorder trace(options);
  ModelOptions model;
  model.accumulate = 2;
  TracedRun run(&trace, model);
  ASSERT_FALSE(bool(run.trainer->train(5)));

  llvm::json::Value storage(nullptr);
  std::vector<Event> events = parseTrace(writeJSON(trace), storage);
  const int steps = 2;
  EXPECT_EQ(count(events, "kernel"), size_t(run.kernelsPerStep() * steps));
  EXPECT_EQ(count(events, "step"), size_t(steps));
  EXPECT_EQ(count(events, "program"), size_t((model.accumulate + 1) * steps));
  EXPECT_EQ(count(events, "data"), size_t(model.accumulate * steps));

  for (const Event &event : events) {
    std::optional<int64_t> step = event.args->getInteger("step");
    ASSERT_TRUE(step) << event.name;
    EXPECT_TRUE(*step == 2 || *step == 3) << event.name;
    if (event.cat == "step") {
      EXPECT_EQ(event.name, "step " + std::to_string(*step));
      continue;
    }
    // Every other event lies within its step; kernels within a program of
    // their step and micro-step that has their program's name.
    auto enclosing = llvm::find_if(events, [&](const Event &outer) {
      return outer.cat == "step" && outer.args->getInteger("step") == step;
    });
    ASSERT_NE(enclosing, events.end());
    EXPECT_TRUE(within(event, *enclosing)) << event.name;
    if (event.cat != "kernel")
      continue;
    std::optional<llvm::StringRef> program = event.args->getString("program");
    ASSERT_TRUE(program);
    EXPECT_TRUE(event.args->getInteger("kernel"));
    EXPECT_TRUE(event.args->getString("location"));
    EXPECT_TRUE(event.args->getInteger("output_bytes"));
    std::optional<int64_t> micro = event.args->getInteger("micro");
    EXPECT_EQ(bool(micro), *program == "grad");
    bool nested = llvm::any_of(events, [&](const Event &outer) {
      return outer.cat == "program" && outer.name == *program &&
             outer.args->getInteger("step") == step &&
             outer.args->getInteger("micro") == micro && within(event, outer);
    });
    EXPECT_TRUE(nested) << event.name << " in " << program->str();
  }
}

TEST(Trace, SummarySumsTheKernels) {
  TraceRecorder trace;
  TracedRun run(&trace);
  ASSERT_FALSE(bool(run.trainer->train(3)));

  TraceSummary summary = trace.summarize();
  EXPECT_EQ(summary.steps, 3);
  uint64_t calls = 0;
  double milliseconds = 0, percent = 0;
  for (size_t i = 0; i < summary.ops.size(); ++i) {
    calls += summary.ops[i].calls;
    milliseconds += summary.ops[i].milliseconds;
    percent += summary.ops[i].percentOfSteps;
    if (i)
      EXPECT_GE(summary.ops[i - 1].milliseconds, summary.ops[i].milliseconds);
  }
  EXPECT_EQ(calls, uint64_t(run.kernelsPerStep() * 3));
  EXPECT_NEAR(milliseconds, summary.kernelMilliseconds, 1e-6);
  EXPECT_LE(summary.kernelMilliseconds, summary.stepMilliseconds);
  EXPECT_NEAR(percent,
              100.0 * summary.kernelMilliseconds / summary.stepMilliseconds,
              1e-6);

  std::string table;
  llvm::raw_string_ostream os(table);
  trace.printSummary(os);
  expectMessage(table, {"trace: 3 steps", "op", "calls", "total ms", "% step",
                        "adamw_update", "(all kernels)", "(outside kernels)"});
}

TEST(Trace, StepsOutsideTheWindowAreNotRecorded) {
  TraceOptions options;
  options.firstStep = 10;
  TraceRecorder trace(options);
  TracedRun run(&trace);
  ASSERT_FALSE(bool(run.trainer->train(3)));
  EXPECT_TRUE(trace.events().empty());
}

TEST(Trace, EventsBeyondTheLimitAreDropped) {
  TraceOptions options;
  options.maxEvents = 10;
  TraceRecorder trace(options);
  TracedRun run(&trace);
  ASSERT_FALSE(bool(run.trainer->train(2)));
  EXPECT_EQ(trace.events().size(), size_t(10));
  EXPECT_GT(trace.droppedEvents(), size_t(0));
  llvm::json::Value storage(nullptr);
  EXPECT_EQ(parseTrace(writeJSON(trace), storage).size(), size_t(10));
}

TEST(Trace, AFailedStepIsWrittenToo) {
  TraceRecorder trace;
  TracedRun run(&trace);
  const plan::Buffer &w = *run.executor->find("w");
  std::vector<float> poisoned = run.executor->loadFloats(w);
  for (size_t i = 0; i < poisoned.size(); i += 16)
    poisoned[i] = std::numeric_limits<float>::quiet_NaN();
  run.executor->storeFloats(w, poisoned);
  expectMessage(errorMessage(run.trainer->train(3)), {"step 1", "loss is nan"});

  ScratchDir dir;
  std::string path = dir.file("trace.json");
  ASSERT_FALSE(bool(trace.write(path, "test")));
  llvm::json::Value storage(nullptr);
  std::vector<Event> events = parseTrace(readFile(path), storage);
  // Step 1 ran grad and stopped before apply.
  EXPECT_EQ(count(events, "step"), size_t(1));
  EXPECT_EQ(count(events, "program"), size_t(1));
  EXPECT_EQ(count(events, "kernel"),
            size_t(run.executor->plan().grad().kernels_size()));
}

TEST(Trace, WriteFailsWithThePath) {
  TraceRecorder trace;
  expectMessage(errorMessage(trace.write("/nonexistent/dir/t.json", "test")),
                {"cannot write trace '/nonexistent/dir/t.json'"});
}

} // namespace
