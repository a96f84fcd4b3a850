//===- Elementwise.cpp - broadcast binary and unary ops -------------------===//

#include "ShapeUtil.h"
#include "strata/Cpu/Kernels.h"

#include <cmath>
#include <vector>

using namespace strata::cpu;
using namespace strata::cpu::detail;

namespace {
double applyBinary(BinaryKind kind, double a, double b) {
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
    return a >= b ? a : b;
  case BinaryKind::Minimum:
    return a <= b ? a : b;
  case BinaryKind::Pow:
    return std::pow(a, b);
  }
  return 0.0;
}

/// The partial derivatives (∂out/∂a, ∂out/∂b) at one element. Pow's ∂/∂b is
/// taken as 0 where a <= 0 (log a is undefined there).
void binaryPartials(BinaryKind kind, double a, double b, double &da,
                    double &db) {
  switch (kind) {
  case BinaryKind::Add:
    da = 1.0, db = 1.0;
    return;
  case BinaryKind::Sub:
    da = 1.0, db = -1.0;
    return;
  case BinaryKind::Mul:
    da = b, db = a;
    return;
  case BinaryKind::Div:
    da = 1.0 / b, db = -a / (b * b);
    return;
  case BinaryKind::Maximum:
    da = a >= b ? 1.0 : 0.0, db = 1.0 - da;
    return;
  case BinaryKind::Minimum:
    da = a <= b ? 1.0 : 0.0, db = 1.0 - da;
    return;
  case BinaryKind::Pow:
    da = b * std::pow(a, b - 1.0);
    db = a > 0.0 ? std::pow(a, b) * std::log(a) : 0.0;
    return;
  }
}
} // namespace

void strata::cpu::binaryForward(BinaryKind kind, const float *a, Shape aShape,
                                const float *b, Shape bShape, float *out,
                                Shape outShape) {
  std::vector<int64_t> aStrides = broadcastStrides(aShape, outShape.rank);
  std::vector<int64_t> bStrides = broadcastStrides(bShape, outShape.rank);
  int64_t n = outShape.numElements();
  for (int64_t i = 0; i < n; ++i)
    out[i] = float(applyBinary(kind, a[offsetOf(i, outShape, aStrides.data())],
                               b[offsetOf(i, outShape, bStrides.data())]));
}

void strata::cpu::binaryBackward(BinaryKind kind, const float *a, Shape aShape,
                                 const float *b, Shape bShape,
                                 const float *dout, Shape outShape, float *da,
                                 float *db) {
  std::vector<int64_t> aStrides = broadcastStrides(aShape, outShape.rank);
  std::vector<int64_t> bStrides = broadcastStrides(bShape, outShape.rank);
  std::vector<double> daSum(aShape.numElements()), dbSum(bShape.numElements());
  int64_t n = outShape.numElements();
  for (int64_t i = 0; i < n; ++i) {
    int64_t ai = offsetOf(i, outShape, aStrides.data());
    int64_t bi = offsetOf(i, outShape, bStrides.data());
    double pa, pb;
    binaryPartials(kind, a[ai], b[bi], pa, pb);
    daSum[ai] += dout[i] * pa;
    dbSum[bi] += dout[i] * pb;
  }
  if (da)
    for (size_t i = 0; i < daSum.size(); ++i)
      da[i] = float(daSum[i]);
  if (db)
    for (size_t i = 0; i < dbSum.size(); ++i)
      db[i] = float(dbSum[i]);
}

void strata::cpu::unaryForward(UnaryKind kind, const float *x, float *y,
                               int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i], r = 0.0;
    switch (kind) {
    case UnaryKind::Neg:
      r = -v;
      break;
    case UnaryKind::Exp:
      r = std::exp(v);
      break;
    case UnaryKind::Log:
      r = std::log(v);
      break;
    case UnaryKind::Sqrt:
      r = std::sqrt(v);
      break;
    case UnaryKind::Rsqrt:
      r = 1.0 / std::sqrt(v);
      break;
    case UnaryKind::Tanh:
      r = std::tanh(v);
      break;
    case UnaryKind::Sigmoid:
      r = 1.0 / (1.0 + std::exp(-v));
      break;
    case UnaryKind::Relu:
      r = v > 0.0 ? v : 0.0;
      break;
    case UnaryKind::Abs:
      r = std::fabs(v);
      break;
    }
    y[i] = float(r);
  }
}

void strata::cpu::unaryBackward(UnaryKind kind, const float *x, const float *y,
                                const float *dy, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i], out = y[i], g = dy[i], r = 0.0;
    switch (kind) {
    case UnaryKind::Neg:
      r = -g;
      break;
    case UnaryKind::Exp:
      r = g * out;
      break;
    case UnaryKind::Log:
      r = g / v;
      break;
    case UnaryKind::Sqrt:
      r = g * 0.5 / out;
      break;
    case UnaryKind::Rsqrt:
      r = g * -0.5 * out * out * out;
      break;
    case UnaryKind::Tanh:
      r = g * (1.0 - out * out);
      break;
    case UnaryKind::Sigmoid:
      r = g * out * (1.0 - out);
      break;
    case UnaryKind::Relu:
      r = v > 0.0 ? g : 0.0;
      break;
    case UnaryKind::Abs:
      r = v > 0.0 ? g : (v < 0.0 ? -g : 0.0);
      break;
    }
    dx[i] = float(r);
  }
}
