//===- CudaDevice.cpp - Running plans on an NVIDIA GPU --------------------===//
//
// See CudaDevice.h for what happens when. Every CUDA call's status is checked
// and turned into an llvm::Error that names what was being done.
//
//===----------------------------------------------------------------------===//

#include "strata/Cuda/CudaDevice.h"

#include "FusedLaunch.h"
#include "GridSize.h"
#include "strata/Cuda/Gemm.h"
#include "strata/Cuda/Kernels.h"
#include "strata/Exec/Executor.h"
#include "strata/Exec/Trace.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <cuda_runtime.h>
#include <vector>

using namespace strata;
using namespace strata::cuda;
using llvm::Twine;

namespace {

llvm::Error cudaError(const Twine &what, cudaError_t status) {
  return llvm::createStringError(what + ": " + cudaGetErrorString(status) +
                                 " (" + cudaGetErrorName(status) + ")");
}

#define STRATA_CUDA_TRY(expr, what)                                            \
  do {                                                                         \
    cudaError_t strataStatus = (expr);                                         \
    if (strataStatus != cudaSuccess)                                           \
      return cudaError(what, strataStatus);                                    \
  } while (false)

std::string formatBytes(uint64_t bytes) {
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = double(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return llvm::formatv("{0:F2} {1}", value, units[unit]).str();
}

uint64_t alignUp(uint64_t bytes) { return (bytes + 255) / 256 * 256; }

/// One cudaMalloc'd block, freed on destruction.
class DeviceBlock {
public:
  DeviceBlock() = default;
  DeviceBlock(const DeviceBlock &) = delete;
  DeviceBlock &operator=(const DeviceBlock &) = delete;
  ~DeviceBlock() {
    if (pointer)
      cudaFree(pointer);
  }
  llvm::Error allocate(uint64_t bytes, const Twine &what) {
    bytesHeld = bytes;
    STRATA_CUDA_TRY(cudaMalloc(&pointer, std::max<uint64_t>(bytes, 256)),
                    "cannot allocate " + formatBytes(bytes) +
                        " of device memory for the " + what);
    STRATA_CUDA_TRY(cudaMemset(pointer, 0, std::max<uint64_t>(bytes, 256)),
                    "cannot clear the " + what);
    return llvm::Error::success();
  }
  uint8_t *data() const { return static_cast<uint8_t *>(pointer); }
  uint64_t size() const { return bytesHeld; }

private:
  void *pointer = nullptr;
  uint64_t bytesHeld = 0;
};

/// One cudaMallocHost'd (pinned) block, freed on destruction.
class PinnedBlock {
public:
  PinnedBlock() = default;
  PinnedBlock(const PinnedBlock &) = delete;
  PinnedBlock &operator=(const PinnedBlock &) = delete;
  ~PinnedBlock() {
    if (pointer)
      cudaFreeHost(pointer);
  }
  llvm::Error allocate(uint64_t bytes, const Twine &what) {
    STRATA_CUDA_TRY(cudaMallocHost(&pointer, std::max<uint64_t>(bytes, 256)),
                    "cannot allocate " + formatBytes(bytes) +
                        " of pinned host memory for the " + what);
    std::memset(pointer, 0, std::max<uint64_t>(bytes, 256));
    return llvm::Error::success();
  }
  uint8_t *data() const { return static_cast<uint8_t *>(pointer); }

private:
  void *pointer = nullptr;
};

/// What the device keeps per program.
struct ProgramState {
  int runs = 0;
  cudaGraphExec_t graph = nullptr;
  /// Fused kernels (by index) whose one-kernel form failed on the first run
  /// and that run through their body since.
  std::vector<bool> runBody;
};

class CudaDevice final : public exec::Device {
public:
  explicit CudaDevice(CudaDeviceOptions options) : options(options) {}
  ~CudaDevice() override;

  llvm::Error init();

  llvm::StringRef name() const override { return "cuda"; }
  std::string description() const override { return deviceName; }
  llvm::Error checkKernel(const plan::Kernel &kernel) override {
    return checkCudaKernel(kernel, kernel.inputs_size(), kernel.outputs_size());
  }
  llvm::Error attach(exec::Executor &executor) override;
  llvm::Error upload(llvm::ArrayRef<uint8_t> host) override;
  llvm::Error download(llvm::MutableArrayRef<uint8_t> host) override;
  llvm::Error stage(llvm::ArrayRef<uint8_t> hostInputs) override;
  llvm::Error launch(const plan::Program &program,
                     llvm::StringRef name) override;
  llvm::Error wait() override;
  llvm::ArrayRef<uint8_t> outputBytes(int id) const override;
  uint64_t allocatedBytes() const override {
    uint64_t total = GemmHandle::kDefaultWorkspaceBytes;
    for (const DeviceBlock *block :
         {&persistent, &inputs, &arena, &locals, &workspace, &staging[0],
          &staging[1], &errors})
      total += block->size();
    return total;
  }

private:
  uint8_t *address(const plan::Buffer &buffer) const;
  exec::BufferView view(int id) const;
  /// Enqueues every kernel of `program` and the copies of its outputs and
  /// error record to the host. With `events`, records events[k] before
  /// kernel k and events[n] after the last.
  llvm::Error enqueueProgram(const plan::Program &program, llvm::StringRef name,
                             ProgramState &state, bool firstRun,
                             cudaEvent_t *events);
  llvm::Error launchKernel(const plan::Kernel &kernel, int index,
                           llvm::StringRef program, ProgramState &state,
                           bool firstRun);
  llvm::Error launchElementwise(const plan::Kernel &kernel,
                                llvm::ArrayRef<exec::BufferView> inputs,
                                llvm::ArrayRef<exec::BufferView> outputs);
  llvm::Error located(const plan::Kernel &kernel, int index,
                      llvm::StringRef program, llvm::Error err) const;
  void recordTrace(const plan::Program &program);

  CudaDeviceOptions options;
  std::string deviceName;
  const exec::Executor *executor = nullptr;
  const plan::Plan *plan = nullptr;
  cudaStream_t compute = nullptr, copy = nullptr;
  std::unique_ptr<GemmHandle> gemm;
  DeviceBlock persistent, inputs, arena, locals, workspace, staging[2], errors;
  PinnedBlock pinnedInputs[2], pinnedOutputs, pinnedErrors;
  cudaEvent_t staged[2] = {}, taken[2] = {}, copyStart[2] = {}, done = {};
  int slot = 0;
  bool haveStaged = false;
  /// Offsets of the programs' outputs in pinnedOutputs, by buffer id.
  llvm::DenseMap<int, uint64_t> outputOffsets;
  cudaLibrary_t library = nullptr;
  llvm::StringMap<cudaKernel_t> functions;
  llvm::DenseMap<const plan::Program *, ProgramState> programs;
  /// The launch wait() finishes, for its messages and trace.
  const plan::Program *pending = nullptr;
  std::string pendingName;
  std::vector<cudaEvent_t> kernelEvents;
  bool traced = false;
  exec::TraceRecorder::Clock::time_point traceOrigin, stageStart;
  int tracedSlot = -1;
};

CudaDevice::~CudaDevice() {
  for (auto &entry : programs)
    if (entry.second.graph)
      cudaGraphExecDestroy(entry.second.graph);
  for (cudaEvent_t event : kernelEvents)
    cudaEventDestroy(event);
  for (int i = 0; i < 2; ++i) {
    if (staged[i])
      cudaEventDestroy(staged[i]);
    if (taken[i])
      cudaEventDestroy(taken[i]);
    if (copyStart[i])
      cudaEventDestroy(copyStart[i]);
  }
  if (done)
    cudaEventDestroy(done);
  gemm.reset();
  if (library)
    cudaLibraryUnload(library);
  if (compute)
    cudaStreamDestroy(compute);
  if (copy)
    cudaStreamDestroy(copy);
}

llvm::Error CudaDevice::init() {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess)
    return cudaError("no usable CUDA device (is the NVIDIA driver installed?)",
                     status);
  if (count == 0)
    return llvm::createStringError("no CUDA device found");
  if (options.ordinal < 0 || options.ordinal >= count)
    return llvm::createStringError("CUDA device " + Twine(options.ordinal) +
                                   " does not exist (this machine has " +
                                   Twine(count) + ")");
  STRATA_CUDA_TRY(cudaSetDevice(options.ordinal),
                  "cannot use CUDA device " + Twine(options.ordinal));
  cudaDeviceProp props;
  STRATA_CUDA_TRY(cudaGetDeviceProperties(&props, options.ordinal),
                  "cannot query CUDA device " + Twine(options.ordinal));
  deviceName = llvm::formatv("{0} (sm_{1}{2}, {3})", props.name, props.major,
                             props.minor, formatBytes(props.totalGlobalMem))
                   .str();
  STRATA_CUDA_TRY(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking),
                  "cannot create the compute stream");
  STRATA_CUDA_TRY(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking),
                  "cannot create the copy stream");
  for (int i = 0; i < 2; ++i) {
    STRATA_CUDA_TRY(cudaEventCreate(&staged[i]), "cannot create an event");
    STRATA_CUDA_TRY(cudaEventCreate(&taken[i]), "cannot create an event");
    STRATA_CUDA_TRY(cudaEventCreate(&copyStart[i]), "cannot create an event");
  }
  STRATA_CUDA_TRY(cudaEventCreateWithFlags(&done, cudaEventBlockingSync),
                  "cannot create an event");
  GemmStatus gemmStatus = GemmHandle::create(gemm);
  if (!gemmStatus.ok())
    return llvm::createStringError("cannot set up cuBLASLt: " +
                                   gemmStatus.message);
  return llvm::Error::success();
}

llvm::Error CudaDevice::attach(exec::Executor &owner) {
  executor = &owner;
  plan = &owner.plan();

  // The scratch the kernels ask for; fused kernels may run their body.
  uint64_t workspaceBytes = 16 << 20;
  for (const plan::Program *program :
       {&plan->grad(), &plan->apply(), &plan->forward()}) {
    for (const plan::Kernel &kernel : program->kernels()) {
      auto account = [&](const plan::Kernel &one) -> llvm::Error {
        llvm::SmallVector<exec::BufferView, 8> in, out;
        for (int id : one.inputs())
          in.push_back(view(id));
        for (int id : one.outputs())
          out.push_back(view(id));
        llvm::Expected<size_t> bytes = cudaKernelWorkspace(one, in, out);
        if (!bytes)
          return bytes.takeError();
        workspaceBytes = std::max<uint64_t>(workspaceBytes, *bytes);
        return llvm::Error::success();
      };
      if (kernel.op() == "fused") {
        for (const plan::Kernel &inner : kernel.body())
          if (llvm::Error err = account(inner))
            return err;
        llvm::SmallVector<exec::BufferView, 8> in, out;
        for (int id : kernel.inputs())
          in.push_back(view(id));
        for (int id : kernel.outputs())
          out.push_back(view(id));
        auto kind = kernel.attrs().find("kind");
        if (kind != kernel.attrs().end())
          workspaceBytes = std::max<uint64_t>(
              workspaceBytes,
              fusedKindWorkspace(kind->second.s(), kernel, in, out));
      } else if (llvm::Error err = account(kernel)) {
        return err;
      }
    }
  }
  uint64_t outputBytes = 0;
  for (const plan::Program *program :
       {&plan->grad(), &plan->apply(), &plan->forward()})
    for (int id : program->outputs())
      if (outputOffsets.try_emplace(id, outputBytes).second)
        outputBytes += alignUp(plan->buffers(id).size_bytes());

  // Does it fit? Everything below is one allocation each.
  struct Need {
    const char *what;
    uint64_t bytes;
  } needs[] = {
      {"persistent region (params and optimizer state)",
       plan->persistent_bytes()},
      {"arena (temporaries)", plan->arena_bytes()},
      {"kernel workspace", workspaceBytes},
      {"input region and its two staging buffers", 3 * plan->input_bytes()},
      {"cuBLASLt workspace", GemmHandle::kDefaultWorkspaceBytes},
  };
  uint64_t total = 0;
  for (const Need &need : needs)
    total += alignUp(need.bytes);
  size_t freeBytes = 0, totalBytes = 0;
  STRATA_CUDA_TRY(cudaMemGetInfo(&freeBytes, &totalBytes),
                  "cannot query the device memory");
  if (total > freeBytes) {
    std::string message = "the plan needs " + formatBytes(total) +
                          " of device memory, but " + deviceName + " has " +
                          formatBytes(freeBytes) + " free:";
    for (const Need &need : needs)
      message +=
          std::string("\n  ") + need.what + ": " + formatBytes(need.bytes);
    message += "\n(compile with a smaller batch (--arg B=...) and "
               "--accumulate, or with --precision bf16)";
    return llvm::createStringError(message);
  }

  if (llvm::Error err =
          persistent.allocate(plan->persistent_bytes(), "persistent region"))
    return err;
  if (llvm::Error err = inputs.allocate(plan->input_bytes(), "input region"))
    return err;
  if (llvm::Error err = arena.allocate(plan->arena_bytes(), "arena"))
    return err;
  if (llvm::Error err = workspace.allocate(workspaceBytes, "kernel workspace"))
    return err;
  if (llvm::Error err =
          errors.allocate(sizeof(DeviceErrorRecord), "error record"))
    return err;
  for (int i = 0; i < 2; ++i) {
    if (llvm::Error err =
            staging[i].allocate(plan->input_bytes(), "input staging buffer"))
      return err;
    if (llvm::Error err = pinnedInputs[i].allocate(plan->input_bytes(),
                                                   "input staging buffer"))
      return err;
  }
  if (llvm::Error err = pinnedOutputs.allocate(outputBytes, "program outputs"))
    return err;
  if (llvm::Error err =
          pinnedErrors.allocate(sizeof(DeviceErrorRecord), "error record"))
    return err;

  // The emitted kernels of the fused elementwise groups.
  const plan::DeviceCode &code = plan->cuda();
  bool needsCode = false;
  for (const plan::Program *program :
       {&plan->grad(), &plan->apply(), &plan->forward()})
    for (const plan::Kernel &kernel : program->kernels())
      if (kernel.op() == "fused" && kernel.attrs().count("kind") &&
          kernel.attrs().at("kind").s() == "elementwise")
        needsCode = true;
  if (needsCode && code.cubin().empty())
    return llvm::createStringError(
        "the plan has emitted CUDA kernels but no compiled code for them "
        "(strata-compile ran where NVRTC was missing); recompile it on a "
        "machine with the CUDA toolkit, or run with --device cpu");
  if (!code.cubin().empty()) {
    STRATA_CUDA_TRY(cudaLibraryLoadData(&library, code.cubin().data(), nullptr,
                                        nullptr, 0, nullptr, nullptr, 0),
                    "cannot load the plan's compiled kernels (" + code.arch() +
                        ", " + code.compiler() + ") on " + deviceName);
  }
  return llvm::Error::success();
}

uint8_t *CudaDevice::address(const plan::Buffer &buffer) const {
  const DeviceBlock *regions[] = {&persistent, &inputs, &arena, &locals};
  return regions[int(exec::regionOf(buffer))]->data() + buffer.offset();
}

exec::BufferView CudaDevice::view(int id) const {
  const plan::Buffer &buffer = plan->buffers(id);
  return exec::BufferView{persistent.data() ? address(buffer) : nullptr,
                          buffer.dtype(),
                          llvm::ArrayRef<int64_t>(buffer.shape().data(),
                                                  size_t(buffer.shape_size()))};
}

llvm::Error CudaDevice::upload(llvm::ArrayRef<uint8_t> host) {
  STRATA_CUDA_TRY(cudaStreamSynchronize(compute),
                  "the device failed before the upload");
  STRATA_CUDA_TRY(cudaMemcpy(persistent.data(), host.data(), host.size(),
                             cudaMemcpyHostToDevice),
                  "cannot copy the params and states to the device");
  return llvm::Error::success();
}

llvm::Error CudaDevice::download(llvm::MutableArrayRef<uint8_t> host) {
  STRATA_CUDA_TRY(cudaStreamSynchronize(compute),
                  "the device failed before the download");
  STRATA_CUDA_TRY(cudaMemcpy(host.data(), persistent.data(), host.size(),
                             cudaMemcpyDeviceToHost),
                  "cannot copy the params and states to the host");
  return llvm::Error::success();
}

llvm::Error CudaDevice::stage(llvm::ArrayRef<uint8_t> hostInputs) {
  slot ^= 1;
  // The pinned slot is free once its last copy to the device finished, the
  // device slot once the launch that used it took its copy.
  STRATA_CUDA_TRY(cudaEventSynchronize(staged[slot]),
                  "copying an earlier batch to the device failed");
  std::memcpy(pinnedInputs[slot].data(), hostInputs.data(), hostInputs.size());
  STRATA_CUDA_TRY(cudaStreamWaitEvent(copy, taken[slot], 0),
                  "cannot order the input copy");
  STRATA_CUDA_TRY(cudaEventRecord(copyStart[slot], copy),
                  "cannot record an event");
  STRATA_CUDA_TRY(cudaMemcpyAsync(staging[slot].data(),
                                  pinnedInputs[slot].data(), hostInputs.size(),
                                  cudaMemcpyHostToDevice, copy),
                  "cannot copy the inputs to the device");
  STRATA_CUDA_TRY(cudaEventRecord(staged[slot], copy),
                  "cannot record an event");
  haveStaged = true;
  return llvm::Error::success();
}

llvm::Error CudaDevice::located(const plan::Kernel &kernel, int index,
                                llvm::StringRef program,
                                llvm::Error err) const {
  std::string message = llvm::toString(std::move(err));
  if (!kernel.location().empty() &&
      llvm::StringRef(message).find(kernel.location()) == llvm::StringRef::npos)
    message = kernel.location() + ": " + message;
  return llvm::createStringError(message + " (program '" + program.str() +
                                 "', kernel " + std::to_string(index) + " '" +
                                 kernel.op() + "', on " + deviceName + ")");
}

llvm::Error
CudaDevice::launchElementwise(const plan::Kernel &kernel,
                              llvm::ArrayRef<exec::BufferView> inputs,
                              llvm::ArrayRef<exec::BufferView> outputs) {
  auto functionAttr = kernel.attrs().find("function");
  auto elementsAttr = kernel.attrs().find("elements");
  if (functionAttr == kernel.attrs().end() ||
      elementsAttr == kernel.attrs().end())
    return llvm::createStringError(
        "fused elementwise kernel without 'function' and 'elements'");
  const std::string &function = functionAttr->second.s();
  auto found = functions.find(function);
  if (found == functions.end()) {
    cudaKernel_t handle = nullptr;
    STRATA_CUDA_TRY(cudaLibraryGetKernel(&handle, library, function.c_str()),
                    "the plan's compiled code has no kernel '" + function +
                        "'");
    found = functions.try_emplace(function, handle).first;
  }
  long long n = elementsAttr->second.i();
  llvm::SmallVector<void *, 16> pointers;
  for (const exec::BufferView &view : inputs)
    pointers.push_back(view.data);
  for (const exec::BufferView &view : outputs)
    pointers.push_back(view.data);
  llvm::SmallVector<void *, 17> args;
  for (void *&pointer : pointers)
    args.push_back(&pointer);
  args.push_back(&n);
  STRATA_CUDA_TRY(
      cudaLaunchKernel(reinterpret_cast<const void *>(found->second),
                       dim3(gridFor(n)), dim3(256), args.data(), 0, compute),
      "cannot launch emitted kernel '" + function + "'");
  return llvm::Error::success();
}

llvm::Error CudaDevice::launchKernel(const plan::Kernel &kernel, int index,
                                     llvm::StringRef program,
                                     ProgramState &state, bool firstRun) {
  llvm::SmallVector<exec::BufferView, 8> in, out;
  auto views = [&](const plan::Kernel &one) {
    in.clear();
    out.clear();
    for (int id : one.inputs())
      in.push_back(view(id));
    for (int id : one.outputs())
      out.push_back(view(id));
  };
  LaunchContext context;
  context.stream = compute;
  context.gemm = gemm.get();
  context.workspace = workspace.data();
  context.workspaceBytes = workspace.size();
  context.errors = reinterpret_cast<DeviceErrorRecord *>(errors.data());
  context.kernelIndex = index;

  if (kernel.op() != "fused") {
    views(kernel);
    if (llvm::Error err = launchCudaKernel(kernel, in, out, context))
      return located(kernel, index, program, std::move(err));
    return llvm::Error::success();
  }

  auto kindAttr = kernel.attrs().find("kind");
  std::string kind =
      kindAttr == kernel.attrs().end() ? "" : kindAttr->second.s();
  if (!state.runBody[index]) {
    views(kernel);
    llvm::Error err = kind == "elementwise"
                          ? launchElementwise(kernel, in, out)
                          : launchFusedKind(kind, kernel, in, out, context);
    if (!err)
      return llvm::Error::success();
    // Emitted code that does not launch is an error; a kind this backend
    // has no single kernel for (or a body it does not match) runs its body.
    if (kind == "elementwise" || !firstRun)
      return located(kernel, index, program, std::move(err));
    llvm::consumeError(std::move(err));
    state.runBody[index] = true;
  }
  // The local scratch exists only once some group runs its body: most
  // plans never need it, since every group has its one-kernel form.
  if (!locals.data() && plan->local_bytes())
    if (llvm::Error err = locals.allocate(
            plan->local_bytes(), "local scratch of a fused kernel's body"))
      return located(kernel, index, program, std::move(err));
  for (const plan::Kernel &inner : kernel.body()) {
    views(inner);
    if (llvm::Error err = launchCudaKernel(inner, in, out, context))
      return located(inner, index, program, std::move(err));
  }
  return llvm::Error::success();
}

llvm::Error CudaDevice::enqueueProgram(const plan::Program &program,
                                       llvm::StringRef name,
                                       ProgramState &state, bool firstRun,
                                       cudaEvent_t *events) {
  STRATA_CUDA_TRY(
      cudaMemsetAsync(errors.data(), 0, sizeof(DeviceErrorRecord), compute),
      "cannot clear the error record");
  for (int k = 0; k < program.kernels_size(); ++k) {
    if (events)
      STRATA_CUDA_TRY(cudaEventRecord(events[k], compute),
                      "cannot record an event");
    if (llvm::Error err =
            launchKernel(program.kernels(k), k, name, state, firstRun))
      return err;
  }
  if (events)
    STRATA_CUDA_TRY(cudaEventRecord(events[program.kernels_size()], compute),
                    "cannot record an event");
  for (int id : program.outputs()) {
    const plan::Buffer &buffer = plan->buffers(id);
    STRATA_CUDA_TRY(cudaMemcpyAsync(pinnedOutputs.data() + outputOffsets[id],
                                    address(buffer), buffer.size_bytes(),
                                    cudaMemcpyDeviceToHost, compute),
                    "cannot copy output '" + buffer.name() + "' to the host");
  }
  STRATA_CUDA_TRY(cudaMemcpyAsync(pinnedErrors.data(), errors.data(),
                                  sizeof(DeviceErrorRecord),
                                  cudaMemcpyDeviceToHost, compute),
                  "cannot copy the error record to the host");
  return llvm::Error::success();
}

llvm::Error CudaDevice::launch(const plan::Program &program,
                               llvm::StringRef name) {
  if (!haveStaged)
    return llvm::createStringError("launch without staged inputs");
  haveStaged = false;
  ProgramState &state = programs[&program];
  state.runBody.resize(program.kernels_size(), false);
  // The staged inputs become the input region; the staging slot is then free
  // for the next batch.
  STRATA_CUDA_TRY(cudaStreamWaitEvent(compute, staged[slot], 0),
                  "cannot order the input copy");
  STRATA_CUDA_TRY(cudaMemcpyAsync(inputs.data(), staging[slot].data(),
                                  plan->input_bytes(), cudaMemcpyDeviceToDevice,
                                  compute),
                  "cannot copy the staged inputs");
  STRATA_CUDA_TRY(cudaEventRecord(taken[slot], compute),
                  "cannot record an event");
  pending = &program;
  pendingName = name.str();
  exec::TraceRecorder *trace = executor->trace();
  traced = trace && trace->recording();
  if (traced) {
    // Kernel by kernel between events, so that each has its GPU time.
    size_t needed = size_t(program.kernels_size()) + 1;
    while (kernelEvents.size() < needed) {
      cudaEvent_t event;
      STRATA_CUDA_TRY(cudaEventCreate(&event), "cannot create an event");
      kernelEvents.push_back(event);
    }
    tracedSlot = slot;
    traceOrigin = exec::TraceRecorder::Clock::now();
    if (llvm::Error err = enqueueProgram(program, name, state, state.runs == 0,
                                         kernelEvents.data()))
      return err;
  } else if (state.graph) {
    STRATA_CUDA_TRY(cudaGraphLaunch(state.graph, compute),
                    "cannot launch the CUDA graph of program '" + name + "'");
  } else if (options.graphs && state.runs >= 1) {
    // The second run is captured; the first ran eagerly, so that errors
    // came with their kernel and every cuBLASLt plan exists.
    STRATA_CUDA_TRY(
        cudaStreamBeginCapture(compute, cudaStreamCaptureModeThreadLocal),
        "cannot capture program '" + name + "'");
    llvm::Error err = enqueueProgram(program, name, state, false, nullptr);
    cudaGraph_t graph = nullptr;
    cudaError_t status = cudaStreamEndCapture(compute, &graph);
    if (err) {
      if (graph)
        cudaGraphDestroy(graph);
      return err;
    }
    if (status != cudaSuccess)
      return cudaError("cannot capture program '" + name + "'", status);
    status = cudaGraphInstantiate(&state.graph, graph, 0);
    cudaGraphDestroy(graph);
    if (status != cudaSuccess)
      return cudaError("cannot instantiate the CUDA graph of program '" + name +
                           "'",
                       status);
    STRATA_CUDA_TRY(cudaGraphLaunch(state.graph, compute),
                    "cannot launch the CUDA graph of program '" + name + "'");
  } else if (llvm::Error err = enqueueProgram(program, name, state,
                                              state.runs == 0, nullptr)) {
    return err;
  }
  ++state.runs;
  STRATA_CUDA_TRY(cudaEventRecord(done, compute), "cannot record an event");
  return llvm::Error::success();
}

void CudaDevice::recordTrace(const plan::Program &program) {
  exec::TraceRecorder *trace = executor->trace();
  using Clock = exec::TraceRecorder::Clock;
  auto at = [&](cudaEvent_t event) {
    float ms = 0;
    cudaEventElapsedTime(&ms, kernelEvents[0], event);
    return traceOrigin + std::chrono::nanoseconds(int64_t(ms * 1e6));
  };
  for (int k = 0; k < program.kernels_size(); ++k) {
    const plan::Kernel &kernel = program.kernels(k);
    uint64_t bytes = 0;
    for (int id : kernel.outputs())
      bytes += plan->buffers(id).size_bytes();
    Clock::time_point start = at(kernelEvents[k]);
    Clock::time_point end = at(kernelEvents[k + 1]);
    trace->kernel(kernel, k, start, end, bytes);
  }
  // The input copy ran on the copy stream before the program.
  float ms = 0;
  if (tracedSlot >= 0 &&
      cudaEventElapsedTime(&ms, copyStart[tracedSlot], staged[tracedSlot]) ==
          cudaSuccess) {
    Clock::time_point end = traceOrigin;
    trace->copy("inputs to device",
                end - std::chrono::nanoseconds(int64_t(ms * 1e6)), end,
                plan->input_bytes());
  }
}

llvm::Error CudaDevice::wait() {
  if (!pending)
    return llvm::Error::success();
  const plan::Program &program = *pending;
  pending = nullptr;
  cudaError_t status = cudaEventSynchronize(done);
  if (status != cudaSuccess)
    return cudaError("program '" + pendingName + "' failed on " + deviceName,
                     status);
  if (traced)
    recordTrace(program);
  DeviceErrorRecord record;
  std::memcpy(&record, pinnedErrors.data(), sizeof(record));
  if (record.code != kNoDeviceError) {
    std::string what = "a kernel found bad data";
    const plan::Kernel *kernel = nullptr;
    if (record.kernel >= 0 && record.kernel < program.kernels_size())
      kernel = &program.kernels(record.kernel);
    if (record.code == kIndexOutOfRange)
      what = "index " + std::to_string(record.value) + " at position " +
             std::to_string(record.position) + " is outside [0, " +
             std::to_string(record.bound) + ")";
    if (!kernel)
      return llvm::createStringError(what + " (program '" + pendingName + "')");
    return located(*kernel, record.kernel, pendingName,
                   llvm::createStringError(what));
  }
  return llvm::Error::success();
}

llvm::ArrayRef<uint8_t> CudaDevice::outputBytes(int id) const {
  auto it = outputOffsets.find(id);
  if (it == outputOffsets.end())
    return {};
  return {pinnedOutputs.data() + it->second,
          size_t(plan->buffers(id).size_bytes())};
}

} // namespace

bool cuda::cudaDeviceAvailable() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

llvm::Expected<std::shared_ptr<exec::Device>>
cuda::createCudaDevice(CudaDeviceOptions options) {
  auto device = std::make_shared<CudaDevice>(options);
  if (llvm::Error err = device->init())
    return std::move(err);
  return device;
}
