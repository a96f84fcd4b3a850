//===- PlanChecker.cpp - Pairwise proof that a memory plan is safe --------===//
//
// Shares nothing with the planner but the data types and describeBuffer: it
// compares every pair of buffers directly, which is slow (O(n^2)) but simple
// enough to trust on sight.
//
//===----------------------------------------------------------------------===//

#include "strata/MemPlan/PlanChecker.h"

#include <algorithm>
#include <set>
#include <utility>

using namespace strata::memplan;

namespace {

CheckResult fail(std::string message, size_t first,
                 size_t second = CheckResult::kNoBuffer) {
  CheckResult result;
  result.message = std::move(message);
  result.first = first;
  result.second = second;
  return result;
}

} // namespace

CheckResult strata::memplan::checkPlan(const PlanProblem &problem,
                                       const MemoryPlan &plan) {
  const std::vector<Buffer> &buffers = problem.buffers;
  const std::vector<uint64_t> &offsets = plan.offsets;
  if (offsets.size() != buffers.size())
    return fail("plan has " + std::to_string(offsets.size()) + " offsets for " +
                    std::to_string(buffers.size()) + " buffers",
                CheckResult::kNoBuffer);

  for (size_t i = 0; i < buffers.size(); ++i) {
    const Buffer &buffer = buffers[i];
    if (buffer.alignment == 0 ||
        (buffer.alignment & (buffer.alignment - 1)) != 0)
      return fail("buffer " + describeBuffer(problem, i) +
                      " has an alignment that is not a power of two",
                  i);
    if (offsets[i] % buffer.alignment != 0)
      return fail("buffer " + describeBuffer(problem, i) + " at offset " +
                      std::to_string(offsets[i]) + " is misaligned",
                  i);
    // Written as two comparisons so that offset + size cannot overflow.
    if (offsets[i] > plan.arenaSize ||
        buffer.size > plan.arenaSize - offsets[i])
      return fail("buffer " + describeBuffer(problem, i) + " at offset " +
                      std::to_string(offsets[i]) +
                      " does not fit in the arena of " +
                      std::to_string(plan.arenaSize) + " bytes",
                  i);
  }

  // Sharing storage is legal only for an applied hint: the user starts at
  // the step the donor ends, fits in it, and sits at the same offset.
  std::set<std::pair<size_t, size_t>> sharing;
  for (const InPlaceHint &hint : plan.appliedHints) {
    if (hint.donor >= buffers.size() || hint.user >= buffers.size() ||
        hint.donor == hint.user)
      return fail("applied in-place hint " + std::to_string(hint.donor) +
                      " -> " + std::to_string(hint.user) +
                      " does not name two distinct buffers",
                  CheckResult::kNoBuffer);
    const Buffer &donor = buffers[hint.donor];
    const Buffer &user = buffers[hint.user];
    std::string pair = describeBuffer(problem, hint.donor) + " -> " +
                       describeBuffer(problem, hint.user);
    if (donor.lastUse != user.firstUse)
      return fail("applied in-place hint " + pair +
                      ": the user does not start where the donor ends",
                  hint.donor, hint.user);
    if (user.size > donor.size)
      return fail("applied in-place hint " + pair +
                      ": the user does not fit in the donor",
                  hint.donor, hint.user);
    if (offsets[hint.donor] != offsets[hint.user])
      return fail("applied in-place hint " + pair +
                      ": the two buffers are at different offsets",
                  hint.donor, hint.user);
    sharing.insert(
        {std::min(hint.donor, hint.user), std::max(hint.donor, hint.user)});
  }

  for (size_t i = 0; i < buffers.size(); ++i) {
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      const Buffer &a = buffers[i];
      const Buffer &b = buffers[j];
      if (a.size == 0 || b.size == 0)
        continue;
      bool liveTogether = a.firstUse <= b.lastUse && b.firstUse <= a.lastUse;
      bool sameBytes =
          offsets[i] < offsets[j] + b.size && offsets[j] < offsets[i] + a.size;
      if (!liveTogether || !sameBytes || sharing.count({i, j}))
        continue;
      int64_t step = std::max(a.firstUse, b.firstUse);
      uint64_t from = std::max(offsets[i], offsets[j]);
      uint64_t to = std::min(offsets[i] + a.size, offsets[j] + b.size);
      return fail("buffers " + describeBuffer(problem, i) + " and " +
                      describeBuffer(problem, j) + " are both live at step " +
                      std::to_string(step) + " and share bytes [" +
                      std::to_string(from) + ", " + std::to_string(to) + ")",
                  i, j);
    }
  }
  return CheckResult();
}
