//===- PlanChecker.h - Independent proof that a memory plan is safe -*- C++
//-*-//
//
// Deliberately separate from the planner and much simpler (pairwise, O(n^2)):
// a plan is only trusted once code that shares none of the planner's
// bookkeeping agrees with it.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_MEMPLAN_PLANCHECKER_H
#define STRATA_MEMPLAN_PLANCHECKER_H

#include "strata/MemPlan/MemoryPlanner.h"

#include <cstddef>
#include <string>

namespace strata::memplan {

struct CheckResult {
  static constexpr size_t kNoBuffer = static_cast<size_t>(-1);

  /// Empty when the plan is safe.
  std::string message;
  /// The buffers at fault; `second` only for a conflict between two buffers.
  size_t first = kNoBuffer;
  size_t second = kNoBuffer;

  bool ok() const { return message.empty(); }
};

/// Checks that every offset respects its buffer's alignment, every buffer lies
/// inside [0, plan.arenaSize), every applied in-place hint is legal, and no
/// two buffers live at a common step share a byte unless an applied hint lets
/// them. Zero-size buffers occupy no bytes and never conflict.
CheckResult checkPlan(const PlanProblem &problem, const MemoryPlan &plan);

} // namespace strata::memplan

#endif // STRATA_MEMPLAN_PLANCHECKER_H
