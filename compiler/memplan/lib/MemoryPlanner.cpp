//===- MemoryPlanner.cpp - Greedy best-fit arena packing ------------------===//
//
// Offset assignment in the style of "greedy by size" from Pisarchyk & Lee,
// "Efficient Memory Management for Deep Neural Net Inference" (2020): take the
// buffers in some order and put each into the tightest gap left between the
// already placed buffers whose lifetimes meet its own. No single order wins on
// every schedule, so several are tried and the smallest arena is kept.
//
//===----------------------------------------------------------------------===//

#include "strata/MemPlan/MemoryPlanner.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <utility>

using namespace strata::memplan;

namespace {

bool isPowerOfTwo(uint64_t value) {
  return value != 0 && (value & (value - 1)) == 0;
}

/// Cannot overflow here: validateProblem bounds the sum of every buffer's size
/// plus alignment padding, and no offset tried exceeds that sum.
uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

bool livesOverlap(int64_t firstA, int64_t lastA, int64_t firstB,
                  int64_t lastB) {
  return firstA <= lastB && firstB <= lastA;
}

/// Every buffer in its own slot, end to end in index order. Returns the end.
uint64_t layOutNaively(const std::vector<Buffer> &buffers,
                       std::vector<uint64_t> &offsets) {
  offsets.assign(buffers.size(), 0);
  uint64_t end = 0;
  for (size_t i = 0; i < buffers.size(); ++i) {
    offsets[i] = alignUp(end, buffers[i].alignment);
    end = offsets[i] + buffers[i].size;
  }
  return end;
}

/// What the packer places: a buffer, or a chain of buffers joined by in-place
/// hints, which all sit at one offset. Its extent covers every member.
struct Item {
  uint64_t size = 0;
  uint64_t alignment = 1;
  int64_t firstUse = 0;
  int64_t lastUse = 0;
  std::vector<size_t> members;
};

/// The hints that can be honoured together, taken greedily in input order.
/// Chained buffers share one offset, so a hint is refused if it would put two
/// buffers at the same bytes while they are live at the same step, other than
/// the hinted pair itself at its handoff step.
std::vector<InPlaceHint> selectHints(const PlanProblem &problem) {
  const std::vector<Buffer> &buffers = problem.buffers;
  std::vector<size_t> chainOf(buffers.size());
  std::iota(chainOf.begin(), chainOf.end(), 0);
  std::vector<std::vector<size_t>> chains(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i)
    chains[i] = {i};

  std::vector<InPlaceHint> selected;
  for (const InPlaceHint &hint : problem.inPlaceHints) {
    const Buffer &donor = buffers[hint.donor];
    const Buffer &user = buffers[hint.user];
    if (donor.lastUse != user.firstUse || user.size > donor.size)
      continue;
    size_t donorChain = chainOf[hint.donor], userChain = chainOf[hint.user];
    if (donorChain == userChain)
      continue;
    bool clash = false;
    for (size_t a : chains[donorChain]) {
      for (size_t b : chains[userChain]) {
        if (a == hint.donor && b == hint.user)
          continue;
        if (livesOverlap(buffers[a].firstUse, buffers[a].lastUse,
                         buffers[b].firstUse, buffers[b].lastUse))
          clash = true;
      }
    }
    if (clash)
      continue;
    for (size_t b : chains[userChain]) {
      chainOf[b] = donorChain;
      chains[donorChain].push_back(b);
    }
    chains[userChain].clear();
    selected.push_back(hint);
  }
  return selected;
}

/// Groups buffers into items along `hints` (already known to be compatible).
std::vector<Item> buildItems(const std::vector<Buffer> &buffers,
                             const std::vector<InPlaceHint> &hints) {
  // Union-find over buffer indices; hints form chains, so this stays shallow.
  std::vector<size_t> parent(buffers.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](size_t i) {
    while (parent[i] != i)
      i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const InPlaceHint &hint : hints)
    parent[find(hint.user)] = find(hint.donor);

  std::vector<Item> items;
  constexpr size_t kNoItem = static_cast<size_t>(-1);
  std::vector<size_t> itemOfRoot(buffers.size(), kNoItem);
  for (size_t i = 0; i < buffers.size(); ++i) {
    size_t root = find(i);
    if (itemOfRoot[root] == kNoItem) {
      itemOfRoot[root] = items.size();
      Item item;
      item.firstUse = buffers[i].firstUse;
      item.lastUse = buffers[i].lastUse;
      items.push_back(item);
    }
    Item &item = items[itemOfRoot[root]];
    const Buffer &buffer = buffers[i];
    item.size = std::max(item.size, buffer.size);
    item.alignment = std::max(item.alignment, buffer.alignment);
    item.firstUse = std::min(item.firstUse, buffer.firstUse);
    item.lastUse = std::max(item.lastUse, buffer.lastUse);
    item.members.push_back(i);
  }
  return items;
}

/// For each item, the most bytes live at any step of its lifetime: the items
/// that sit under the highest point of the memory profile go first in the
/// "breadth" ordering. The live total only rises where some item starts, so
/// only those steps need evaluating.
std::vector<uint64_t> computeBreadths(const std::vector<Item> &items) {
  std::vector<int64_t> starts;
  for (const Item &item : items)
    starts.push_back(item.firstUse);
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());

  std::vector<uint64_t> liveAt(starts.size(), 0);
  for (const Item &item : items) {
    auto begin = std::lower_bound(starts.begin(), starts.end(), item.firstUse);
    auto end = std::upper_bound(starts.begin(), starts.end(), item.lastUse);
    for (auto it = begin; it != end; ++it)
      liveAt[it - starts.begin()] += item.size;
  }

  std::vector<uint64_t> breadths;
  for (const Item &item : items) {
    auto begin = std::lower_bound(starts.begin(), starts.end(), item.firstUse);
    auto end = std::upper_bound(starts.begin(), starts.end(), item.lastUse);
    uint64_t breadth = 0;
    for (auto it = begin; it != end; ++it)
      breadth = std::max(breadth, liveAt[it - starts.begin()]);
    breadths.push_back(breadth);
  }
  return breadths;
}

/// Places items in `order`, each at the smallest gap (best fit) between
/// already placed items whose lifetimes meet its own, or above all of them if
/// no gap fits. Returns the arena size; fills `offsets` per item.
uint64_t packGreedy(const std::vector<Item> &items,
                    const std::vector<size_t> &order,
                    std::vector<uint64_t> &offsets) {
  offsets.assign(items.size(), 0);
  std::vector<size_t> placed;
  std::vector<std::pair<uint64_t, uint64_t>> taken; // [offset, end)
  uint64_t arenaSize = 0;
  for (size_t index : order) {
    const Item &item = items[index];
    // Zero bytes conflict with nothing; offset 0 is aligned for any alignment.
    if (item.size == 0)
      continue;
    taken.clear();
    for (size_t other : placed) {
      const Item &o = items[other];
      if (livesOverlap(item.firstUse, item.lastUse, o.firstUse, o.lastUse))
        taken.emplace_back(offsets[other], offsets[other] + o.size);
    }
    std::sort(taken.begin(), taken.end());

    uint64_t cursor = 0;
    uint64_t bestOffset = 0;
    uint64_t bestGap = std::numeric_limits<uint64_t>::max();
    bool found = false;
    for (const auto &[begin, end] : taken) {
      uint64_t candidate = alignUp(cursor, item.alignment);
      if (begin > cursor && candidate <= begin &&
          begin - candidate >= item.size && begin - cursor < bestGap) {
        bestGap = begin - cursor;
        bestOffset = candidate;
        found = true;
      }
      cursor = std::max(cursor, end);
    }
    if (!found)
      bestOffset = alignUp(cursor, item.alignment);

    offsets[index] = bestOffset;
    arenaSize = std::max(arenaSize, bestOffset + item.size);
    placed.push_back(index);
  }
  return arenaSize;
}

/// The orderings tried. Each breaks ties by the next key and finally by item
/// index, so the sort is a total order and the plan deterministic.
enum class Ordering { Size, Breadth, Area, Lifetime, FirstUse };

const char *orderingName(Ordering ordering) {
  switch (ordering) {
  case Ordering::Size:
    return "size";
  case Ordering::Breadth:
    return "breadth";
  case Ordering::Area:
    return "area";
  case Ordering::Lifetime:
    return "lifetime";
  case Ordering::FirstUse:
    return "first-use";
  }
  return "?";
}

std::vector<size_t> makeOrder(const std::vector<Item> &items, Ordering ordering,
                              const std::vector<uint64_t> &breadths) {
  auto length = [&](size_t i) {
    // Lifetimes are validated (first <= last); unsigned avoids overflow for
    // schedules spanning the whole int64_t range.
    return static_cast<uint64_t>(items[i].lastUse) -
           static_cast<uint64_t>(items[i].firstUse) + 1;
  };
  // Area in long double: size * length can pass 2^64, and only the ranking
  // matters.
  auto area = [&](size_t i) {
    return static_cast<long double>(items[i].size) *
           static_cast<long double>(length(i));
  };
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Item &x = items[a], &y = items[b];
    switch (ordering) {
    case Ordering::Size:
      if (x.size != y.size)
        return x.size > y.size;
      if (length(a) != length(b))
        return length(a) > length(b);
      break;
    case Ordering::Breadth:
      if (breadths[a] != breadths[b])
        return breadths[a] > breadths[b];
      if (x.size != y.size)
        return x.size > y.size;
      break;
    case Ordering::Area:
      if (area(a) != area(b))
        return area(a) > area(b);
      break;
    case Ordering::Lifetime:
      if (length(a) != length(b))
        return length(a) > length(b);
      if (x.size != y.size)
        return x.size > y.size;
      break;
    case Ordering::FirstUse:
      if (x.firstUse != y.firstUse)
        return x.firstUse < y.firstUse;
      if (x.size != y.size)
        return x.size > y.size;
      break;
    }
    return a < b;
  });
  return order;
}

/// The most bytes live at one step. A hinted user is not counted at its
/// first step: there it occupies its donor's bytes. This bounds every plan
/// that uses at most these hints (not taking a hint only costs more).
uint64_t computeLowerBound(const PlanProblem &problem,
                           const std::vector<InPlaceHint> &hints) {
  const std::vector<Buffer> &buffers = problem.buffers;
  std::vector<bool> sharesFirstStep(buffers.size(), false);
  for (const InPlaceHint &hint : hints)
    sharesFirstStep[hint.user] = true;

  // Events at a step: phase 0 adds before the step is measured, phase 1 adds
  // after it (a hinted user), phase 2 removes after it. Ending "after lastUse"
  // rather than at lastUse + 1 cannot overflow.
  struct Event {
    int64_t step;
    int phase;
    uint64_t size;
  };
  std::vector<Event> events;
  for (size_t i = 0; i < buffers.size(); ++i) {
    const Buffer &buffer = buffers[i];
    events.push_back(
        {buffer.firstUse, sharesFirstStep[i] ? 1 : 0, buffer.size});
    events.push_back({buffer.lastUse, 2, buffer.size});
  }
  std::sort(events.begin(), events.end(), [](const Event &a, const Event &b) {
    return a.step != b.step ? a.step < b.step : a.phase < b.phase;
  });

  uint64_t live = 0, peak = 0;
  for (size_t i = 0; i < events.size();) {
    int64_t step = events[i].step;
    for (; i < events.size() && events[i].step == step && events[i].phase == 0;
         ++i)
      live += events[i].size;
    peak = std::max(peak, live);
    for (; i < events.size() && events[i].step == step; ++i) {
      if (events[i].phase == 1)
        live += events[i].size;
      else
        live -= events[i].size;
    }
  }
  return peak;
}

} // namespace

std::string strata::memplan::describeBuffer(const PlanProblem &problem,
                                            size_t index) {
  const Buffer &buffer = problem.buffers[index];
  std::string text = "#" + std::to_string(index);
  if (!buffer.name.empty())
    text += " '" + buffer.name + "'";
  text += " (" + std::to_string(buffer.size) + " bytes, align " +
          std::to_string(buffer.alignment) + ", steps [" +
          std::to_string(buffer.firstUse) + ", " +
          std::to_string(buffer.lastUse) + "])";
  return text;
}

std::string strata::memplan::validateProblem(const PlanProblem &problem) {
  const std::vector<Buffer> &buffers = problem.buffers;
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (!isPowerOfTwo(buffers[i].alignment))
      return "buffer " + describeBuffer(problem, i) +
             ": alignment must be a power of two";
    if (buffers[i].lastUse < buffers[i].firstUse)
      return "buffer " + describeBuffer(problem, i) +
             ": last use comes before first use";
  }
  for (const InPlaceHint &hint : problem.inPlaceHints) {
    if (hint.donor >= buffers.size() || hint.user >= buffers.size())
      return "in-place hint " + std::to_string(hint.donor) + " -> " +
             std::to_string(hint.user) + " names a buffer that does not exist";
    if (hint.donor == hint.user)
      return "in-place hint names buffer " +
             describeBuffer(problem, hint.donor) + " as its own donor";
  }
  // Every offset any layout here tries is at most the sum of size plus
  // alignment padding over all buffers, so bounding that rules out overflow
  // in the packer and in the naive layout alike.
  uint64_t total = 0;
  for (const Buffer &buffer : buffers) {
    uint64_t padded = buffer.size + (buffer.alignment - 1);
    if (padded < buffer.size ||
        total > std::numeric_limits<uint64_t>::max() - padded)
      return "buffers need more than 2^64 bytes laid out end to end";
    total += padded;
  }
  return "";
}

PlanResult strata::memplan::planMemory(const PlanProblem &problem) {
  PlanResult result;
  result.error = validateProblem(problem);
  if (!result.ok())
    return result;

  MemoryPlan &plan = result.plan;
  const std::vector<Buffer> &buffers = problem.buffers;
  std::vector<InPlaceHint> hints = selectHints(problem);
  plan.lowerBound = computeLowerBound(problem, hints);

  // The naive layout is the fallback candidate, so the plan never needs more
  // than it, whatever alignment padding does to the greedy orderings.
  plan.naiveSize = layOutNaively(buffers, plan.offsets);
  plan.arenaSize = plan.naiveSize;
  plan.strategy = "naive";

  // Taking a hint is not always a win: the chain holds its largest member's
  // bytes for the whole chain's lifetime. So both variants compete.
  std::vector<std::vector<InPlaceHint>> hintSets = {{}};
  if (!hints.empty())
    hintSets.push_back(hints);
  const Ordering orderings[] = {Ordering::Size, Ordering::Breadth,
                                Ordering::Area, Ordering::Lifetime,
                                Ordering::FirstUse};
  std::vector<uint64_t> itemOffsets;
  for (const std::vector<InPlaceHint> &hintSet : hintSets) {
    std::vector<Item> items = buildItems(buffers, hintSet);
    std::vector<uint64_t> breadths = computeBreadths(items);
    for (Ordering ordering : orderings) {
      uint64_t arenaSize =
          packGreedy(items, makeOrder(items, ordering, breadths), itemOffsets);
      // Strictly smaller only: ties keep the earlier candidate, which keeps
      // the choice deterministic and prefers not aliasing buffers.
      if (arenaSize >= plan.arenaSize)
        continue;
      plan.arenaSize = arenaSize;
      for (size_t i = 0; i < items.size(); ++i)
        for (size_t member : items[i].members)
          plan.offsets[member] = itemOffsets[i];
      plan.appliedHints = hintSet;
      plan.strategy = orderingName(ordering);
      if (!hintSet.empty())
        plan.strategy += "+in-place";
    }
    // Nothing beats the bound; skip the remaining work.
    if (plan.arenaSize == plan.lowerBound)
      break;
  }
  return result;
}
