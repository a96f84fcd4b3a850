//===- Attention.cpp - Naive attention, forward and backward -------------===//
//
// One (batch, query head, query position) row at a time: scores, softmax,
// weighted sum. The backward pass recomputes the row's probabilities.
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace strata::cpu;

namespace {
/// Pointers to the rows one (batch, query head) pair reads.
struct HeadView {
  int64_t qOffset, kOffset, vOffset, oOffset;
};

HeadView headView(const AttentionShape &s, int64_t b, int64_t h) {
  int64_t kvh = h / (s.qHeads / s.kvHeads);
  int64_t qh = b * s.qHeads + h, kh = b * s.kvHeads + kvh;
  return {qh * s.qLen * s.headDim, kh * s.kvLen * s.headDim,
          kh * s.kvLen * s.valueDim, qh * s.qLen * s.valueDim};
}

/// Number of keys query t sees: all of them, or s <= t + (S - T) when causal.
int64_t visibleKeys(const AttentionShape &s, int64_t t) {
  if (!s.causal)
    return s.kvLen;
  return std::clamp<int64_t>(t + (s.kvLen - s.qLen) + 1, 0, s.kvLen);
}

/// probs[0..visible) = softmax(scale * q[t] · k[s]) for one query row.
void rowProbabilities(std::vector<double> &probs, const float *q,
                      const float *k, const AttentionShape &s,
                      int64_t visible) {
  double maxScore = -INFINITY;
  for (int64_t j = 0; j < visible; ++j) {
    double dot = 0.0;
    for (int64_t d = 0; d < s.headDim; ++d)
      dot += double(q[d]) * k[j * s.headDim + d];
    probs[j] = s.scale * dot;
    maxScore = std::max(maxScore, probs[j]);
  }
  double sum = 0.0;
  for (int64_t j = 0; j < visible; ++j)
    sum += probs[j] = std::exp(probs[j] - maxScore);
  for (int64_t j = 0; j < visible; ++j)
    probs[j] /= sum;
}
} // namespace

void strata::cpu::attentionForward(float *out, const float *q, const float *k,
                                   const float *v, const AttentionShape &s) {
  std::vector<double> probs(s.kvLen), acc(s.valueDim);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.qHeads; ++h) {
      HeadView hv = headView(s, b, h);
      for (int64_t t = 0; t < s.qLen; ++t) {
        int64_t visible = visibleKeys(s, t);
        rowProbabilities(probs, q + hv.qOffset + t * s.headDim, k + hv.kOffset,
                         s, visible);
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < visible; ++j)
          for (int64_t d = 0; d < s.valueDim; ++d)
            acc[d] += probs[j] * v[hv.vOffset + j * s.valueDim + d];
        for (int64_t d = 0; d < s.valueDim; ++d)
          out[hv.oOffset + t * s.valueDim + d] = float(acc[d]);
      }
    }
  }
}

// With P = softmax(scale * q kᵀ) and O = P v:
//   dv[s] += P[t,s] dO[t]           dP[t,s] = dO[t] · v[s]
//   dS[t,s] = P[t,s] (dP[t,s] - sum_s' P[t,s'] dP[t,s'])
//   dq[t] += scale dS[t,s] k[s]     dk[s] += scale dS[t,s] q[t]
void strata::cpu::attentionBackward(float *dq, float *dk, float *dv,
                                    const float *dout, const float *q,
                                    const float *k, const float *v,
                                    const AttentionShape &s) {
  int64_t kvRows = s.batch * s.kvHeads * s.kvLen;
  std::vector<double> dkAcc(kvRows * s.headDim, 0.0),
      dvAcc(kvRows * s.valueDim, 0.0);
  std::vector<double> probs(s.kvLen), dprobs(s.kvLen), dqRow(s.headDim);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.qHeads; ++h) {
      HeadView hv = headView(s, b, h);
      for (int64_t t = 0; t < s.qLen; ++t) {
        const float *qRow = q + hv.qOffset + t * s.headDim;
        const float *doRow = dout + hv.oOffset + t * s.valueDim;
        int64_t visible = visibleKeys(s, t);
        rowProbabilities(probs, qRow, k + hv.kOffset, s, visible);
        double dot = 0.0;
        for (int64_t j = 0; j < visible; ++j) {
          double dp = 0.0;
          for (int64_t d = 0; d < s.valueDim; ++d) {
            dp += double(doRow[d]) * v[hv.vOffset + j * s.valueDim + d];
            dvAcc[hv.vOffset + j * s.valueDim + d] += probs[j] * doRow[d];
          }
          dprobs[j] = dp;
          dot += probs[j] * dp;
        }
        std::fill(dqRow.begin(), dqRow.end(), 0.0);
        for (int64_t j = 0; j < visible; ++j) {
          double dscore = s.scale * probs[j] * (dprobs[j] - dot);
          for (int64_t d = 0; d < s.headDim; ++d) {
            dqRow[d] += dscore * k[hv.kOffset + j * s.headDim + d];
            dkAcc[hv.kOffset + j * s.headDim + d] += dscore * qRow[d];
          }
        }
        for (int64_t d = 0; d < s.headDim; ++d)
          dq[hv.qOffset + t * s.headDim + d] = float(dqRow[d]);
      }
    }
  }
  std::copy(dkAcc.begin(), dkAcc.end(), dk);
  std::copy(dvAcc.begin(), dvAcc.end(), dv);
}
