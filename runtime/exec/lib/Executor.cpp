//===- Executor.cpp - Running a plan's programs on the CPU ----------------===//

#include "strata/Exec/Executor.h"

#include "strata/Exec/CpuKernels.h"
#include "strata/Exec/Trace.h"
#include "strata/Runtime/Init.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/MathExtras.h"

#include <cassert>
#include <cstring>
#include <functional>

using namespace strata;
using namespace strata::exec;
using llvm::Twine;

Device::~Device() = default;

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
  Device *device = options.device.get();
  // A fused kernel runs as one kernel where the backend can, and through its
  // body otherwise: every kernel of the body must run on the backend.
  std::function<llvm::Error(const plan::Kernel &)> check =
      [&](const plan::Kernel &kernel) -> llvm::Error {
    if (kernel.op() == "fused") {
      for (const plan::Kernel &inner : kernel.body())
        if (llvm::Error err = check(inner))
          return err;
      return llvm::Error::success();
    }
    if (device)
      return device->checkKernel(kernel);
    return checkCpuKernel(kernel, kernel.inputs_size(), kernel.outputs_size());
  };
  if (llvm::Error err = runtime::validatePlan(plan, origin, check))
    return std::move(err);
  // The kernels compute in f32 (reading and writing bf16 where a buffer is
  // bf16) and i32.
  for (const plan::Buffer &buffer : plan.buffers())
    if (buffer.dtype() != plan::F32 && buffer.dtype() != plan::BF16 &&
        buffer.dtype() != plan::I32)
      return llvm::createStringError(
          origin + ": buffer " + Twine(buffer.id()) + " '" + buffer.name() +
          "' is " + runtime::planDTypeName(buffer.dtype()) +
          "; the executor computes in f32, bf16 and i32 only");

  uint64_t seed = options.seed.value_or(plan.seed());
  std::unique_ptr<Executor> executor(
      new Executor(std::move(plan), std::move(origin),
                   std::max(1, options.numThreads), options.device));
  const plan::Plan &p = executor->thePlan;
  for (const plan::Buffer &buffer : p.buffers())
    if (buffer.role() != plan::TEMP && buffer.role() != plan::LOCAL)
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
  // With a device the temporaries live there; the host sees only the
  // programs' outputs, which the device copies back.
  if (!device) {
    if (llvm::Error err = allocate(executor->arena, p.arena_bytes(), "arena"))
      return std::move(err);
    if (llvm::Error err = allocate(executor->locals, p.local_bytes(),
                                   "local scratch of the fused kernels"))
      return std::move(err);
  }
  if (llvm::Error err = executor->initialize(seed))
    return std::move(err);
  if (device)
    if (llvm::Error err = device->attach(*executor))
      return llvm::createStringError(executor->planOrigin + ": " +
                                     llvm::toString(std::move(err)));
  return executor;
}

const plan::Buffer *Executor::find(llvm::StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &thePlan.buffers(it->second);
}

uint8_t *Executor::address(const plan::Buffer &buffer) const {
  const Region *regions[] = {&persistent, &inputs, &arena, &locals};
  return regions[int(regionOf(buffer))]->data() + buffer.offset();
}

static bool isPersistent(const plan::Buffer &buffer) {
  return buffer.role() == plan::PARAM || buffer.role() == plan::STATE;
}

llvm::MutableArrayRef<uint8_t> Executor::bytes(const plan::Buffer &buffer) {
  if (theDevice && isPersistent(buffer)) {
    assert(!hostStale && "syncHost() before touching params or states");
    deviceStale = true;
  }
  if (theDevice && !isPersistent(buffer) && buffer.role() != plan::INPUT) {
    llvm::ArrayRef<uint8_t> output = theDevice->outputBytes(buffer.id());
    return {const_cast<uint8_t *>(output.data()), output.size()};
  }
  return {address(buffer), size_t(buffer.size_bytes())};
}

llvm::ArrayRef<uint8_t> Executor::bytes(const plan::Buffer &buffer) const {
  if (theDevice && isPersistent(buffer))
    assert(!hostStale && "syncHost() before reading params or states");
  if (theDevice && !isPersistent(buffer) && buffer.role() != plan::INPUT)
    return theDevice->outputBytes(buffer.id());
  return {address(buffer), size_t(buffer.size_bytes())};
}

llvm::Error Executor::syncHost() const {
  if (!theDevice || !hostStale)
    return llvm::Error::success();
  if (llvm::Error err =
          theDevice->download({persistent.data(), size_t(persistent.size())}))
    return llvm::createStringError(planOrigin + ": " +
                                   llvm::toString(std::move(err)));
  hostStale = false;
  return llvm::Error::success();
}

/// syncHost() for the accessors that cannot return an error: a device that
/// fails to copy memory back has failed beyond what a caller can handle.
static void syncOrDie(const Executor &executor) {
  if (llvm::Error err = executor.syncHost())
    llvm::report_fatal_error(llvm::Twine(llvm::toString(std::move(err))));
}

void Executor::storeFloats(const plan::Buffer &buffer,
                           llvm::ArrayRef<float> values) {
  assert(buffer.dtype() == plan::F32 &&
         values.size() == size_t(numElements(buffer)) &&
         "storeFloats needs an f32 buffer of as many elements");
  if (theDevice && isPersistent(buffer)) {
    syncOrDie(*this);
    deviceStale = true;
  }
  std::memcpy(address(buffer), values.data(), values.size() * sizeof(float));
}

std::vector<float> Executor::loadFloats(const plan::Buffer &buffer) const {
  assert(buffer.dtype() == plan::F32 && "loadFloats needs an f32 buffer");
  if (theDevice && isPersistent(buffer))
    syncOrDie(*this);
  std::vector<float> values(numElements(buffer));
  std::memcpy(values.data(), address(buffer), values.size() * sizeof(float));
  return values;
}

llvm::Error Executor::initialize(uint64_t seed) {
  initSeed = seed;
  // Everything is overwritten: the device's copy is replaced, not merged.
  hostStale = false;
  deviceStale = true;
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
    if (buffer.dtype() == plan::BF16) {
      // A bf16 param (a model may declare one) starts from the f32 values
      // rounded to nearest even.
      llvm::MutableArrayRef<uint8_t> data = bytes(buffer);
      for (size_t i = 0; i < values.size(); ++i) {
        uint16_t bits = floatToBf16(values[i]);
        std::memcpy(data.data() + 2 * i, &bits, sizeof(bits));
      }
      continue;
    }
    storeFloats(buffer, values);
  }
  return llvm::Error::success();
}

llvm::Error Executor::run(const plan::Program &program, llvm::StringRef name) {
  if (llvm::Error err = launch(program, name))
    return err;
  return wait();
}

llvm::Error Executor::stage() {
  if (!theDevice)
    return llvm::Error::success();
  if (llvm::Error err =
          theDevice->stage({inputs.data(), size_t(inputs.size())}))
    return err;
  staged = true;
  return llvm::Error::success();
}

llvm::Error Executor::launch(const plan::Program &program,
                             llvm::StringRef name) {
  if (!theDevice) {
    if (tracer && tracer->recording()) {
      TraceScope scope(tracer, TraceKind::Program, name);
      return runKernels<true>(program, name);
    }
    return runKernels<false>(program, name);
  }
  if (deviceStale) {
    if (llvm::Error err =
            theDevice->upload({persistent.data(), size_t(persistent.size())}))
      return err;
    deviceStale = false;
  }
  if (!staged)
    if (llvm::Error err = stage())
      return err;
  staged = false;
  // The program may write params and states.
  hostStale = true;
  // The program's trace event spans launch to wait; the device records its
  // kernels inside it when wait() finds them done.
  if (tracer && tracer->recording())
    programEvent = tracer->begin(TraceKind::Program, name);
  return theDevice->launch(program, name);
}

llvm::Error Executor::wait() {
  if (!theDevice)
    return llvm::Error::success();
  llvm::Error err = theDevice->wait();
  if (tracer && programEvent != ~size_t(0))
    tracer->end(programEvent);
  programEvent = ~size_t(0);
  return err;
}

llvm::Error Executor::runKernelOnCpu(const plan::Kernel &kernel, int index,
                                     llvm::StringRef program) {
  llvm::SmallVector<BufferView, 8> inputViews, outputViews;
  auto view = [&](int id) {
    const plan::Buffer &buffer = thePlan.buffers(id);
    return BufferView{address(buffer), buffer.dtype(),
                      llvm::ArrayRef<int64_t>(buffer.shape().data(),
                                              size_t(buffer.shape_size()))};
  };
  auto runOne = [&](const plan::Kernel &one) {
    inputViews.clear();
    outputViews.clear();
    for (int id : one.inputs())
      inputViews.push_back(view(id));
    for (int id : one.outputs())
      outputViews.push_back(view(id));
    return runCpuKernel(one, inputViews, outputViews, threads);
  };
  llvm::Error err = llvm::Error::success();
  if (kernel.op() == "fused") {
    for (const plan::Kernel &inner : kernel.body())
      if ((err = runOne(inner)))
        break;
  } else {
    err = runOne(kernel);
  }
  if (!err)
    return llvm::Error::success();
  std::string message = llvm::toString(std::move(err));
  std::string where = "program '" + program.str() + "', kernel " +
                      std::to_string(index) + " '" + kernel.op() + "'";
  if (kernel.op() == "fused" && kernel.attrs().count("kind"))
    where += " (" + kernel.attrs().at("kind").s() + ")";
  // The kernel's message names its source location already when the plan
  // has one; otherwise the kernel's place in the plan is all there is to
  // point at.
  if (kernel.location().empty() ||
      llvm::StringRef(message).find(kernel.location()) == llvm::StringRef::npos)
    message =
        (kernel.location().empty() ? "" : kernel.location() + ": ") + message;
  return llvm::createStringError(message + " (" + where + ")");
}

template <bool Traced>
llvm::Error Executor::runKernels(const plan::Program &program,
                                 llvm::StringRef name) {
  for (int k = 0; k < program.kernels_size(); ++k) {
    const plan::Kernel &kernel = program.kernels(k);
    TraceRecorder::Clock::time_point start;
    if constexpr (Traced)
      start = TraceRecorder::Clock::now();
    llvm::Error err = runKernelOnCpu(kernel, k, name);
    if constexpr (Traced) {
      uint64_t outputBytes = 0;
      for (int id : kernel.outputs())
        outputBytes += thePlan.buffers(id).size_bytes();
      tracer->kernel(kernel, k, start, TraceRecorder::Clock::now(),
                     outputBytes);
    }
    if (err)
      return err;
  }
  return llvm::Error::success();
}
