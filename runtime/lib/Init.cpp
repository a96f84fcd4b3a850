//===- Init.cpp - Deterministic parameter initialization ------------------===//

#include "strata/Runtime/Init.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace strata::runtime;

uint64_t strata::runtime::fnv1a64(llvm::StringRef text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

SplitMix64 SplitMix64::forParameter(uint64_t seed, llvm::StringRef name) {
  // Multiplying the seed by the golden-ratio constant keeps seeds 0, 1, 2 ...
  // far apart in the state space before the name's hash is mixed in.
  return SplitMix64(seed * 0x9e3779b97f4a7c15ULL ^ fnv1a64(name));
}

uint64_t SplitMix64::next() {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SplitMix64::nextUniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

llvm::Error strata::runtime::initializeParameter(InitKind kind,
                                                 llvm::ArrayRef<double> args,
                                                 llvm::StringRef name,
                                                 uint64_t seed, float *out,
                                                 int64_t n) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "parameter '" + name + "': " + message);
  };
  size_t arity = kind == InitKind::Zeros || kind == InitKind::Ones ? 0
                 : kind == InitKind::Constant                      ? 1
                                                                   : 2;
  if (args.size() != arity)
    return fail(llvm::formatv("the initializer takes {0} argument(s), got {1}",
                              arity, args.size()));
  for (double arg : args)
    if (!std::isfinite(arg))
      return fail("initializer arguments must be finite");
  if (n < 0)
    return fail("negative element count");

  switch (kind) {
  case InitKind::Zeros:
  case InitKind::Ones:
  case InitKind::Constant: {
    float value = kind == InitKind::Zeros  ? 0.0f
                  : kind == InitKind::Ones ? 1.0f
                                           : static_cast<float>(args[0]);
    for (int64_t i = 0; i < n; ++i)
      out[i] = value;
    return llvm::Error::success();
  }
  case InitKind::Uniform: {
    double low = args[0], high = args[1];
    if (!(low < high))
      return fail("uniform needs low < high");
    SplitMix64 rng = SplitMix64::forParameter(seed, name);
    for (int64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(low + (high - low) * rng.nextUniform());
    return llvm::Error::success();
  }
  case InitKind::Normal: {
    double mean = args[0], std = args[1];
    if (!(std > 0))
      return fail("normal needs std > 0");
    SplitMix64 rng = SplitMix64::forParameter(seed, name);
    const double twoPi = 6.283185307179586476925286766559;
    // Box-Muller: each pair of uniforms gives two normals; an odd count
    // drops the sine half of the last pair.
    for (int64_t i = 0; i < n; i += 2) {
      double u1 = 1.0 - rng.nextUniform(); // (0, 1]: log stays finite
      double u2 = rng.nextUniform();
      double r = std::sqrt(-2.0 * std::log(u1));
      out[i] = static_cast<float>(mean + std * r * std::cos(twoPi * u2));
      if (i + 1 < n)
        out[i + 1] = static_cast<float>(mean + std * r * std::sin(twoPi * u2));
    }
    return llvm::Error::success();
  }
  }
  return fail("unknown initializer");
}
