//===- SyntheticTokens.cpp - A seeded token stream a model can learn ------===//

#include "strata/Runtime/Data.h"

#include <cmath>
#include <numeric>

using namespace strata::runtime;

namespace {
/// SplitMix64: fully specified by its arithmetic, so the stream is the same
/// on every platform and standard library (std::uniform_int_distribution is
/// not).
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}

  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, bound) by multiply-shift; the bias, below bound / 2^32,
  /// is irrelevant for a vocabulary of at most 2^16.
  uint32_t below(uint32_t bound) {
    return static_cast<uint32_t>(((next() >> 32) * bound) >> 32);
  }

  /// Uniform in [0, 1) with 53 random bits.
  double unit() { return double(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t state;
};
} // namespace

llvm::Expected<TokenBuffer>
strata::runtime::makeSyntheticTokens(const SyntheticTokenOptions &options) {
  if (options.vocabSize == 0 || options.vocabSize > 65536)
    return llvm::createStringError(
        "synthetic tokens: vocabulary size %u is outside [1, 65536]",
        options.vocabSize);
  if (!(options.noise >= 0.0 && options.noise <= 1.0))
    return llvm::createStringError(
        "synthetic tokens: noise %g is not a probability in [0, 1]",
        options.noise);

  SplitMix64 rng(options.seed);
  std::vector<uint16_t> successor(options.vocabSize);
  std::iota(successor.begin(), successor.end(), 0);
  // Sattolo's shuffle: a uniformly random permutation with a single cycle,
  // so that the noise-free stream walks the whole vocabulary instead of
  // getting stuck in a fixed point or a short loop.
  for (uint32_t i = options.vocabSize - 1; i > 0; --i)
    std::swap(successor[i], successor[rng.below(i)]);

  std::vector<uint16_t> tokens(options.numTokens);
  for (uint64_t i = 0; i < options.numTokens; ++i) {
    if (i == 0 || rng.unit() < options.noise)
      tokens[i] = static_cast<uint16_t>(rng.below(options.vocabSize));
    else
      tokens[i] = successor[tokens[i - 1]];
  }
  std::string name = "synthetic(seed=" + std::to_string(options.seed) +
                     ", vocab=" + std::to_string(options.vocabSize) + ")";
  return TokenBuffer(std::move(name), std::move(tokens));
}

double strata::runtime::syntheticTokenEntropy(uint32_t vocabSize,
                                              double noise) {
  double other = noise / vocabSize;
  double hit = 1.0 - noise + other;
  auto term = [](double p) { return p > 0.0 ? -p * std::log(p) : 0.0; };
  return term(hit) + (vocabSize - 1) * term(other);
}
