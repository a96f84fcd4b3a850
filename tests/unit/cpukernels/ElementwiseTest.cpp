//===- ElementwiseTest.cpp - broadcast binary and unary ops ---------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

namespace {
const BinaryKind kBinaryKinds[] = {
    BinaryKind::Add,     BinaryKind::Sub,     BinaryKind::Mul, BinaryKind::Div,
    BinaryKind::Maximum, BinaryKind::Minimum, BinaryKind::Pow};

double naiveBinary(BinaryKind kind, double a, double b) {
  switch (kind) {
  case BinaryKind::Add:
    return a + b;
  case BinaryKind::Sub:
    return a - b;
  case BinaryKind::Mul:
    return a * b;
  case BinaryKind::Div:
    return a / b;
  case BinaryKind::Maximum:
    return std::max(a, b);
  case BinaryKind::Minimum:
    return std::min(a, b);
  case BinaryKind::Pow:
    return std::pow(a, b);
  }
  return 0.0;
}

int64_t count(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

Shape view(const std::vector<int64_t> &dims) {
  return Shape{dims.data(), int(dims.size())};
}

struct BroadcastCase {
  std::vector<int64_t> a, b, out;
};
} // namespace

TEST(BinaryTest, ForwardBroadcastsLikeNumPy) {
  // [3,1,5] ⊗ [4,1] -> [3,4,5]: out[i,j,l] = f(a[i,0,l], b[j,0]).
  std::mt19937 rng(21);
  std::vector<int64_t> aDims = {3, 1, 5}, bDims = {4, 1}, outDims = {3, 4, 5};
  auto a = randomVector(rng, 15, 0.5f, 1.5f),
       b = randomVector(rng, 4, 0.5f, 1.5f);
  for (BinaryKind kind : kBinaryKinds) {
    auto out = poisoned(60);
    binaryForward(kind, a.data(), view(aDims), b.data(), view(bDims),
                  out.data(), view(outDims));
    std::vector<double> want(60);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 5; ++l)
          want[(i * 4 + j) * 5 + l] = naiveBinary(kind, a[i * 5 + l], b[j]);
    expectAllClose(out, want, 1e-6, 1e-6, "binary forward");
  }
}

TEST(BinaryTest, BackwardMatchesFiniteDifferences) {
  std::vector<BroadcastCase> cases = {{{3, 1, 5}, {4, 1}, {3, 4, 5}},
                                      {{2, 3}, {}, {2, 3}},
                                      {{}, {2, 3}, {2, 3}},
                                      {{2, 3}, {2, 3}, {2, 3}}};
  for (BinaryKind kind : kBinaryKinds) {
    for (const BroadcastCase &c : cases) {
      std::mt19937 rng(22);
      int64_t na = count(c.a), nb = count(c.b), no = count(c.out);
      auto a = randomVector(rng, na, 0.5f, 1.5f);
      auto b = randomVector(rng, nb, 0.5f, 1.5f);
      auto r = randomVector(rng, no);
      auto loss = [&] {
        std::vector<float> o(no);
        binaryForward(kind, a.data(), view(c.a), b.data(), view(c.b), o.data(),
                      view(c.out));
        return dotLoss(o, r);
      };
      auto da = poisoned(na), db = poisoned(nb);
      binaryBackward(kind, a.data(), view(c.a), b.data(), view(c.b), r.data(),
                     view(c.out), da.data(), db.data());
      expectAllClose(da, numericGradient(a, loss, 1e-3f), 2e-3, 1e-2, "da");
      expectAllClose(db, numericGradient(b, loss, 1e-3f), 2e-3, 1e-2, "db");
      // Either gradient may be skipped.
      auto daOnly = poisoned(na);
      binaryBackward(kind, a.data(), view(c.a), b.data(), view(c.b), r.data(),
                     view(c.out), daOnly.data(), nullptr);
      expectAllClose(daOnly, da, 0, 0, "da alone");
    }
  }
}

TEST(UnaryTest, ForwardAndBackward) {
  struct Case {
    UnaryKind kind;
    float lo, hi;
    double (*naive)(double);
  };
  Case cases[] = {
      {UnaryKind::Neg, -2, 2, [](double x) { return -x; }},
      {UnaryKind::Exp, -2, 2, [](double x) { return std::exp(x); }},
      {UnaryKind::Log, 0.5, 2, [](double x) { return std::log(x); }},
      {UnaryKind::Sqrt, 0.5, 2, [](double x) { return std::sqrt(x); }},
      {UnaryKind::Rsqrt, 0.5, 2, [](double x) { return 1 / std::sqrt(x); }},
      {UnaryKind::Tanh, -2, 2, [](double x) { return std::tanh(x); }},
      {UnaryKind::Sigmoid, -4, 4,
       [](double x) { return 1 / (1 + std::exp(-x)); }},
      {UnaryKind::Relu, -2, 2, [](double x) { return x > 0 ? x : 0.0; }},
      {UnaryKind::Abs, -2, 2, [](double x) { return std::fabs(x); }},
  };
  for (const Case &c : cases) {
    std::mt19937 rng(23);
    int64_t n = 17;
    auto x = randomVector(rng, n, c.lo, c.hi), r = randomVector(rng, n);
    auto y = poisoned(n);
    unaryForward(c.kind, x.data(), y.data(), n);
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i)
      want[i] = c.naive(x[i]);
    expectAllClose(y, want, 1e-6, 1e-6, "unary forward");
    auto loss = [&] {
      std::vector<float> o(n);
      unaryForward(c.kind, x.data(), o.data(), n);
      return dotLoss(o, r);
    };
    auto dx = poisoned(n);
    unaryBackward(c.kind, x.data(), y.data(), r.data(), dx.data(), n);
    expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-3, 1e-2, "dx");
  }
}
