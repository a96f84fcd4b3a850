//===- AttentionTest.cpp - Attention with causal mask and GQA -------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

namespace {
/// The definition, written independently of the kernel: masked scores are
/// -inf before an ordinary softmax.
std::vector<double> naiveAttention(const std::vector<float> &q,
                                   const std::vector<float> &k,
                                   const std::vector<float> &v,
                                   const AttentionShape &s) {
  int64_t group = s.qHeads / s.kvHeads;
  std::vector<double> out(s.batch * s.qHeads * s.qLen * s.valueDim, 0.0);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t t = 0; t < s.qLen; ++t) {
        std::vector<double> score(s.kvLen);
        double maxScore = -INFINITY;
        for (int64_t j = 0; j < s.kvLen; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < s.headDim; ++d)
            dot +=
                double(q[((b * s.qHeads + h) * s.qLen + t) * s.headDim + d]) *
                k[((b * s.kvHeads + h / group) * s.kvLen + j) * s.headDim + d];
          bool masked = s.causal && j > t + (s.kvLen - s.qLen);
          score[j] = masked ? -INFINITY : s.scale * dot;
          maxScore = std::max(maxScore, score[j]);
        }
        double sum = 0;
        for (double &x : score)
          sum += x = std::exp(x - maxScore);
        for (int64_t j = 0; j < s.kvLen; ++j)
          for (int64_t d = 0; d < s.valueDim; ++d)
            out[((b * s.qHeads + h) * s.qLen + t) * s.valueDim + d] +=
                score[j] / sum *
                v[((b * s.kvHeads + h / group) * s.kvLen + j) * s.valueDim + d];
      }
  return out;
}

struct Case {
  const char *name;
  AttentionShape shape;
};

class AttentionTest : public ::testing::TestWithParam<Case> {};
} // namespace

TEST_P(AttentionTest, ForwardAndBackward) {
  const AttentionShape &s = GetParam().shape;
  std::mt19937 rng(10);
  auto q = randomVector(rng, s.batch * s.qHeads * s.qLen * s.headDim);
  auto k = randomVector(rng, s.batch * s.kvHeads * s.kvLen * s.headDim);
  auto v = randomVector(rng, s.batch * s.kvHeads * s.kvLen * s.valueDim);
  auto r = randomVector(rng, s.batch * s.qHeads * s.qLen * s.valueDim);

  auto out = poisoned(r.size());
  attentionForward(out.data(), q.data(), k.data(), v.data(), s);
  expectAllClose(out, naiveAttention(q, k, v, s), 1e-5, 1e-5, "out");

  auto loss = [&] {
    std::vector<float> o(r.size());
    attentionForward(o.data(), q.data(), k.data(), v.data(), s);
    return dotLoss(o, r);
  };
  auto dq = poisoned(q.size()), dk = poisoned(k.size()),
       dv = poisoned(v.size());
  attentionBackward(dq.data(), dk.data(), dv.data(), r.data(), q.data(),
                    k.data(), v.data(), s);
  expectAllClose(dq, numericGradient(q, loss, 1e-2f), 1e-3, 1e-2, "dq");
  expectAllClose(dk, numericGradient(k, loss, 1e-2f), 1e-3, 1e-2, "dk");
  expectAllClose(dv, numericGradient(v, loss, 1e-2f), 1e-3, 1e-2, "dv");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    ::testing::Values(
        // batch, qHeads, kvHeads, T, S, Dh, Dv, causal, scale
        Case{"Full", {2, 2, 2, 3, 5, 4, 3, false, 0.5f}},
        Case{"Causal", {1, 2, 2, 5, 5, 4, 4, true, 0.5f}},
        Case{"CausalKvLonger", {1, 1, 1, 3, 6, 3, 2, true, 0.7f}},
        Case{"Gqa", {2, 6, 2, 3, 4, 3, 5, false, 0.6f}},
        Case{"GqaCausal", {1, 4, 1, 4, 4, 5, 3, true, 0.45f}}),
    [](const ::testing::TestParamInfo<Case> &info) {
      return std::string(info.param.name);
    });
