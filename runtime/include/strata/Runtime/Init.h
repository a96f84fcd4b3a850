//===- Init.h - Deterministic parameter initialization ----------*- C++ -*-===//
//
// The initial values of a model's parameters, shared by the reference
// interpreter, the runtime and checkpoints: a parameter's values depend only
// on (initializer, its arguments, the parameter's name, the run's seed), on
// every platform. The exact algorithm is specified in docs/runtime-data.md
// ("Parameter initialization"); changing it changes every initial checkpoint.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_INIT_H
#define STRATA_RUNTIME_INIT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace strata::runtime {

/// The initializers of `graph.param` (the runtime does not depend on MLIR, so
/// it has its own copy of the enum; the order matches strata::graph::InitKind).
enum class InitKind { Zeros, Ones, Constant, Normal, Uniform };

/// FNV-1a, 64 bit, over the bytes of `text`.
uint64_t fnv1a64(llvm::StringRef text);

/// SplitMix64: the random stream of one parameter. `state` is the stream's
/// whole state.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t state) : state(state) {}

  /// The stream of parameter `name` in a run seeded with `seed`.
  static SplitMix64 forParameter(uint64_t seed, llvm::StringRef name);

  uint64_t next();
  /// A double in [0, 1) from the top 53 bits of next().
  double nextUniform();

private:
  uint64_t state;
};

/// Fills out[0, n) with the initial values of parameter `name`. `args` are the
/// initializer's arguments: none for zeros/ones, [v] for constant, [mean, std]
/// for normal, [low, high] for uniform. Fails (naming the parameter) on the
/// wrong number of arguments, non-finite arguments, std <= 0 or low >= high.
llvm::Error initializeParameter(InitKind kind, llvm::ArrayRef<double> args,
                                llvm::StringRef name, uint64_t seed, float *out,
                                int64_t n);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_INIT_H
