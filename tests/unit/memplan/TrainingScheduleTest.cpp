//===- TrainingScheduleTest.cpp - Plan a transformer's training step ------===//
//
// Synthesizes the buffer lifetimes of one training step of a GPT-2-small-like
// model (12 layers, forward then backward then optimizer) and checks that the
// plan comes within 5% of the lower bound. The shape of these lifetimes is
// what makes training memory hard: activations saved by the forward pass stay
// live until their backward kernel, so live bytes ramp up through the forward
// pass and back down through the backward pass, while gradients and
// workspaces come and go in a step or two.
//
//===----------------------------------------------------------------------===//

#include "strata/MemPlan/MemoryPlanner.h"
#include "strata/MemPlan/PlanChecker.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace strata::memplan;

namespace {

/// Builds lifetimes from a forward op list. Forward op k runs at step k; its
/// backward runs at step 2N - 1 - k, mirroring the forward order; the
/// optimizer runs at step 2N and reads every weight gradient.
class TrainingSchedule {
public:
  static constexpr uint64_t kAlignment = 256;

  /// Adds a forward op reading `inputs`, writing one `outputSize`-byte
  /// activation. If `savesInputs`, its backward reads the inputs again, so
  /// they stay live until then. Returns the output's tensor id.
  int op(std::string name, std::vector<int> inputs, bool savesInputs,
         uint64_t outputSize, uint64_t weightGradSize = 0,
         uint64_t forwardScratch = 0, uint64_t backwardScratch = 0) {
    int step = static_cast<int>(ops.size());
    for (int input : inputs) {
      tensors[input].consumers.push_back(step);
      if (savesInputs)
        tensors[input].savedBy.push_back(step);
    }
    ops.push_back({name, weightGradSize, forwardScratch, backwardScratch});
    // Ops without inputs load model inputs, which take no gradient.
    tensors.push_back({name, outputSize, step, !inputs.empty(), {}, {}});
    return static_cast<int>(tensors.size()) - 1;
  }

  PlanProblem build() const {
    int64_t n = static_cast<int64_t>(ops.size());
    auto backward = [&](int64_t step) { return 2 * n - 1 - step; };
    PlanProblem problem;
    auto add = [&](std::string name, uint64_t size, int64_t first,
                   int64_t last) {
      if (size == 0)
        return;
      Buffer buffer;
      buffer.name = std::move(name);
      buffer.size = size;
      buffer.alignment = kAlignment;
      buffer.firstUse = first;
      buffer.lastUse = last;
      problem.buffers.push_back(buffer);
    };
    for (const Tensor &t : tensors) {
      int64_t last = t.producer;
      for (int c : t.consumers)
        last = std::max<int64_t>(last, c);
      for (int s : t.savedBy)
        last = std::max(last, backward(s));
      add(t.name, t.size, t.producer, last);
      // A tensor's gradient is first written by the backward of its last
      // forward reader and last read by the backward of its producer.
      if (t.needsGrad && !t.consumers.empty()) {
        int64_t first = backward(t.consumers.back());
        add("grad." + t.name, t.size, first, backward(t.producer));
      }
    }
    for (size_t k = 0; k < ops.size(); ++k) {
      int64_t step = static_cast<int64_t>(k);
      add("wgrad." + ops[k].name, ops[k].weightGradSize, backward(step), 2 * n);
      add("scratch." + ops[k].name, ops[k].forwardScratch, step, step);
      add("bscratch." + ops[k].name, ops[k].backwardScratch, backward(step),
          backward(step));
    }
    return problem;
  }

private:
  struct Tensor {
    std::string name;
    uint64_t size;
    int producer;
    bool needsGrad;
    std::vector<int> consumers;
    std::vector<int> savedBy;
  };
  struct Op {
    std::string name;
    uint64_t weightGradSize, forwardScratch, backwardScratch;
  };
  std::vector<Tensor> tensors;
  std::vector<Op> ops;
};

PlanProblem makeTransformerStep() {
  const uint64_t batch = 4, seq = 1024, width = 768, heads = 12, vocab = 32000;
  const uint64_t f32 = 4, tokens = batch * seq;
  const uint64_t act = tokens * width * f32;
  const uint64_t scores = batch * heads * seq * seq * f32;
  const uint64_t matrix = width * width * f32;

  TrainingSchedule s;
  int ids = s.op("tokens", {}, false, tokens * 4);
  int x = s.op("embed", {ids}, true, act, vocab * width * f32);
  for (int layer = 0; layer < 12; ++layer) {
    std::string p = "l" + std::to_string(layer) + ".";
    int h1 = s.op(p + "ln1", {x}, true, act, 2 * width * f32);
    int qkv = s.op(p + "qkv", {h1}, true, 3 * act, 3 * matrix);
    int sc = s.op(p + "scores", {qkv}, true, scores, 0, 0, scores);
    int probs = s.op(p + "softmax", {sc}, false, scores);
    // softmax's backward needs its output, which the next op saves anyway.
    int att = s.op(p + "attn_v", {probs, qkv}, true, act);
    int proj = s.op(p + "proj", {att}, true, act, matrix);
    int x2 = s.op(p + "residual1", {x, proj}, false, act);
    int h2 = s.op(p + "ln2", {x2}, true, act, 2 * width * f32);
    int fc = s.op(p + "fc", {h2}, true, 4 * act, 4 * matrix);
    int gelu = s.op(p + "gelu", {fc}, true, 4 * act);
    int fc2 = s.op(p + "fc2", {gelu}, true, act, 4 * matrix);
    x = s.op(p + "residual2", {x2, fc2}, false, act);
  }
  int hf = s.op("ln_f", {x}, true, act, 2 * width * f32);
  int logits =
      s.op("lm_head", {hf}, true, tokens * vocab * f32, vocab * width * f32);
  s.op("loss", {logits, ids}, true, f32, 0, tokens * vocab * f32);
  return s.build();
}

TEST(TrainingScheduleTest, TransformerStepIsNearTheBound) {
  PlanProblem problem = makeTransformerStep();
  PlanResult result = planMemory(problem);
  ASSERT_TRUE(result.ok()) << result.error;
  const MemoryPlan &plan = result.plan;
  CheckResult check = checkPlan(problem, plan);
  ASSERT_TRUE(check.ok()) << check.message;

  const double mib = 1024.0 * 1024.0;
  std::printf("transformer step: %zu buffers, planned peak %.1f MiB, lower "
              "bound %.1f MiB (ratio %.4f), naive %.1f MiB, strategy %s\n",
              problem.buffers.size(), plan.arenaSize / mib,
              plan.lowerBound / mib,
              static_cast<double>(plan.arenaSize) / plan.lowerBound,
              plan.naiveSize / mib, plan.strategy.c_str());
  EXPECT_GE(plan.arenaSize, plan.lowerBound);
  EXPECT_LE(static_cast<double>(plan.arenaSize),
            1.05 * static_cast<double>(plan.lowerBound));
  EXPECT_LT(plan.arenaSize, plan.naiveSize);
}

} // namespace
