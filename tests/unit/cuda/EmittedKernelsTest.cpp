//===- EmittedKernelsTest.cpp - Compiler-emitted kernels vs the CPU -------===//
//
// Every fused "elementwise" kernel of real plans (compiled by strata-compile,
// which emitted their CUDA C++ and compiled it with NVRTC into Plan.cuda) is
// run on the GPU through the plan's cubin and compared with its body run
// kernel by kernel by the CPU dispatch, on random inputs with poisoned
// outputs. The plans are the files in STRATA_EMITTED_TEST_PLANS (a
// colon-separated list; scripts/run-device-tests.sh sets it on a GPU
// machine), else those the build compiled (STRATA_TEST_PLANS).
//
//===----------------------------------------------------------------------===//

#include "CudaTestUtil.h"

#include "strata/Exec/CpuKernels.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>
#include <random>
#include <string>
#include <vector>

#ifndef STRATA_TEST_PLANS
#define STRATA_TEST_PLANS ""
#endif

using namespace strata;
using namespace strata::cudatest;

namespace {

std::vector<std::string> testPlans() {
  const char *env = std::getenv("STRATA_EMITTED_TEST_PLANS");
  llvm::StringRef list = env ? env : STRATA_TEST_PLANS;
  llvm::SmallVector<llvm::StringRef, 8> paths;
  list.split(paths, ':', -1, /*KeepEmpty=*/false);
  std::vector<std::string> existing;
  for (llvm::StringRef path : paths)
    if (llvm::sys::fs::exists(path))
      existing.push_back(path.str());
  return existing;
}

int64_t numElements(const plan::Buffer &buffer) {
  int64_t n = 1;
  for (int64_t dim : buffer.shape())
    n *= dim;
  return n;
}

/// The values of a buffer's bytes as floats.
std::vector<float> toFloats(const plan::Buffer &buffer,
                            const std::vector<uint8_t> &bytes) {
  std::vector<float> values(numElements(buffer));
  for (size_t i = 0; i < values.size(); ++i) {
    if (buffer.dtype() == plan::BF16) {
      uint16_t bits;
      std::memcpy(&bits, bytes.data() + 2 * i, 2);
      values[i] = fromBf16Bits(bits);
    } else {
      std::memcpy(&values[i], bytes.data() + 4 * i, 4);
    }
  }
  return values;
}

/// Runs one emitted kernel and its body; returns the number of outputs
/// compared.
int checkKernel(const plan::Plan &plan, const plan::Kernel &fused,
                cudaLibrary_t library, std::mt19937 &rng,
                const std::string &where) {
  // Host bytes of every buffer the group touches, by id.
  llvm::DenseMap<int, std::vector<uint8_t>> host;
  std::normal_distribution<float> normal(0.f, 1.f);
  auto bytesOf = [&](int id) -> std::vector<uint8_t> & {
    auto [it, inserted] = host.try_emplace(id);
    if (inserted)
      it->second.assign(plan.buffers(id).size_bytes(), 0xFF); // NaN poison
    return it->second;
  };
  for (int id : fused.inputs()) {
    const plan::Buffer &buffer = plan.buffers(id);
    std::vector<uint8_t> &bytes = bytesOf(id);
    for (int64_t i = 0; i < numElements(buffer); ++i) {
      float value = normal(rng);
      if (buffer.dtype() == plan::BF16) {
        uint16_t bits = toBf16Bits(value);
        std::memcpy(bytes.data() + 2 * i, &bits, 2);
      } else if (buffer.dtype() == plan::F32) {
        std::memcpy(bytes.data() + 4 * i, &value, 4);
      } else {
        ADD_FAILURE() << where << ": input dtype "
                      << runtime::planDTypeName(buffer.dtype());
        return 0;
      }
    }
  }
  for (int id : fused.outputs())
    bytesOf(id);
  for (int id : fused.locals())
    bytesOf(id);

  // The GPU: the emitted function on copies of the inputs.
  llvm::DenseMap<int, void *> device;
  for (auto &[id, bytes] : host) {
    void *pointer = nullptr;
    EXPECT_EQ(cudaMalloc(&pointer, bytes.size()), cudaSuccess);
    EXPECT_EQ(
        cudaMemcpy(pointer, bytes.data(), bytes.size(), cudaMemcpyHostToDevice),
        cudaSuccess);
    device[id] = pointer;
  }
  const std::string &function = fused.attrs().at("function").s();
  cudaKernel_t kernel = nullptr;
  EXPECT_EQ(cudaLibraryGetKernel(&kernel, library, function.c_str()),
            cudaSuccess)
      << where << ": " << function;
  long long n = fused.attrs().at("elements").i();
  std::vector<void *> pointers;
  for (int id : fused.inputs())
    pointers.push_back(device[id]);
  for (int id : fused.outputs())
    pointers.push_back(device[id]);
  std::vector<void *> args;
  for (void *&pointer : pointers)
    args.push_back(&pointer);
  args.push_back(&n);
  unsigned blocks = unsigned(std::min<long long>((n + 255) / 256, 132 * 16));
  EXPECT_EQ(cudaLaunchKernel(reinterpret_cast<const void *>(kernel),
                             dim3(std::max(1u, blocks)), dim3(256), args.data(),
                             0, nullptr),
            cudaSuccess)
      << where;
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess) << where;
  llvm::DenseMap<int, std::vector<uint8_t>> fromGpu;
  for (int id : fused.outputs()) {
    std::vector<uint8_t> &bytes = fromGpu[id];
    bytes.resize(plan.buffers(id).size_bytes());
    EXPECT_EQ(cudaMemcpy(bytes.data(), device[id], bytes.size(),
                         cudaMemcpyDeviceToHost),
              cudaSuccess);
  }
  for (auto &[id, pointer] : device)
    cudaFree(pointer);

  // The CPU: the body, kernel by kernel.
  for (const plan::Kernel &inner : fused.body()) {
    std::vector<exec::BufferView> in, out;
    auto view = [&](int id) {
      const plan::Buffer &buffer = plan.buffers(id);
      return exec::BufferView{
          bytesOf(id).data(), buffer.dtype(),
          llvm::ArrayRef<int64_t>(buffer.shape().data(),
                                  size_t(buffer.shape_size()))};
    };
    for (int id : inner.inputs())
      in.push_back(view(id));
    for (int id : inner.outputs())
      out.push_back(view(id));
    llvm::Error err = exec::runCpuKernel(inner, in, out, 1);
    EXPECT_FALSE(bool(err)) << where << ": " << llvm::toString(std::move(err));
  }

  int compared = 0;
  for (int id : fused.outputs()) {
    const plan::Buffer &buffer = plan.buffers(id);
    std::vector<float> got = toFloats(buffer, fromGpu[id]);
    std::vector<float> want = toFloats(buffer, host[id]);
    double error = relativeError(got, want);
    // f32 arithmetic in another order; bf16 outputs may round the other way
    // by one ulp.
    double tolerance = buffer.dtype() == plan::BF16 ? 1e-2 : 1e-5;
    EXPECT_LE(error, tolerance)
        << where << " (" << function << "), output '" << buffer.name() << "' "
        << runtime::planShapeString(std::vector<int64_t>(buffer.shape().begin(),
                                                         buffer.shape().end()));
    ++compared;
  }
  return compared;
}

TEST(EmittedKernels, MatchTheirBodiesOnTheCpu) {
  SKIP_WITHOUT_GPU();
  std::vector<std::string> plans = testPlans();
  if (plans.empty())
    GTEST_SKIP() << "no plans: set STRATA_EMITTED_TEST_PLANS";
  std::mt19937 rng(2026);
  int kernels = 0, outputs = 0;
  for (const std::string &path : plans) {
    llvm::Expected<plan::Plan> plan = runtime::readPlanFile(path);
    ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
    if (plan->cuda().cubin().empty())
      continue;
    cudaLibrary_t library = nullptr;
    ASSERT_CUDA(cudaLibraryLoadData(&library, plan->cuda().cubin().data(),
                                    nullptr, nullptr, 0, nullptr, nullptr, 0));
    for (const plan::Program *program :
         {&plan->grad(), &plan->apply(), &plan->forward()})
      for (int k = 0; k < program->kernels_size(); ++k) {
        const plan::Kernel &kernel = program->kernels(k);
        if (kernel.op() != "fused" || !kernel.attrs().count("kind") ||
            kernel.attrs().at("kind").s() != "elementwise")
          continue;
        std::string where = path + ", " + program->name() + " kernel " +
                            std::to_string(k) + " (" + kernel.location() + ")";
        outputs += checkKernel(*plan, kernel, library, rng, where);
        ++kernels;
      }
    cudaLibraryUnload(library);
  }
  EXPECT_GT(kernels, 0) << "the plans have no emitted kernels";
  std::printf("checked %d emitted kernels (%d outputs) of %zu plans\n", kernels,
              outputs, plans.size());
}

} // namespace
