//===- KernelTestUtil.h - Host and device tensors for kernel tests -*- C++
//-*-===//
//
// What the GPU kernel tests share: host tensors with random contents, plan
// kernels and attributes built in a line, device tensors that start poisoned,
// the CPU dispatch as the reference, and the relative error between the two.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TESTS_UNIT_CUDA_KERNELTESTUTIL_H
#define STRATA_TESTS_UNIT_CUDA_KERNELTESTUTIL_H

#include "CudaTestUtil.h"

#include "strata/Exec/CpuKernels.h"

#include "llvm/Support/Error.h"
#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cuda_runtime.h>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace strata::cudatest {

constexpr plan::DType F32 = plan::F32, BF16 = plan::BF16, I32 = plan::I32;

/// A host tensor: `values` for F32/BF16 (BF16 ones representable in bf16),
/// `ints` for I32.
struct Tensor {
  plan::DType dtype = F32;
  std::vector<int64_t> shape;
  std::vector<float> values;
  std::vector<int32_t> ints;

  int64_t count() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

/// What an output is: its dtype and shape.
struct Spec {
  plan::DType dtype;
  std::vector<int64_t> shape;
};

/// Normal(0, scale) values (|x| + offset when `positive`), in `dtype`.
inline Tensor random(std::mt19937 &rng, plan::DType dtype,
                     std::vector<int64_t> shape, bool positive = false,
                     float scale = 1.0f) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  std::normal_distribution<float> dist(0.f, scale);
  int64_t n = t.count();
  if (dtype == I32) {
    std::uniform_int_distribution<int32_t> ints(-1000, 1000);
    for (int64_t i = 0; i < n; ++i)
      t.ints.push_back(ints(rng));
    return t;
  }
  for (int64_t i = 0; i < n; ++i) {
    float v = dist(rng);
    if (positive)
      v = std::fabs(v) + 0.1f;
    t.values.push_back(dtype == BF16 ? roundToBf16(v) : v);
  }
  return t;
}

/// I32 values in [0, bound).
inline Tensor indices(std::mt19937 &rng, std::vector<int64_t> shape,
                      int64_t bound) {
  Tensor t;
  t.dtype = I32;
  t.shape = std::move(shape);
  std::uniform_int_distribution<int32_t> dist(0, int32_t(bound - 1));
  for (int64_t i = 0; i < t.count(); ++i)
    t.ints.push_back(dist(rng));
  return t;
}

inline plan::Attribute intAttr(int64_t v) {
  plan::Attribute a;
  a.set_i(v);
  return a;
}
inline plan::Attribute floatAttr(double v) {
  plan::Attribute a;
  a.set_f(v);
  return a;
}
inline plan::Attribute stringAttr(const std::string &v) {
  plan::Attribute a;
  a.set_s(v);
  return a;
}
inline plan::Attribute unitAttr() {
  plan::Attribute a;
  a.set_b(true);
  return a;
}
inline plan::Attribute intsAttr(const std::vector<int64_t> &v) {
  plan::Attribute a;
  for (int64_t x : v)
    a.mutable_ints()->add_values(x);
  return a;
}

using Attrs = std::map<std::string, plan::Attribute>;

/// A kernel whose buffer ids are `firstId`.. for the inputs, then the
/// outputs.
inline plan::Kernel makeKernel(const std::string &op, int numInputs,
                               int numOutputs, const Attrs &attrs = {},
                               int firstId = 0) {
  plan::Kernel k;
  k.set_op(op);
  k.set_location("test.sg:1:1");
  for (int i = 0; i < numInputs; ++i)
    k.add_inputs(firstId + i);
  for (int i = 0; i < numOutputs; ++i)
    k.add_outputs(firstId + numInputs + i);
  for (const auto &[name, attr] : attrs)
    (*k.mutable_attrs())[name] = attr;
  return k;
}

inline std::string errorText(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

inline std::string dtypeName(plan::DType d) {
  return d == F32 ? "f32" : d == BF16 ? "bf16" : "i32";
}

inline size_t bytesOf(plan::DType dtype) { return dtype == BF16 ? 2 : 4; }

/// Device memory of one tensor; it starts poisoned (all bits set: NaN in f32
/// and bf16, -1 in i32). `offset` bytes past the start of its allocation:
/// a buffer that is not 16-byte aligned, as a view into a larger one can be.
class DeviceTensor {
public:
  DeviceTensor(plan::DType dtype, std::vector<int64_t> shape, size_t offset = 0)
      : dtype(dtype), shape(std::move(shape)) {
    count = 1;
    for (int64_t d : this->shape)
      count *= d;
    if (cudaMalloc(&allocation,
                   offset + std::max<size_t>(16, count * bytesOf(dtype))) ==
        cudaSuccess) {
      ptr = static_cast<char *>(allocation) + offset;
      cudaMemset(ptr, 0xff, count * bytesOf(dtype));
    }
  }
  ~DeviceTensor() { cudaFree(allocation); }
  DeviceTensor(const DeviceTensor &) = delete;
  DeviceTensor &operator=(const DeviceTensor &) = delete;

  void upload(const Tensor &t) {
    ASSERT_EQ(t.count(), count);
    if (dtype == I32) {
      ASSERT_CUDA(
          cudaMemcpy(ptr, t.ints.data(), count * 4, cudaMemcpyHostToDevice));
    } else if (dtype == F32) {
      ASSERT_CUDA(
          cudaMemcpy(ptr, t.values.data(), count * 4, cudaMemcpyHostToDevice));
    } else {
      std::vector<uint16_t> bits(count);
      for (int64_t i = 0; i < count; ++i)
        bits[i] = toBf16Bits(t.values[i]);
      ASSERT_CUDA(
          cudaMemcpy(ptr, bits.data(), count * 2, cudaMemcpyHostToDevice));
    }
  }

  Tensor download() const {
    Tensor t;
    t.dtype = dtype;
    t.shape = shape;
    if (dtype == I32) {
      t.ints.assign(count, -1);
      if (cudaMemcpy(t.ints.data(), ptr, count * 4, cudaMemcpyDeviceToHost))
        t.ints.assign(count, -1);
      return t;
    }
    t.values.assign(count, NAN);
    if (dtype == F32) {
      if (cudaMemcpy(t.values.data(), ptr, count * 4, cudaMemcpyDeviceToHost))
        t.values.assign(count, NAN);
      return t;
    }
    std::vector<uint16_t> bits(count);
    if (cudaMemcpy(bits.data(), ptr, count * 2, cudaMemcpyDeviceToHost) ==
        cudaSuccess)
      for (int64_t i = 0; i < count; ++i)
        t.values[i] = fromBf16Bits(bits[i]);
    return t;
  }

  exec::BufferView view() const { return {ptr, dtype, shape}; }
  void *data() const { return ptr; }

private:
  plan::DType dtype;
  std::vector<int64_t> shape;
  int64_t count = 0;
  void *allocation = nullptr, *ptr = nullptr;
};

/// ‖got − want‖ / ‖want‖, exact for i32; both all-zero counts as 0.
inline double errorOf(const Tensor &got, const Tensor &want) {
  if (got.dtype == I32) {
    return got.ints == want.ints ? 0.0 : INFINITY;
  }
  double norm = 0;
  for (float v : want.values)
    norm += double(v) * v;
  if (norm == 0) {
    for (float v : got.values)
      if (v != 0)
        return INFINITY;
    return 0.0;
  }
  return relativeError(got.values, want.values);
}

/// What a kernel left: its outputs and its inputs (in-place kernels update
/// some).
struct Outcome {
  std::vector<Tensor> outputs, inputs;
};

/// The CPU dispatch on f32 (or i32) copies of the inputs.
inline Outcome runCpu(const plan::Kernel &kernel, std::vector<Tensor> inputs,
                      const std::vector<Spec> &specs) {
  std::vector<exec::BufferView> inViews, outViews;
  for (Tensor &t : inputs) {
    if (t.dtype == I32) {
      inViews.push_back({t.ints.data(), I32, t.shape});
    } else {
      t.dtype = F32;
      inViews.push_back({t.values.data(), F32, t.shape});
    }
  }
  Outcome result;
  result.outputs.resize(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Tensor &t = result.outputs[i];
    t.shape = specs[i].shape;
    t.dtype = specs[i].dtype == I32 ? I32 : F32;
    t.ints.assign(t.dtype == I32 ? t.count() : 0, 0);
    t.values.assign(t.dtype == I32 ? 0 : t.count(), 0.f);
  }
  for (Tensor &t : result.outputs)
    outViews.push_back(
        {t.dtype == I32 ? static_cast<void *>(t.ints.data()) : t.values.data(),
         t.dtype, t.shape});
  std::string err = errorText(
      exec::runCpuKernel(kernel, inViews, outViews, /*numThreads=*/1));
  EXPECT_EQ(err, "") << "the CPU reference failed";
  result.inputs = std::move(inputs);
  return result;
}

} // namespace strata::cudatest

#endif // STRATA_TESTS_UNIT_CUDA_KERNELTESTUTIL_H
