//===- MemoryPlannerTest.cpp - Hand-made and random memory plans ----------===//
//
// Every plan made here also goes through the independent checker, so a test
// that only asserts an arena size still proves the plan is safe.
//
//===----------------------------------------------------------------------===//

#include "strata/MemPlan/MemoryPlanner.h"
#include "strata/MemPlan/PlanChecker.h"

#include <gtest/gtest.h>

#include <random>

using namespace strata::memplan;

namespace {

Buffer buffer(uint64_t size, int64_t firstUse, int64_t lastUse,
              uint64_t alignment = 1) {
  Buffer result;
  result.size = size;
  result.alignment = alignment;
  result.firstUse = firstUse;
  result.lastUse = lastUse;
  return result;
}

/// Plans `problem`, fails the test if planning or checking fails.
MemoryPlan planAndCheck(const PlanProblem &problem) {
  PlanResult result = planMemory(problem);
  EXPECT_TRUE(result.ok()) << result.error;
  CheckResult check = checkPlan(problem, result.plan);
  EXPECT_TRUE(check.ok()) << check.message;
  return result.plan;
}

TEST(MemoryPlannerTest, EmptyProblem) {
  MemoryPlan plan = planAndCheck({});
  EXPECT_EQ(plan.arenaSize, 0u);
  EXPECT_EQ(plan.lowerBound, 0u);
  EXPECT_EQ(plan.naiveSize, 0u);
}

TEST(MemoryPlannerTest, DisjointLifetimesShareMemory) {
  PlanProblem problem;
  problem.buffers = {buffer(100, 0, 1), buffer(80, 2, 3), buffer(60, 4, 5)};
  MemoryPlan plan = planAndCheck(problem);
  EXPECT_EQ(plan.arenaSize, 100u);
  EXPECT_EQ(plan.lowerBound, 100u);
  EXPECT_EQ(plan.naiveSize, 240u);
}

TEST(MemoryPlannerTest, AllOverlappingNeedTheSum) {
  PlanProblem problem;
  problem.buffers = {buffer(10, 0, 5), buffer(20, 1, 4), buffer(30, 2, 3),
                     buffer(40, 3, 3)};
  MemoryPlan plan = planAndCheck(problem);
  EXPECT_EQ(plan.arenaSize, 100u);
  EXPECT_EQ(plan.lowerBound, 100u);
}

TEST(MemoryPlannerTest, SingleStep) {
  PlanProblem problem;
  problem.buffers = {buffer(7, 3, 3), buffer(9, 3, 3)};
  MemoryPlan plan = planAndCheck(problem);
  EXPECT_EQ(plan.arenaSize, 16u);
  EXPECT_NE(plan.offsets[0], plan.offsets[1]);
}

TEST(MemoryPlannerTest, OffsetsRespectAlignment) {
  PlanProblem problem;
  problem.buffers = {buffer(3, 0, 2, 1), buffer(5, 0, 2, 64),
                     buffer(1, 1, 2, 256), buffer(70, 1, 1, 128)};
  MemoryPlan plan = planAndCheck(problem);
  for (size_t i = 0; i < problem.buffers.size(); ++i)
    EXPECT_EQ(plan.offsets[i] % problem.buffers[i].alignment, 0u) << i;
  EXPECT_GE(plan.arenaSize, plan.lowerBound);
  EXPECT_LE(plan.arenaSize, plan.naiveSize);
}

TEST(MemoryPlannerTest, ZeroSizeBuffersTakeNoSpace) {
  PlanProblem problem;
  problem.buffers = {buffer(0, 0, 9, 16), buffer(32, 0, 9), buffer(0, 4, 4),
                     buffer(16, 2, 5, 16)};
  MemoryPlan plan = planAndCheck(problem);
  EXPECT_EQ(plan.arenaSize, 48u);
  EXPECT_EQ(plan.lowerBound, 48u);
  EXPECT_EQ(plan.offsets[0] % 16, 0u);
}

TEST(MemoryPlannerTest, GapBetweenPlacedBuffersIsReused) {
  // The 40-byte buffer starts after the 50-byte one has died: it must land in
  // those freed bytes, not above everything else.
  PlanProblem problem;
  problem.buffers = {buffer(100, 0, 9), buffer(50, 0, 2), buffer(100, 0, 9),
                     buffer(40, 3, 9)};
  MemoryPlan plan = planAndCheck(problem);
  EXPECT_EQ(plan.arenaSize, 250u);
  EXPECT_EQ(plan.lowerBound, 250u);
}

TEST(MemoryPlannerTest, InPlaceHintSharesStorage) {
  // An elementwise chain a -> b -> c where each step could run in place.
  PlanProblem problem;
  problem.buffers = {buffer(100, 0, 1), buffer(100, 1, 2), buffer(60, 2, 4),
                     buffer(30, 1, 4)};
  MemoryPlan without = planAndCheck(problem);
  EXPECT_EQ(without.arenaSize, 230u);

  problem.inPlaceHints = {{0, 1}, {1, 2}};
  MemoryPlan with = planAndCheck(problem);
  EXPECT_EQ(with.arenaSize, 130u);
  EXPECT_EQ(with.lowerBound, 130u);
  EXPECT_EQ(with.offsets[0], with.offsets[1]);
  EXPECT_EQ(with.offsets[1], with.offsets[2]);
  ASSERT_EQ(with.appliedHints.size(), 2u);
}

TEST(MemoryPlannerTest, InPlaceHintNeedsAFitAndAHandoff) {
  PlanProblem problem;
  // 1 is larger than 0; 3 does not start where 2 ends.
  problem.buffers = {buffer(10, 0, 1), buffer(20, 1, 2), buffer(10, 0, 1),
                     buffer(10, 3, 4)};
  problem.inPlaceHints = {{0, 1}, {2, 3}};
  MemoryPlan plan = planAndCheck(problem);
  EXPECT_TRUE(plan.appliedHints.empty());
}

TEST(MemoryPlannerTest, ConflictingHintsAreNotBothTaken) {
  // Two users of one donor would overlap each other at the handoff step.
  PlanProblem problem;
  problem.buffers = {buffer(10, 0, 1), buffer(10, 1, 2), buffer(10, 1, 3)};
  problem.inPlaceHints = {{0, 1}, {0, 2}};
  MemoryPlan plan = planAndCheck(problem);
  EXPECT_LE(plan.appliedHints.size(), 1u);
  EXPECT_EQ(plan.arenaSize, 20u);
}

TEST(MemoryPlannerTest, MalformedProblemsAreRejected) {
  PlanProblem badAlignment;
  badAlignment.buffers = {buffer(8, 0, 1, 3)};
  badAlignment.buffers[0].name = "x";
  PlanResult result = planMemory(badAlignment);
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("'x'"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("power of two"), std::string::npos);

  PlanProblem backwards;
  backwards.buffers = {buffer(8, 5, 4)};
  EXPECT_NE(planMemory(backwards).error.find("before first use"),
            std::string::npos);

  PlanProblem badHint;
  badHint.buffers = {buffer(8, 0, 1)};
  badHint.inPlaceHints = {{0, 7}};
  EXPECT_NE(planMemory(badHint).error.find("does not exist"),
            std::string::npos);

  PlanProblem huge;
  huge.buffers = {buffer(~0ull / 2 + 1, 0, 1), buffer(~0ull / 2 + 1, 2, 3)};
  EXPECT_NE(planMemory(huge).error.find("2^64"), std::string::npos);
}

TEST(MemoryPlannerTest, Deterministic) {
  std::mt19937_64 rng(7);
  PlanProblem problem;
  for (int i = 0; i < 200; ++i) {
    int64_t first = rng() % 50;
    problem.buffers.push_back(
        buffer(rng() % 4096, first, first + rng() % 20, 1ull << (rng() % 8)));
  }
  MemoryPlan a = planAndCheck(problem);
  MemoryPlan b = planAndCheck(problem);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.arenaSize, b.arenaSize);
  EXPECT_EQ(a.strategy, b.strategy);
}

/// A random instance: lifetimes over a short schedule so that many overlap,
/// some zero sizes, mixed alignments, and hints between buffers that hand off.
PlanProblem randomProblem(std::mt19937_64 &rng, bool aligned) {
  PlanProblem problem;
  size_t count = 1 + rng() % 40;
  int64_t steps = 1 + rng() % 30;
  for (size_t i = 0; i < count; ++i) {
    int64_t first = rng() % steps;
    int64_t last = first + rng() % (steps - first);
    uint64_t size = rng() % 8 == 0 ? 0 : 1 + rng() % 1000;
    uint64_t alignment = aligned ? 1ull << (rng() % 9) : 1;
    problem.buffers.push_back(buffer(size, first, last, alignment));
  }
  for (size_t i = 0; i < count; ++i)
    for (size_t j = 0; j < count; ++j)
      if (i != j && problem.buffers[i].lastUse == problem.buffers[j].firstUse &&
          rng() % 4 == 0)
        problem.inPlaceHints.push_back({i, j});
  return problem;
}

TEST(MemoryPlannerTest, RandomPlansAreSafeAndBounded) {
  std::mt19937_64 rng(20240611);
  for (int trial = 0; trial < 4000; ++trial) {
    PlanProblem problem = randomProblem(rng, /*aligned=*/trial % 2 == 0);
    PlanResult result = planMemory(problem);
    ASSERT_TRUE(result.ok()) << result.error;
    const MemoryPlan &plan = result.plan;
    CheckResult check = checkPlan(problem, plan);
    ASSERT_TRUE(check.ok()) << "trial " << trial << ": " << check.message;
    ASSERT_GE(plan.arenaSize, plan.lowerBound) << "trial " << trial;
    ASSERT_LE(plan.arenaSize, plan.naiveSize) << "trial " << trial;
  }
}

TEST(MemoryPlannerTest, RandomPlansWithoutHintsBeatTheRawBound) {
  // Without hints the bound is exactly the most bytes live at a step; check
  // it against a brute-force count over every step.
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 2000; ++trial) {
    PlanProblem problem = randomProblem(rng, /*aligned=*/false);
    problem.inPlaceHints.clear();
    MemoryPlan plan = planAndCheck(problem);
    uint64_t bound = 0;
    for (int64_t step = 0; step < 30; ++step) {
      uint64_t live = 0;
      for (const Buffer &b : problem.buffers)
        if (b.firstUse <= step && step <= b.lastUse)
          live += b.size;
      bound = std::max(bound, live);
    }
    ASSERT_EQ(plan.lowerBound, bound) << "trial " << trial;
    ASSERT_GE(plan.arenaSize, bound) << "trial " << trial;
  }
}

} // namespace
