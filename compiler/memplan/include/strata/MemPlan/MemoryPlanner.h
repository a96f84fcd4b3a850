//===- MemoryPlanner.h - Pack buffers with lifetimes into one arena -*- C++
//-*-//
//
// The planning algorithm of `strata-memory-plan`, kept free of MLIR so that it
// can be tested on its own. A buffer lives from the kernel that writes it to
// the last kernel that reads it (the IREE `stream` packing model: slices with
// [start, end] lifetimes, one offset each); two buffers whose lifetimes meet
// must not share bytes, any others may.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_MEMPLAN_MEMORYPLANNER_H
#define STRATA_MEMPLAN_MEMORYPLANNER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace strata::memplan {

/// One allocation to place. Steps are positions in the kernel schedule; the
/// buffer is live at every step in [firstUse, lastUse], both ends inclusive.
struct Buffer {
  uint64_t size = 0;
  /// Required alignment of the offset in bytes; a power of two.
  uint64_t alignment = 1;
  int64_t firstUse = 0;
  int64_t lastUse = 0;
  /// Only used in messages.
  std::string name;
};

/// `user` may be written into `donor`'s storage: the kernel at step
/// donor.lastUse == user.firstUse reads the donor and writes the user in
/// place. Only taken when user.size <= donor.size.
struct InPlaceHint {
  size_t donor = 0;
  size_t user = 0;
};

struct PlanProblem {
  std::vector<Buffer> buffers;
  std::vector<InPlaceHint> inPlaceHints;
};

struct MemoryPlan {
  /// Byte offset of each buffer in the arena, indexed like the buffers.
  std::vector<uint64_t> offsets;
  /// Bytes the arena needs: the planned peak.
  uint64_t arenaSize = 0;
  /// No plan can use fewer bytes: the most bytes live at any one step, where
  /// a hinted user does not count at the step it takes over its donor.
  uint64_t lowerBound = 0;
  /// Bytes without any reuse: every buffer in its own slot, in index order.
  uint64_t naiveSize = 0;
  /// The hints this plan took; each pair shares one offset.
  std::vector<InPlaceHint> appliedHints;
  /// Which candidate ordering won, e.g. "size+in-place"; for reports only.
  std::string strategy;
};

/// A plan, or why the problem has none.
struct PlanResult {
  MemoryPlan plan;
  /// Empty on success.
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Returns why `problem` is malformed (an alignment that is not a power of
/// two, lastUse < firstUse, a hint naming a missing buffer, sizes summing past
/// 2^64), or an empty string if it is well formed.
std::string validateProblem(const PlanProblem &problem);

/// Assigns every buffer an offset so that buffers live at a common step do not
/// overlap, trying several greedy best-fit orderings (with and without the
/// in-place hints) and keeping the smallest arena. Deterministic: the same
/// problem always gets the same plan.
PlanResult planMemory(const PlanProblem &problem);

/// "#3 'attn.probs' (64 bytes, align 16, steps [4, 9])", for messages.
std::string describeBuffer(const PlanProblem &problem, size_t index);

} // namespace strata::memplan

#endif // STRATA_MEMPLAN_MEMORYPLANNER_H
