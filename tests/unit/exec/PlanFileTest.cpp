//===- PlanFileTest.cpp - Plan files: format, corruption, validation ------===//

#include "strata/Runtime/PlanFile.h"

#include "TestPlans.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Endian.h"

#include "gtest/gtest.h"

#include <functional>

using namespace strata;
using namespace strata::runtime;
using namespace strata::exec::testing;

namespace {

std::string text(const plan::Plan &plan) { return plan.DebugString(); }

/// The error decodePlan gives for `bytes`, from a file called bad.plan.
std::string decodeError(const std::string &bytes) {
  llvm::Expected<plan::Plan> plan =
      decodePlan(bytes, "plan file 'dir/bad.plan'");
  if (plan)
    return "";
  return llvm::toString(plan.takeError());
}

/// The error readPlanFile gives for a file holding `bytes`.
std::string readError(const ScratchDir &dir, const std::string &bytes) {
  std::string path = dir.file("bad.plan");
  writeFile(path, bytes);
  llvm::Expected<plan::Plan> plan = readPlanFile(path);
  if (plan)
    return "";
  return llvm::toString(plan.takeError());
}

std::string encoded(const plan::Plan &plan) {
  llvm::Expected<std::string> bytes = encodePlan(plan);
  EXPECT_TRUE(bool(bytes));
  return bytes ? *bytes : std::string();
}

TEST(PlanFile, RoundTrip) {
  ScratchDir dir;
  plan::Plan plan = linearModelPlan();
  std::string path = dir.file("linear.plan");
  ASSERT_FALSE(errorMessage(writePlanFile(path, plan)).size());
  llvm::Expected<plan::Plan> back = readPlanFile(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(text(*back), text(plan));
  // The write left no temporary file behind, and a second write replaces
  // the first.
  EXPECT_EQ(dir.list(), std::vector<std::string>{"linear.plan"});
  plan.set_model("renamed");
  ASSERT_FALSE(errorMessage(writePlanFile(path, plan)).size());
  back = readPlanFile(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->model(), "renamed");
}

TEST(PlanFile, HeaderLayout) {
  plan::Plan plan = linearModelPlan();
  std::string bytes = encoded(plan);
  ASSERT_GT(bytes.size(), kPlanHeaderBytes);
  EXPECT_EQ(bytes.substr(0, 8), "STRATAPL");
  EXPECT_EQ(llvm::support::endian::read32le(bytes.data() + 8), 1u);
  std::string payload = bytes.substr(kPlanHeaderBytes);
  EXPECT_EQ(llvm::support::endian::read64le(bytes.data() + 12), payload.size());
  EXPECT_EQ(llvm::support::endian::read32le(bytes.data() + 20),
            llvm::crc32(llvm::arrayRefFromStringRef(payload)));
  plan::Plan parsed;
  ASSERT_TRUE(parsed.ParseFromString(payload));
  EXPECT_EQ(text(parsed), text(plan));
}

TEST(PlanFile, MissingFile) {
  ScratchDir dir;
  std::string path = dir.file("nowhere.plan");
  llvm::Expected<plan::Plan> plan = readPlanFile(path);
  ASSERT_FALSE(bool(plan));
  expectMessage(llvm::toString(plan.takeError()),
                {"plan file '", "nowhere.plan", "cannot read"});
}

TEST(PlanFile, EveryTruncationIsRejected) {
  ScratchDir dir;
  std::string bytes = encoded(linearModelPlan());
  // Through a file at a few lengths, in memory at every length.
  for (size_t length : {size_t(0), size_t(7), kPlanHeaderBytes - 1,
                        kPlanHeaderBytes, bytes.size() - 1})
    expectMessage(
        readError(dir, bytes.substr(0, length)),
        {"bad.plan", length < kPlanHeaderBytes ? "too short" : "truncated"});
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::string message = decodeError(bytes.substr(0, length));
    SCOPED_TRACE("length " + std::to_string(length));
    expectMessage(message, {"bad.plan"});
    if (length < kPlanHeaderBytes)
      expectMessage(message, {"too short"});
    else
      expectMessage(message, {"truncated"});
  }
}

TEST(PlanFile, TrailingBytesAreRejected) {
  ScratchDir dir;
  std::string bytes = encoded(linearModelPlan()) + "x";
  expectMessage(readError(dir, bytes), {"bad.plan", "trailing bytes"});
}

TEST(PlanFile, BadMagic) {
  ScratchDir dir;
  std::string bytes = encoded(linearModelPlan());
  bytes[0] = 'P';
  bytes[1] = 'K';
  expectMessage(readError(dir, bytes),
                {"bad.plan", "bad magic", "PKRATAPL", "not a plan file"});
}

TEST(PlanFile, OtherVersion) {
  ScratchDir dir;
  std::string bytes = encoded(linearModelPlan());
  llvm::support::endian::write32le(&bytes[8], 3);
  expectMessage(readError(dir, bytes),
                {"bad.plan", "version 3", "reads versions 1 to 2"});
  llvm::support::endian::write32le(&bytes[8], 0);
  expectMessage(readError(dir, bytes),
                {"bad.plan", "version 0", "reads versions 1 to 2"});

  // A header that agrees with the reader but a payload of another version.
  plan::Plan plan = linearModelPlan();
  plan.set_version(3);
  bytes = encoded(plan);
  llvm::support::endian::write32le(&bytes[8], 1);
  expectMessage(readError(dir, bytes),
                {"bad.plan", "header says version 1", "plan says version 3"});
}

TEST(PlanFile, EveryFlippedPayloadByteIsRejected) {
  ScratchDir dir;
  std::string bytes = encoded(linearModelPlan());
  for (size_t i = kPlanHeaderBytes; i < bytes.size(); ++i) {
    std::string corrupted = bytes;
    corrupted[i] ^= 0x20;
    SCOPED_TRACE("byte " + std::to_string(i));
    expectMessage(decodeError(corrupted), {"bad.plan", "CRC-32 mismatch"});
  }
  std::string corruptedFile = bytes;
  corruptedFile[bytes.size() / 2] ^= 0x01;
  expectMessage(readError(dir, corruptedFile), {"bad.plan", "CRC-32 mismatch"});
  // A flipped CRC byte is caught the same way.
  std::string corrupted = bytes;
  corrupted[21] ^= 1;
  expectMessage(readError(dir, corrupted), {"CRC-32 mismatch"});
  // A flipped length byte reads as truncation or trailing bytes.
  corrupted = bytes;
  corrupted[12] ^= 1;
  std::string message = readError(dir, corrupted);
  EXPECT_TRUE(message.find("truncated") != std::string::npos ||
              message.find("trailing bytes") != std::string::npos)
      << message;
}

TEST(PlanFile, UnparsablePayload) {
  ScratchDir dir;
  // Field 1 with wire type 7, which does not exist: a valid header and CRC
  // around bytes protobuf rejects.
  std::string payload = "\x0f\x01\x02";
  std::string bytes(kPlanHeaderBytes, '\0');
  std::copy(kPlanMagic.begin(), kPlanMagic.end(), bytes.begin());
  llvm::support::endian::write32le(&bytes[8], 1);
  llvm::support::endian::write64le(&bytes[12], payload.size());
  llvm::support::endian::write32le(
      &bytes[20], llvm::crc32(llvm::arrayRefFromStringRef(payload)));
  expectMessage(readError(dir, bytes + payload),
                {"bad.plan", "not a valid Plan message"});
}

TEST(PlanFile, ReadValidatesThePlan) {
  ScratchDir dir;
  plan::Plan plan = linearModelPlan();
  plan.mutable_buffers(2)->set_id(9);
  std::string path = dir.file("inconsistent.plan");
  ASSERT_FALSE(errorMessage(writePlanFile(path, plan)).size());
  llvm::Expected<plan::Plan> read = readPlanFile(path);
  ASSERT_FALSE(bool(read));
  expectMessage(llvm::toString(read.takeError()),
                {"inconsistent.plan", "buffer 2 'w.grad' has id 9"});
}

//===----------------------------------------------------------------------===//
// validatePlan: one corruption at a time, each named in the message
//===----------------------------------------------------------------------===//

struct Corruption {
  const char *what;
  std::function<void(plan::Plan &)> apply;
  std::vector<llvm::StringRef> message;
};

int idOf(const plan::Plan &plan, const std::string &name) {
  for (const plan::Buffer &buffer : plan.buffers())
    if (buffer.name() == name)
      return buffer.id();
  ADD_FAILURE() << "no buffer " << name;
  return 0;
}

plan::Buffer &buffer(plan::Plan &plan, const std::string &name) {
  return *plan.mutable_buffers(idOf(plan, name));
}

TEST(ValidatePlan, TheTestPlanIsValid) {
  EXPECT_EQ(errorMessage(validatePlan(linearModelPlan(), "p")), "");
}

TEST(ValidatePlan, CorruptionsAreNamed) {
  const Corruption corruptions[] = {
      {"id",
       [](plan::Plan &p) { buffer(p, "b").set_id(0); },
       {"buffer 1 'b' has id 0"}},
      {"no name",
       [](plan::Plan &p) { p.mutable_buffers(1)->clear_name(); },
       {"buffer 1 '' has no name"}},
      {"role",
       [](plan::Plan &p) { buffer(p, "b").set_role(plan::ROLE_UNSPECIFIED); },
       {"buffer 1 'b' has no valid role"}},
      {"dtype",
       [](plan::Plan &p) { buffer(p, "b").set_dtype(plan::DType(42)); },
       {"buffer 1 'b' has no valid dtype (dtype 42)"}},
      {"size",
       [](plan::Plan &p) { buffer(p, "w").set_size_bytes(12); },
       {"buffer 0 'w'", "needs 1024 bytes, but size_bytes is 12"}},
      {"negative dim",
       [](plan::Plan &p) { buffer(p, "w").set_shape(0, -16); },
       {"buffer 0 'w' has a negative dimension in shape [-16, 16]"}},
      {"huge shape",
       [](plan::Plan &p) {
         buffer(p, "w").set_shape(0, int64_t(1) << 40);
         buffer(p, "w").set_shape(1, int64_t(1) << 40);
       },
       {"buffer 0 'w'", "too large"}},
      {"misaligned",
       [](plan::Plan &p) { buffer(p, "b").set_offset(1026); },
       {"buffer 1 'b' has offset 1026, not a multiple of its element size 4"}},
      {"param outside",
       [](plan::Plan &p) { p.set_persistent_bytes(1000); },
       {"param buffer 0 'w'", "outside the persistent region of 1000 bytes"}},
      {"state outside",
       [](plan::Plan &p) { p.set_persistent_bytes(p.persistent_bytes() - 64); },
       {"state buffer 7 'b.v'", "outside the persistent region"}},
      {"overlap",
       [](plan::Plan &p) { buffer(p, "w.grad").set_offset(64); },
       {"param buffer 0 'w' and state buffer 2 'w.grad' overlap in the "
        "persistent region"}},
      {"input outside",
       [](plan::Plan &p) { p.set_input_bytes(100); },
       {"input buffer 8 'tokens' occupies bytes [0, 128), outside the input "
        "region of 100 bytes"}},
      {"temp outside arena",
       [](plan::Plan &p) { p.mutable_grad()->set_arena_bytes(64); },
       {"program 'grad', kernel 0 'one_hot' at test.sg:1:3",
        "outside the program's arena of 64 bytes"}},
      {"program arena",
       [](plan::Plan &p) { p.set_arena_bytes(p.arena_bytes() - 64); },
       {"program 'grad' needs an arena of"}},
      {"duplicate name",
       [](plan::Plan &p) { buffer(p, "b").set_name("w"); },
       {"param buffer 1 'w' has the same name as param buffer 0 'w'"}},
      {"state of nothing",
       [](plan::Plan &p) { buffer(p, "w.m").set_state_of("u"); },
       {"state buffer 3 'w.m' belongs to 'u', which is not a parameter"}},
      {"init args",
       [](plan::Plan &p) { buffer(p, "w").clear_init_args(); },
       {"buffer 0 'w' has 0 initializer arguments, expected 2"}},
      {"int param",
       [](plan::Plan &p) { buffer(p, "b").set_dtype(plan::I32); },
       {"buffer 1 'b' is a parameter of type i32"}},
      {"kernel input",
       [](plan::Plan &p) {
         p.mutable_grad()->mutable_kernels(2)->set_inputs(1, 99);
       },
       {"program 'grad', kernel 2 'add' at test.sg:3:3: input 1 is buffer 99, "
        "which does not exist"}},
      {"kernel output",
       [](plan::Plan &p) {
         p.mutable_grad()->mutable_kernels(1)->set_outputs(0, -1);
       },
       {"kernel 1 'matmul'", "output 0 is buffer -1, which does not exist"}},
      {"write param",
       [](plan::Plan &p) {
         p.mutable_grad()->mutable_kernels(1)->set_outputs(0, 0);
       },
       {"kernel 1 'matmul'", "writes param buffer 0 'w'"}},
      {"read before write",
       [](plan::Plan &p) {
         p.mutable_grad()->mutable_kernels(1)->set_inputs(0, idOf(p, "logits"));
       },
       {"kernel 1 'matmul'", "reads temp buffer",
        "'logits' before any "
        "kernel of the program writes it"}},
      {"no op",
       [](plan::Plan &p) { p.mutable_apply()->mutable_kernels(0)->clear_op(); },
       {"program 'apply', kernel 0 ''", "has no op name"}},
      {"program input",
       [](plan::Plan &p) { p.mutable_grad()->set_inputs(0, 0); },
       {"program 'grad' has input param buffer 0 'w', which is not an INPUT "
        "buffer"}},
      {"program input id",
       [](plan::Plan &p) { p.mutable_apply()->set_inputs(0, 1000); },
       {"program 'apply' has input 1000, which is not a buffer id"}},
      {"unwritten output",
       [](plan::Plan &p) { p.mutable_grad()->set_outputs(0, idOf(p, "lr")); },
       {"program 'grad' returns temp buffer", "'lr', which none of its "
                                              "kernels writes"}},
      {"no apply",
       [](plan::Plan &p) { p.clear_apply(); },
       {"needs both a 'grad' and an 'apply' program"}},
      {"no program",
       [](plan::Plan &p) {
         p.clear_apply();
         p.clear_grad();
       },
       {"the plan has no program"}},
      {"accumulate",
       [](plan::Plan &p) { p.set_accumulate(0); },
       {"accumulate is 0"}},
      {"loss shape",
       [](plan::Plan &p) { p.mutable_grad()->set_outputs(0, idOf(p, "db")); },
       {"program 'grad' returns temp buffer",
        "'db' of type f32 and shape "
        "[16]; the loss must be one f32 value"}},
      {"two outputs",
       [](plan::Plan &p) { p.mutable_grad()->add_outputs(idOf(p, "db")); },
       {"program 'grad' returns 2 buffers"}},
      {"version", [](plan::Plan &p) { p.set_version(3); }, {"plan version 3"}},
      {"v1 local bytes",
       [](plan::Plan &p) { p.set_local_bytes(64); },
       {"a version 1 plan has no CUDA code and no local scratch region"}},
  };
  for (const Corruption &corruption : corruptions) {
    SCOPED_TRACE(corruption.what);
    plan::Plan plan = linearModelPlan();
    corruption.apply(plan);
    std::string message = errorMessage(validatePlan(plan, "plan file 'x'"));
    expectMessage(message, {"plan file 'x': "});
    for (llvm::StringRef part : corruption.message)
      expectMessage(message, {part});
  }
}

TEST(ValidatePlan, KernelCheckNamesTheKernel) {
  plan::Plan plan = linearModelPlan();
  auto check = [](const plan::Kernel &kernel) -> llvm::Error {
    if (kernel.op() == "reduce")
      return llvm::createStringError("unknown kernel 'reduce'");
    return llvm::Error::success();
  };
  expectMessage(errorMessage(validatePlan(plan, "p", check)),
                {"p: program 'grad', kernel 9 'reduce' at test.sg:10:3: "
                 "unknown kernel 'reduce'"});
}

//===----------------------------------------------------------------------===//
// Version 2: fused kernels, LOCAL buffers, the plan's CUDA code
//===----------------------------------------------------------------------===//

/// The linear model with its logits (matmul + bias) as one fused kernel whose
/// intermediate is a LOCAL buffer, as exportPlan writes a strata-fuse group.
plan::Plan fusedPlan() {
  plan::Plan plan = linearModelPlan();
  plan.set_version(2);
  plan::Program &grad = *plan.mutable_grad();
  int mm = grad.kernels(1).outputs(0);
  plan::Buffer &local = *plan.mutable_buffers(mm);
  local.set_role(plan::LOCAL);
  local.set_offset(0);
  plan.set_local_bytes(local.size_bytes());
  plan::Kernel fused;
  fused.set_op("fused");
  fused.set_location(grad.kernels(1).location());
  (*fused.mutable_attrs())["kind"].set_s("matmul_bias");
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
}

plan::Kernel &fusedKernel(plan::Plan &plan) {
  return *plan.mutable_grad()->mutable_kernels(1);
}

/// Makes the fused kernel an elementwise group running `function` of the
/// plan's CUDA source (the kind is not checked against the body here).
void makeElementwise(plan::Plan &plan, const std::string &function) {
  auto &attrs = *fusedKernel(plan).mutable_attrs();
  attrs["kind"].set_s("elementwise");
  attrs["function"].set_s(function);
  attrs["elements"].set_i(16);
  plan.mutable_cuda()->set_arch("sm_90a");
  plan.mutable_cuda()->set_source("extern \"C\" __global__ void " + function +
                                  "(const float *in0, float *out0, long long "
                                  "n) {}\n");
}

TEST(PlanFile, FusedPlanRoundTrip) {
  ScratchDir dir;
  plan::Plan plan = fusedPlan();
  makeElementwise(plan, "strata_elementwise_0");
  plan.mutable_cuda()->set_cubin(std::string({'\x7f', 'E', 'L', 'F', '\0', 1}));
  plan.mutable_cuda()->set_compiler("nvrtc 13.0");
  std::string path = dir.file("fused.plan");
  ASSERT_EQ(errorMessage(writePlanFile(path, plan)), "");
  llvm::Expected<plan::Plan> back = readPlanFile(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(text(*back), text(plan));
  EXPECT_EQ(back->grad().kernels(1).body_size(), 2);
  EXPECT_EQ(back->cuda().cubin().size(), 6u);
}

TEST(ValidatePlan, TheFusedPlanIsValid) {
  EXPECT_EQ(errorMessage(validatePlan(fusedPlan(), "p")), "");
  plan::Plan plan = fusedPlan();
  makeElementwise(plan, "strata_elementwise_0");
  EXPECT_EQ(errorMessage(validatePlan(plan, "p")), "");
}

/// The linear model with its weight gradient (matmul with transpose_a, then
/// accumulate into w.grad) as a matmul_accumulate group: the product is a
/// LOCAL buffer, w.grad an input written in place, and the group has no
/// outputs.
plan::Plan matmulAccumulatePlan() {
  plan::Plan plan = linearModelPlan();
  plan.set_version(2);
  plan::Program &grad = *plan.mutable_grad();
  int matmul = -1, accumulate = -1;
  for (int k = 0; k < grad.kernels_size(); ++k) {
    const plan::Kernel &kernel = grad.kernels(k);
    if (kernel.op() == "matmul" && kernel.attrs().count("transpose_a"))
      matmul = k;
    if (kernel.op() == "accumulate" && matmul >= 0 &&
        kernel.inputs(1) == grad.kernels(matmul).outputs(0))
      accumulate = k;
  }
  EXPECT_GE(matmul, 0);
  EXPECT_GT(accumulate, matmul);
  if (matmul < 0 || accumulate <= matmul)
    return plan;
  int dw = grad.kernels(matmul).outputs(0);
  plan::Buffer &local = *plan.mutable_buffers(dw);
  local.set_role(plan::LOCAL);
  local.set_offset(0);
  plan.set_local_bytes(local.size_bytes());
  plan::Kernel fused;
  fused.set_op("fused");
  fused.set_location(grad.kernels(matmul).location());
  (*fused.mutable_attrs())["kind"].set_s("matmul_accumulate");
  *fused.add_body() = grad.kernels(matmul);
  *fused.add_body() = grad.kernels(accumulate);
  for (int id : grad.kernels(matmul).inputs())
    fused.add_inputs(id);
  fused.add_inputs(grad.kernels(accumulate).inputs(0));
  fused.add_locals(dw);
  google::protobuf::RepeatedPtrField<plan::Kernel> kernels;
  for (int k = 0; k < grad.kernels_size(); ++k) {
    if (k == accumulate)
      *kernels.Add() = fused;
    else if (k != matmul)
      *kernels.Add() = grad.kernels(k);
  }
  grad.mutable_kernels()->Swap(&kernels);
  return plan;
}

TEST(ValidatePlan, TheMatmulAccumulatePlanIsValid) {
  plan::Plan plan = matmulAccumulatePlan();
  EXPECT_EQ(errorMessage(validatePlan(plan, "p")), "");
  ScratchDir dir;
  std::string path = dir.file("accumulate.plan");
  ASSERT_EQ(errorMessage(writePlanFile(path, plan)), "");
  llvm::Expected<plan::Plan> back = readPlanFile(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(text(*back), text(plan));
}

TEST(ValidatePlan, FusedCorruptionsAreNamed) {
  const Corruption corruptions[] = {
      {"version 1",
       [](plan::Plan &p) { p.set_version(1); },
       {"is a LOCAL buffer, which a version 1 plan cannot have"}},
      {"empty body",
       [](plan::Plan &p) { fusedKernel(p).clear_body(); },
       {"kernel 1 'fused' at test.sg:2:3 has an empty body"}},
      {"no kind",
       [](plan::Plan &p) { fusedKernel(p).mutable_attrs()->erase("kind"); },
       {"has no 'kind'"}},
      {"unknown kind",
       [](plan::Plan &p) {
         (*fusedKernel(p).mutable_attrs())["kind"].set_s("conv");
       },
       {"has unknown kind 'conv'"}},
      {"foreign buffer",
       [](plan::Plan &p) {
         fusedKernel(p).mutable_body(1)->set_inputs(1, idOf(p, "b.grad"));
       },
       {"body kernel 1 'add': input 1 is buffer",
        "neither an input, an output nor a local of the fused kernel"}},
      {"local of another role",
       [](plan::Plan &p) { fusedKernel(p).add_locals(idOf(p, "loss")); },
       {"local 1 temp buffer", "is not a LOCAL buffer"}},
      {"missing local",
       [](plan::Plan &p) { fusedKernel(p).set_locals(0, 999); },
       {"local 0 is buffer 999, which does not exist"}},
      {"local outside",
       [](plan::Plan &p) { p.set_local_bytes(4); },
       {"local buffer", "outside the local scratch region of 4 bytes"}},
      {"nested",
       [](plan::Plan &p) { fusedKernel(p).mutable_body(1)->set_op("fused"); },
       {"body kernel 1 'fused' is itself fused; fused kernels do not nest"}},
      {"local outside its group",
       [](plan::Plan &p) {
         int local = fusedKernel(p).locals(0);
         p.mutable_grad()->mutable_kernels(0)->set_outputs(0, local);
       },
       {"kernel 0 'one_hot'", "is a LOCAL buffer; only the body of a fused "
                              "kernel uses those"}},
      {"read before written",
       [](plan::Plan &p) { fusedKernel(p).mutable_body()->SwapElements(0, 1); },
       {"body kernel 0 'add' reads local buffer",
        "before a kernel of the body writes it"}},
      {"output not written",
       [](plan::Plan &p) { fusedKernel(p).mutable_body()->RemoveLast(); },
       {"output 0 temp buffer", "is written by no kernel of its body"}},
      {"writes an input",
       [](plan::Plan &p) {
         plan::Kernel &fused = fusedKernel(p);
         fused.mutable_body(1)->set_outputs(0, fused.inputs(0));
       },
       {"body kernel 1 'add' writes temp buffer",
        "an input of the fused kernel"}},
      {"elementwise without function",
       [](plan::Plan &p) {
         makeElementwise(p, "f");
         fusedKernel(p).mutable_attrs()->erase("function");
       },
       {"an elementwise fused kernel needs 'function'"}},
      {"elementwise without elements",
       [](plan::Plan &p) {
         makeElementwise(p, "f");
         fusedKernel(p).mutable_attrs()->erase("elements");
       },
       {"an elementwise fused kernel needs 'elements'"}},
      {"elementwise without CUDA code",
       [](plan::Plan &p) {
         makeElementwise(p, "strata_elementwise_3");
         p.clear_cuda();
       },
       {"runs function 'strata_elementwise_3', which the plan's CUDA source "
        "does not define"}},
      {"body on a plain kernel",
       [](plan::Plan &p) {
         *p.mutable_grad()->mutable_kernels(0)->add_body() =
             fusedKernel(p).body(0);
       },
       {"kernel 0 'one_hot'", "has a body or locals, but only a fused kernel"}},
  };
  for (const Corruption &corruption : corruptions) {
    SCOPED_TRACE(corruption.what);
    plan::Plan plan = fusedPlan();
    corruption.apply(plan);
    std::string message = errorMessage(validatePlan(plan, "plan file 'x'"));
    expectMessage(message, {"plan file 'x': "});
    for (llvm::StringRef part : corruption.message)
      expectMessage(message, {part});
  }
}

TEST(ValidatePlan, KernelCheckSeesTheBodyKernels) {
  std::vector<std::string> seen;
  auto check = [&](const plan::Kernel &kernel) -> llvm::Error {
    seen.push_back(kernel.op());
    if (kernel.op() == "add")
      return llvm::createStringError("no add here");
    return llvm::Error::success();
  };
  expectMessage(errorMessage(validatePlan(fusedPlan(), "p", check)),
                {"p: program 'grad', kernel 1 'fused' at test.sg:2:3, body "
                 "kernel 1 'add': no add here"});
  EXPECT_EQ(llvm::count(seen, "fused"), 0);
  EXPECT_EQ(llvm::count(seen, "matmul"), 1);
}

} // namespace
