//===- DeviceTest.cpp - The executor's device protocol, without a GPU -----===//
//
// A device that keeps its own copy of every region in host memory and runs
// the CPU kernels there stands in for the GPU: training through it must give
// the bits training on the CPU gives, with the host's view of params, states,
// outputs and checkpoints kept coherent by the executor (upload after the
// host writes, download before it reads), inputs prefetched while a launch is
// in flight, and fused kernels run through their body.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "strata/Exec/CpuKernels.h"
#include "strata/Exec/Device.h"
#include "strata/Exec/Executor.h"
#include "strata/Exec/Trainer.h"
#include "strata/Runtime/Data.h"
#include "strata/Runtime/Init.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::testing;

namespace {

/// Runs every kernel on the CPU over its own copy of the regions, and counts
/// what the executor asked of it.
class HostDevice final : public Device {
public:
  int uploads = 0, downloads = 0, launches = 0, stages = 0;

  llvm::StringRef name() const override { return "host"; }
  std::string description() const override { return "host test device"; }
  llvm::Error checkKernel(const plan::Kernel &kernel) override {
    return checkCpuKernel(kernel, kernel.inputs_size(), kernel.outputs_size());
  }
  llvm::Error attach(Executor &executor) override {
    plan = &executor.plan();
    persistent.assign(plan->persistent_bytes(), 0xAB);
    inputs.assign(plan->input_bytes(), 0xAB);
    arena.assign(plan->arena_bytes(), 0xAB);
    locals.assign(plan->local_bytes(), 0xAB);
    return llvm::Error::success();
  }
  llvm::Error upload(llvm::ArrayRef<uint8_t> host) override {
    ++uploads;
    persistent.assign(host.begin(), host.end());
    return llvm::Error::success();
  }
  llvm::Error download(llvm::MutableArrayRef<uint8_t> host) override {
    ++downloads;
    std::memcpy(host.data(), persistent.data(), host.size());
    return llvm::Error::success();
  }
  llvm::Error stage(llvm::ArrayRef<uint8_t> hostInputs) override {
    ++stages;
    staged.assign(hostInputs.begin(), hostInputs.end());
    return llvm::Error::success();
  }
  llvm::Error launch(const plan::Program &program, llvm::StringRef) override {
    ++launches;
    inputs = staged;
    // Garbage in the arena, as on a device whose memory the last program
    // left behind.
    std::fill(arena.begin(), arena.end(), 0xCD);
    for (const plan::Kernel &kernel : program.kernels()) {
      if (kernel.op() != "fused") {
        if (llvm::Error err = run(kernel))
          return err;
        continue;
      }
      for (const plan::Kernel &inner : kernel.body())
        if (llvm::Error err = run(inner))
          return err;
    }
    for (int id : program.outputs()) {
      const plan::Buffer &buffer = plan->buffers(id);
      uint8_t *data = address(buffer);
      outputs[id].assign(data, data + buffer.size_bytes());
    }
    return llvm::Error::success();
  }
  llvm::Error wait() override { return llvm::Error::success(); }
  llvm::ArrayRef<uint8_t> outputBytes(int id) const override {
    auto it = outputs.find(id);
    if (it == outputs.end())
      return {};
    return it->second;
  }
  uint64_t allocatedBytes() const override {
    return persistent.size() + inputs.size() + arena.size() + locals.size();
  }

private:
  uint8_t *address(const plan::Buffer &buffer) {
    std::vector<uint8_t> *regions[] = {&persistent, &inputs, &arena, &locals};
    return regions[int(regionOf(buffer))]->data() + buffer.offset();
  }
  llvm::Error run(const plan::Kernel &kernel) {
    std::vector<BufferView> in, out;
    auto view = [&](int id) {
      const plan::Buffer &buffer = plan->buffers(id);
      return BufferView{address(buffer), buffer.dtype(),
                        llvm::ArrayRef<int64_t>(buffer.shape().data(),
                                                size_t(buffer.shape_size()))};
    };
    for (int id : kernel.inputs())
      in.push_back(view(id));
    for (int id : kernel.outputs())
      out.push_back(view(id));
    return runCpuKernel(kernel, in, out, 1);
  }

  const plan::Plan *plan = nullptr;
  std::vector<uint8_t> persistent, inputs, arena, locals, staged;
  llvm::DenseMap<int, std::vector<uint8_t>> outputs;
};

struct TrainedRun {
  std::unique_ptr<Executor> executor;
  std::unique_ptr<Trainer> trainer;
  std::vector<double> losses;
};

TrainedRun train(plan::Plan plan, std::shared_ptr<Device> device, int64_t steps,
                 const runtime::TokenSource *data = nullptr,
                 std::string checkpoint = "", std::string resume = "") {
  TrainedRun run;
  ExecutorOptions options;
  options.device = std::move(device);
  llvm::Expected<std::unique_ptr<Executor>> executor =
      Executor::create(std::move(plan), "plan 'test'", options);
  EXPECT_TRUE(bool(executor)) << llvm::toString(executor.takeError());
  if (!executor)
    return run;
  run.executor = std::move(*executor);
  TrainerOptions trainerOptions;
  trainerOptions.data = data;
  trainerOptions.checkpointPath = checkpoint;
  llvm::Expected<std::unique_ptr<Trainer>> trainer =
      Trainer::create(*run.executor, trainerOptions);
  EXPECT_TRUE(bool(trainer)) << llvm::toString(trainer.takeError());
  if (!trainer)
    return run;
  run.trainer = std::move(*trainer);
  if (!resume.empty())
    EXPECT_FALSE(bool(run.trainer->resume(resume)));
  llvm::Error err = run.trainer->train(
      steps, [&](const StepResult &step) { run.losses.push_back(step.loss); });
  EXPECT_FALSE(bool(err)) << llvm::toString(std::move(err));
  return run;
}

std::vector<uint8_t> persistentBytes(const Executor &executor) {
  EXPECT_FALSE(bool(executor.syncHost()));
  std::vector<uint8_t> bytes;
  for (const plan::Buffer &buffer : executor.plan().buffers())
    if (buffer.role() == plan::PARAM || buffer.role() == plan::STATE) {
      llvm::ArrayRef<uint8_t> data = executor.bytes(buffer);
      bytes.insert(bytes.end(), data.begin(), data.end());
    }
  return bytes;
}

runtime::TokenBuffer randomTokens(size_t count, uint32_t vocab) {
  runtime::SplitMix64 stream(7);
  std::vector<uint16_t> tokens(count);
  for (uint16_t &token : tokens)
    token = uint16_t(stream.next() % vocab);
  return runtime::TokenBuffer("random tokens", std::move(tokens));
}

std::string tempPath(llvm::StringRef name) {
  llvm::SmallString<128> path;
  llvm::sys::path::system_temp_directory(true, path);
  llvm::sys::path::append(path, "strata-device-test-" + name);
  return std::string(path);
}

TEST(Device, TrainsBitIdenticallyToTheCpu) {
  ModelOptions model;
  model.accumulate = 3;
  runtime::TokenBuffer tokens = randomTokens(500, uint32_t(model.vocab));
  TrainedRun cpu = train(linearModelPlan(model), nullptr, 6, &tokens);
  auto device = std::make_shared<HostDevice>();
  TrainedRun dev = train(linearModelPlan(model), device, 6, &tokens);
  ASSERT_EQ(cpu.losses.size(), 6u);
  EXPECT_EQ(dev.losses, cpu.losses);
  EXPECT_EQ(persistentBytes(*dev.executor), persistentBytes(*cpu.executor));
  // One upload (the initialized params), grad 3 times and apply once a step,
  // and the host's copy fetched once, for the comparison.
  EXPECT_EQ(device->uploads, 1);
  EXPECT_EQ(device->launches, 6 * 4);
  EXPECT_EQ(device->downloads, 1);
  // The data position counts only the micro-batches that ran, not the one
  // read ahead for step 7.
  EXPECT_EQ(dev.trainer->dataPosition(), cpu.trainer->dataPosition());
}

TEST(Device, CheckpointAndResumeThroughTheDevice) {
  ModelOptions model;
  model.accumulate = 2;
  runtime::TokenBuffer tokens = randomTokens(300, uint32_t(model.vocab));
  std::string path = tempPath("resume.safetensors");
  TrainedRun whole =
      train(linearModelPlan(model), std::make_shared<HostDevice>(), 8, &tokens);
  // 5 steps with a checkpoint at the end, then 3 more from it.
  TrainedRun first = train(linearModelPlan(model),
                           std::make_shared<HostDevice>(), 5, &tokens, path);
  auto device = std::make_shared<HostDevice>();
  TrainedRun second =
      train(linearModelPlan(model), device, 8, &tokens, "", path);
  ASSERT_EQ(whole.losses.size(), 8u);
  ASSERT_EQ(second.losses.size(), 3u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(second.losses[i], whole.losses[5 + i]) << "step " << 6 + i;
  EXPECT_EQ(persistentBytes(*second.executor),
            persistentBytes(*whole.executor));
  // The restored params and states reached the device before step 6.
  EXPECT_GE(device->uploads, 1);
  llvm::sys::fs::remove(path);
}

TEST(Device, FusedKernelsRunThroughTheirBody) {
  // logits = matmul + bias as one fused kernel whose intermediate is LOCAL.
  auto fuse = [](plan::Plan plan) {
    plan.set_version(2);
    plan::Program &grad = *plan.mutable_grad();
    int mm = grad.kernels(1).outputs(0);
    plan.mutable_buffers(mm)->set_role(plan::LOCAL);
    plan.mutable_buffers(mm)->set_offset(0);
    plan.set_local_bytes(plan.buffers(mm).size_bytes());
    plan::Kernel fused;
    fused.set_op("fused");
    plan::Attribute kind;
    kind.set_s("matmul_bias");
    fused.mutable_attrs()->insert({"kind", kind});
    *fused.add_body() = grad.kernels(1);
    *fused.add_body() = grad.kernels(2);
    for (int id : grad.kernels(1).inputs())
      fused.add_inputs(id);
    fused.add_inputs(grad.kernels(2).inputs(1));
    fused.add_outputs(grad.kernels(2).outputs(0));
    fused.add_locals(mm);
    google::protobuf::RepeatedPtrField<plan::Kernel> kernels;
    for (int k = 0; k < grad.kernels_size(); ++k) {
      if (k == 1)
        *kernels.Add() = fused;
      else if (k != 2)
        *kernels.Add() = grad.kernels(k);
    }
    grad.mutable_kernels()->Swap(&kernels);
    return plan;
  };
  ModelOptions model;
  TrainedRun reference = train(linearModelPlan(model), nullptr, 4);
  TrainedRun cpu = train(fuse(linearModelPlan(model)), nullptr, 4);
  TrainedRun dev =
      train(fuse(linearModelPlan(model)), std::make_shared<HostDevice>(), 4);
  ASSERT_EQ(reference.losses.size(), 4u);
  EXPECT_EQ(cpu.losses, reference.losses);
  EXPECT_EQ(dev.losses, reference.losses);
  EXPECT_EQ(persistentBytes(*cpu.executor),
            persistentBytes(*reference.executor));
}

} // namespace
