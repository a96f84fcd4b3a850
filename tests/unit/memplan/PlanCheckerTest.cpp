//===- PlanCheckerTest.cpp - The checker catches broken plans -------------===//
//
// A checker that accepts everything would let every planner test pass, so
// these feed it plans that are wrong on purpose.
//
//===----------------------------------------------------------------------===//

#include "strata/MemPlan/PlanChecker.h"

#include <gtest/gtest.h>

#include <random>

using namespace strata::memplan;

namespace {

Buffer buffer(std::string name, uint64_t size, int64_t firstUse,
              int64_t lastUse, uint64_t alignment = 1) {
  Buffer result;
  result.name = std::move(name);
  result.size = size;
  result.alignment = alignment;
  result.firstUse = firstUse;
  result.lastUse = lastUse;
  return result;
}

MemoryPlan planWith(std::vector<uint64_t> offsets, uint64_t arenaSize) {
  MemoryPlan plan;
  plan.offsets = std::move(offsets);
  plan.arenaSize = arenaSize;
  return plan;
}

TEST(PlanCheckerTest, AcceptsASafePlan) {
  PlanProblem problem;
  problem.buffers = {buffer("a", 8, 0, 1), buffer("b", 8, 1, 2),
                     buffer("c", 8, 2, 3)};
  EXPECT_TRUE(checkPlan(problem, planWith({0, 8, 0}, 16)).ok());
}

TEST(PlanCheckerTest, NamesBothBuffersOfAnOverlap) {
  PlanProblem problem;
  problem.buffers = {buffer("a", 8, 0, 1), buffer("grad.x", 8, 3, 4),
                     buffer("act.h", 8, 1, 2)};
  CheckResult result = checkPlan(problem, planWith({0, 0, 4}, 16));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.first, 0u);
  EXPECT_EQ(result.second, 2u);
  EXPECT_NE(result.message.find("'a'"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("'act.h'"), std::string::npos);
  EXPECT_NE(result.message.find("step 1"), std::string::npos);
  EXPECT_NE(result.message.find("[4, 8)"), std::string::npos);
}

TEST(PlanCheckerTest, ZeroSizeBuffersNeverConflict) {
  PlanProblem problem;
  problem.buffers = {buffer("a", 8, 0, 1), buffer("empty", 0, 0, 1)};
  EXPECT_TRUE(checkPlan(problem, planWith({0, 0}, 8)).ok());
}

TEST(PlanCheckerTest, CatchesMisalignment) {
  PlanProblem problem;
  problem.buffers = {buffer("a", 8, 0, 1), buffer("b", 8, 0, 1, 16)};
  CheckResult result = checkPlan(problem, planWith({0, 8}, 16));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.first, 1u);
  EXPECT_NE(result.message.find("misaligned"), std::string::npos);
}

TEST(PlanCheckerTest, CatchesABufferOutsideTheArena) {
  PlanProblem problem;
  problem.buffers = {buffer("a", 8, 0, 1), buffer("b", 8, 0, 1)};
  CheckResult result = checkPlan(problem, planWith({0, 8}, 15));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.first, 1u);
  EXPECT_NE(result.message.find("does not fit"), std::string::npos);

  // Offsets near 2^64 must not wrap around into the arena.
  result = checkPlan(problem, planWith({0, ~0ull - 3}, 16));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.first, 1u);
}

TEST(PlanCheckerTest, CatchesAWrongNumberOfOffsets) {
  PlanProblem problem;
  problem.buffers = {buffer("a", 8, 0, 1)};
  EXPECT_FALSE(checkPlan(problem, planWith({}, 8)).ok());
}

TEST(PlanCheckerTest, SharingNeedsALegalAppliedHint) {
  PlanProblem problem;
  problem.buffers = {buffer("in", 8, 0, 1), buffer("out", 8, 1, 2),
                     buffer("late", 8, 2, 3)};
  MemoryPlan plan = planWith({0, 0, 8}, 16);
  // Without the hint, in and out overlap at step 1.
  EXPECT_FALSE(checkPlan(problem, plan).ok());

  plan.appliedHints = {{0, 1}};
  EXPECT_TRUE(checkPlan(problem, plan).ok());

  // A hint with no handoff between the two buffers is not a licence.
  plan.appliedHints = {{0, 2}};
  EXPECT_FALSE(checkPlan(problem, plan).ok());

  // Nor is one whose user is larger than its donor.
  problem.buffers[1].size = 12;
  plan.appliedHints = {{0, 1}};
  CheckResult result = checkPlan(problem, plan);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.message.find("does not fit in the donor"),
            std::string::npos);
}

TEST(PlanCheckerTest, CatchesRandomCollisions) {
  // Lay random buffers out without reuse (always safe), then move one onto a
  // buffer it is live with: the checker must name exactly that pair.
  std::mt19937_64 rng(5);
  int caught = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    PlanProblem problem;
    MemoryPlan plan;
    size_t count = 2 + rng() % 20;
    for (size_t i = 0; i < count; ++i) {
      int64_t first = rng() % 10;
      problem.buffers.push_back(buffer("b" + std::to_string(i), 1 + rng() % 100,
                                       first, first + rng() % 5));
      plan.offsets.push_back(plan.arenaSize);
      plan.arenaSize += problem.buffers.back().size;
    }
    ASSERT_TRUE(checkPlan(problem, plan).ok());

    size_t a = rng() % count, b = rng() % count;
    const Buffer &x = problem.buffers[a], &y = problem.buffers[b];
    if (a == b || x.firstUse > y.lastUse || y.firstUse > x.lastUse)
      continue;
    plan.offsets[b] = plan.offsets[a];
    plan.arenaSize += 100; // The move may not push b out of the arena.
    CheckResult result = checkPlan(problem, plan);
    ASSERT_FALSE(result.ok()) << "trial " << trial;
    EXPECT_NE(result.second, CheckResult::kNoBuffer);
    ++caught;
  }
  EXPECT_GT(caught, 100);
}

} // namespace
