//===- Executor.cpp - Running a plan's programs on the CPU ----------------===//

#include "strata/Exec/Executor.h"

#include "strata/Exec/CpuKernels.h"
#include "strata/Exec/Trace.h"
#include "strata/Runtime/Init.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MathExtras.h"

#include <cassert>
#include <cstring>

using namespace strata;
using namespace strata::exec;
using llvm::Twine;

llvm::Expected<Region> Region::allocate(uint64_t bytes, llvm::StringRef what) {
  Region region;
  // aligned_alloc wants a size that is a multiple of the alignment; a region
  // of zero bytes still gets a valid pointer.
  uint64_t rounded = std::max<uint64_t>(kRegionAlignment,
                                        llvm::alignTo(bytes, kRegionAlignment));
  if (rounded < bytes)
    return llvm::createStringError("cannot allocate the " + what + " of " +
                                   Twine(bytes) + " bytes");
  void *memory = std::aligned_alloc(kRegionAlignment, rounded);
  if (!memory)
    return llvm::createStringError("cannot allocate the " + what + " of " +
                                   Twine(bytes) + " bytes: out of memory");
  std::memset(memory, 0, rounded);
  region.memory.reset(static_cast<uint8_t *>(memory));
  region.bytes = bytes;
  return region;
}

namespace {

runtime::InitKind runtimeInit(plan::InitKind kind) {
  switch (kind) {
  case plan::ONES:
    return runtime::InitKind::Ones;
  case plan::CONSTANT:
    return runtime::InitKind::Constant;
  case plan::NORMAL:
    return runtime::InitKind::Normal;
  case plan::UNIFORM:
    return runtime::InitKind::Uniform;
  default:
    return runtime::InitKind::Zeros;
  }
}

int64_t numElements(const plan::Buffer &buffer) {
  int64_t n = 1;
  for (int64_t dim : buffer.shape())
    n *= dim;
  return n;
}

} // namespace

llvm::Expected<std::unique_ptr<Executor>>
Executor::create(plan::Plan plan, std::string origin, ExecutorOptions options) {
  if (llvm::Error err =
          runtime::validatePlan(plan, origin, [](const plan::Kernel &kernel) {
            return checkCpuKernel(kernel, kernel.inputs_size(),
                                  kernel.outputs_size());
          }))
    return std::move(err);
  // The CPU kernels compute in f32 and i32 only.
  for (const plan::Buffer &buffer : plan.buffers())
    if (buffer.dtype() != plan::F32 && buffer.dtype() != plan::I32)
      return llvm::createStringError(
          origin + ": buffer " + Twine(buffer.id()) + " '" + buffer.name() +
          "' is " + runtime::planDTypeName(buffer.dtype()) +
          "; the CPU executor computes in f32 and i32 only");

  uint64_t seed = options.seed.value_or(plan.seed());
  std::unique_ptr<Executor> executor(new Executor(
      std::move(plan), std::move(origin), std::max(1, options.numThreads)));
  const plan::Plan &p = executor->thePlan;
  for (const plan::Buffer &buffer : p.buffers())
    if (buffer.role() != plan::TEMP)
      executor->byName[buffer.name()] = buffer.id();

  auto allocate = [&](Region &region, uint64_t bytes,
                      const char *what) -> llvm::Error {
    llvm::Expected<Region> allocated = Region::allocate(bytes, what);
    if (!allocated)
      return llvm::createStringError(executor->planOrigin + ": " +
                                     llvm::toString(allocated.takeError()));
    region = std::move(*allocated);
    return llvm::Error::success();
  };
  if (llvm::Error err = allocate(executor->persistent, p.persistent_bytes(),
                                 "persistent region"))
    return std::move(err);
  if (llvm::Error err =
          allocate(executor->inputs, p.input_bytes(), "input region"))
    return std::move(err);
  if (llvm::Error err = allocate(executor->arena, p.arena_bytes(), "arena"))
    return std::move(err);
  if (llvm::Error err = executor->initialize(seed))
    return std::move(err);
  return executor;
}

const plan::Buffer *Executor::find(llvm::StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &thePlan.buffers(it->second);
}

uint8_t *Executor::address(const plan::Buffer &buffer) const {
  switch (buffer.role()) {
  case plan::PARAM:
  case plan::STATE:
    return persistent.data() + buffer.offset();
  case plan::INPUT:
    return inputs.data() + buffer.offset();
  default:
    return arena.data() + buffer.offset();
  }
}

llvm::MutableArrayRef<uint8_t> Executor::bytes(const plan::Buffer &buffer) {
  return {address(buffer), size_t(buffer.size_bytes())};
}

llvm::ArrayRef<uint8_t> Executor::bytes(const plan::Buffer &buffer) const {
  return {address(buffer), size_t(buffer.size_bytes())};
}

void Executor::storeFloats(const plan::Buffer &buffer,
                           llvm::ArrayRef<float> values) {
  assert(buffer.dtype() == plan::F32 &&
         values.size() == size_t(numElements(buffer)) &&
         "storeFloats needs an f32 buffer of as many elements");
  std::memcpy(address(buffer), values.data(), values.size() * sizeof(float));
}

std::vector<float> Executor::loadFloats(const plan::Buffer &buffer) const {
  assert(buffer.dtype() == plan::F32 && "loadFloats needs an f32 buffer");
  std::vector<float> values(numElements(buffer));
  std::memcpy(values.data(), address(buffer), values.size() * sizeof(float));
  return values;
}

llvm::Error Executor::initialize(uint64_t seed) {
  initSeed = seed;
  std::vector<float> values;
  for (const plan::Buffer &buffer : thePlan.buffers()) {
    if (buffer.role() == plan::STATE) {
      llvm::MutableArrayRef<uint8_t> data = bytes(buffer);
      std::fill(data.begin(), data.end(), 0);
      continue;
    }
    if (buffer.role() != plan::PARAM)
      continue;
    values.assign(numElements(buffer), 0.0f);
    llvm::SmallVector<double, 2> args(buffer.init_args().begin(),
                                      buffer.init_args().end());
    if (llvm::Error err = runtime::initializeParameter(
            runtimeInit(buffer.init()), args, buffer.name(), seed,
            values.data(), int64_t(values.size())))
      return llvm::createStringError(planOrigin + ": " +
                                     llvm::toString(std::move(err)));
    storeFloats(buffer, values);
  }
  return llvm::Error::success();
}

llvm::Error Executor::run(const plan::Program &program, llvm::StringRef name) {
  if (tracer && tracer->recording()) {
    TraceScope scope(tracer, TraceKind::Program, name);
    return runKernels<true>(program, name);
  }
  return runKernels<false>(program, name);
}

template <bool Traced>
llvm::Error Executor::runKernels(const plan::Program &program,
                                 llvm::StringRef name) {
  llvm::SmallVector<BufferView, 8> inputViews, outputViews;
  auto view = [&](int id) {
    const plan::Buffer &buffer = thePlan.buffers(id);
    return BufferView{address(buffer), buffer.dtype(),
                      llvm::ArrayRef<int64_t>(buffer.shape().data(),
                                              size_t(buffer.shape_size()))};
  };
  for (int k = 0; k < program.kernels_size(); ++k) {
    const plan::Kernel &kernel = program.kernels(k);
    inputViews.clear();
    outputViews.clear();
    for (int id : kernel.inputs())
      inputViews.push_back(view(id));
    for (int id : kernel.outputs())
      outputViews.push_back(view(id));
    TraceRecorder::Clock::time_point start;
    if constexpr (Traced)
      start = TraceRecorder::Clock::now();
    llvm::Error err = runCpuKernel(kernel, inputViews, outputViews, threads);
    if constexpr (Traced) {
      uint64_t outputBytes = 0;
      for (int id : kernel.outputs())
        outputBytes += thePlan.buffers(id).size_bytes();
      tracer->kernel(kernel, k, start, TraceRecorder::Clock::now(),
                     outputBytes);
    }
    if (err) {
      std::string message = llvm::toString(std::move(err));
      std::string where = "program '" + name.str() + "', kernel " +
                          std::to_string(k) + " '" + kernel.op() + "'";
      // The kernel's message names its source location already when the
      // plan has one; otherwise the kernel's place in the plan is all there
      // is to point at.
      if (kernel.location().empty() ||
          llvm::StringRef(message).find(kernel.location()) ==
              llvm::StringRef::npos)
        message = (kernel.location().empty() ? "" : kernel.location() + ": ") +
                  message;
      return llvm::createStringError(message + " (" + where + ")");
    }
  }
  return llvm::Error::success();
}
