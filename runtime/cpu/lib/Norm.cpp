//===- Norm.cpp - layer_norm and rms_norm, forward and backward ----------===//
//
// Row statistics are accumulated in double; the backward formulas follow
// llm.c's layernorm_backward.
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <cmath>

using namespace strata::cpu;

void strata::cpu::layerNormForward(float *out, float *mean, float *rstd,
                                   const float *x, const float *weight,
                                   const float *bias, int64_t rows, int64_t dim,
                                   float epsilon) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * dim;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      sum += xr[i];
    double mu = sum / dim;
    double var = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      var += (xr[i] - mu) * (xr[i] - mu);
    var /= dim;
    double s = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < dim; ++i)
      out[r * dim + i] = float((xr[i] - mu) * s * weight[i] + bias[i]);
    mean[r] = float(mu);
    rstd[r] = float(s);
  }
}

void strata::cpu::layerNormBackward(float *dx, float *dweight, float *dbias,
                                    const float *dout, const float *x,
                                    const float *weight, const float *mean,
                                    const float *rstd, int64_t rows,
                                    int64_t dim) {
  std::fill(dweight, dweight + dim, 0.0f);
  std::fill(dbias, dbias + dim, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * dim, *dyr = dout + r * dim;
    // dnorm = dy * w; dx = rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm *
    // xhat)).
    double dnormMean = 0.0, dnormXhatMean = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      double xhat = (xr[i] - mean[r]) * rstd[r];
      double dnorm = double(dyr[i]) * weight[i];
      dnormMean += dnorm;
      dnormXhatMean += dnorm * xhat;
    }
    dnormMean /= dim;
    dnormXhatMean /= dim;
    for (int64_t i = 0; i < dim; ++i) {
      double xhat = (xr[i] - mean[r]) * rstd[r];
      double dnorm = double(dyr[i]) * weight[i];
      dx[r * dim + i] =
          float(rstd[r] * (dnorm - dnormMean - xhat * dnormXhatMean));
      dweight[i] += float(dyr[i] * xhat);
      dbias[i] += dyr[i];
    }
  }
}

void strata::cpu::rmsNormForward(float *out, float *rstd, const float *x,
                                 const float *weight, int64_t rows, int64_t dim,
                                 float epsilon) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * dim;
    double sumSq = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      sumSq += double(xr[i]) * xr[i];
    double s = 1.0 / std::sqrt(sumSq / dim + epsilon);
    for (int64_t i = 0; i < dim; ++i)
      out[r * dim + i] = float(xr[i] * s * weight[i]);
    rstd[r] = float(s);
  }
}

void strata::cpu::rmsNormBackward(float *dx, float *dweight, const float *dout,
                                  const float *x, const float *weight,
                                  const float *rstd, int64_t rows,
                                  int64_t dim) {
  std::fill(dweight, dweight + dim, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * dim, *dyr = dout + r * dim;
    // dnorm = dy * w; dx = rstd * (dnorm - xhat * mean(dnorm * xhat)).
    double dnormXhatMean = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      dnormXhatMean += double(dyr[i]) * weight[i] * xr[i] * rstd[r];
    dnormXhatMean /= dim;
    for (int64_t i = 0; i < dim; ++i) {
      double xhat = double(xr[i]) * rstd[r];
      double dnorm = double(dyr[i]) * weight[i];
      dx[r * dim + i] = float(rstd[r] * (dnorm - xhat * dnormXhatMean));
      dweight[i] += float(dyr[i] * xhat);
    }
  }
}
