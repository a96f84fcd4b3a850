//===- EmitCudaTest.cpp - CUDA C++ of the elementwise groups --------------===//
//
// Compiles the example models through strata-fuse, emits the CUDA C++ of
// their elementwise groups and has NVRTC compile it for sm_90a (no GPU
// needed). The numbers are the CPU executor's business (the lead's fused
// plan tests); here: the ABI, the broadcast index math, the deduplication.
//
//===----------------------------------------------------------------------===//

#include "strata/Fusion/EmitCuda.h"
#include "strata/Autodiff/Passes.h"
#include "strata/Dialect/Exec/IR/ExecOps.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Frontend/Import.h"
#include "strata/Fusion/CompileCuda.h"
#include "strata/Fusion/Passes.h"
#include "strata/Lowering/ExportPlan.h"
#include "strata/Lowering/Passes.h"
#include "strata/Runtime/PlanFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <map>

using namespace mlir;
using namespace strata;

namespace {

std::string examplePath(llvm::StringRef file) {
  // tests/unit/fusion/EmitCudaTest.cpp -> the repository root.
  llvm::SmallString<256> path(__FILE__);
  for (int i = 0; i < 4; ++i)
    llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, "examples", file);
  return std::string(path);
}

class EmitCudaTest : public ::testing::Test {
protected:
  EmitCudaTest() {
    DialectRegistry registry;
    registry
        .insert<graph::GraphDialect, exec::ExecDialect, func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// The training step of an example after strata-fuse.
  OwningOpRef<ModuleOp> compile(llvm::StringRef file, llvm::StringRef model) {
    auto buffer = llvm::MemoryBuffer::getFile(examplePath(file));
    if (!buffer) {
      ADD_FAILURE() << "cannot read " << examplePath(file);
      return nullptr;
    }
    unsigned id = sourceMgr.AddNewSourceBuffer(std::move(*buffer), SMLoc());
    sg::ImportOptions options;
    options.modelName = model.str();
    OwningOpRef<ModuleOp> module =
        sg::importModel(sourceMgr, id, &context, options);
    if (!module)
      return nullptr;
    PassManager pm(&context);
    pm.addPass(autodiff::createStrataAutodiff());
    pm.addPass(lowering::createLowerToExecPass());
    pm.addPass(fusion::createFusePass());
    pm.addPass(lowering::createMemoryPlanPass());
    if (failed(pm.run(*module)))
      return nullptr;
    return module;
  }

  MLIRContext context;
  llvm::SourceMgr sourceMgr;
};

/// Emits and compiles `model`'s kernels; returns the source.
std::string emitAndCompile(ModuleOp module, unsigned minFunctions) {
  FailureOr<fusion::CudaSource> source = fusion::emitCudaKernels(module);
  if (failed(source)) {
    ADD_FAILURE() << "emission failed";
    return "";
  }
  EXPECT_GE(source->numFunctions, minFunctions);
  EXPECT_GE(source->numGroups, source->numFunctions);
  // Every elementwise group names a function the source defines.
  module.walk([&](exec::FusedOp op) {
    if (op.getKind() != "elementwise")
      return;
    ASSERT_TRUE(op.getFunction().has_value());
    EXPECT_NE(source->source.find("extern \"C\" __global__ void " +
                                  op.getFunction()->str() + "("),
              std::string::npos)
        << op.getFunction()->str();
  });
  if (!fusion::haveNvrtc())
    return source->source;
  llvm::Expected<fusion::CudaBinary> binary =
      fusion::compileCuda(source->source);
  EXPECT_TRUE(static_cast<bool>(binary))
      << llvm::toString(binary.takeError()) << "\n"
      << source->source;
  if (binary) {
    EXPECT_FALSE(binary->cubin.empty());
    EXPECT_EQ(binary->cubin.substr(1, 3), "ELF");
    EXPECT_NE(binary->compiler.find("nvrtc"), std::string::npos);
  }
  return source->source;
}

TEST_F(EmitCudaTest, Gpt2TinyCompilesWithNvrtc) {
  OwningOpRef<ModuleOp> module = compile("gpt2.sg", "gpt2_tiny");
  ASSERT_TRUE(module);
  std::string source = emitAndCompile(*module, 2);
  // Five groups in two functions: the layers share them.
  EXPECT_NE(source.find("strata_gelu_tanh_grad("), std::string::npos);
  EXPECT_NE(source.find("//   gelu_grad at "), std::string::npos);
  EXPECT_NE(source.find("gpt2.sg:"), std::string::npos);
}

TEST_F(EmitCudaTest, Gpt2TinyExportsAValidFusedPlan) {
  OwningOpRef<ModuleOp> module = compile("gpt2.sg", "gpt2_tiny");
  ASSERT_TRUE(module);
  FailureOr<fusion::CudaSource> source = fusion::emitCudaKernels(*module);
  ASSERT_TRUE(succeeded(source));
  plan::DeviceCode cuda;
  cuda.set_arch(fusion::kCudaArch.str());
  cuda.set_source(source->source);
  llvm::Expected<plan::Plan> exported = lowering::exportPlan(*module, &cuda);
  ASSERT_TRUE(static_cast<bool>(exported))
      << llvm::toString(exported.takeError());
  EXPECT_EQ(exported->version(), 2u);
  EXPECT_EQ(exported->cuda().source(), source->source);
  EXPECT_EQ(llvm::toString(runtime::validatePlan(*exported, "gpt2_tiny")), "");

  std::map<std::string, int> kinds;
  uint64_t localSpan = 0;
  for (const plan::Program *program : {&exported->grad(), &exported->apply()})
    for (const plan::Kernel &kernel : program->kernels()) {
      if (kernel.op() != "fused")
        continue;
      ++kinds[kernel.attrs().at("kind").s()];
      for (int id : kernel.locals()) {
        const plan::Buffer &local = exported->buffers(id);
        EXPECT_EQ(local.role(), plan::LOCAL) << local.name();
        localSpan = std::max(localSpan, local.offset() + local.size_bytes());
      }
      if (kernel.attrs().at("kind").s() == "elementwise") {
        // The iteration space: the elements of every output.
        int64_t elements = kernel.attrs().at("elements").i();
        for (int id : kernel.outputs()) {
          int64_t count = 1;
          for (int64_t dim : exported->buffers(id).shape())
            count *= dim;
          EXPECT_EQ(count, elements);
        }
      }
    }
  EXPECT_EQ(kinds["matmul_bias"], 6);
  EXPECT_EQ(kinds["matmul_bias_gelu"], 2);
  EXPECT_EQ(kinds["elementwise"], 5);
  EXPECT_EQ(kinds["adamw"], 1);
  EXPECT_EQ(kinds["cross_entropy"], 1);
  // The matmul products are the locals; the scratch holds the largest.
  EXPECT_EQ(exported->local_bytes(), localSpan);
  EXPECT_EQ(localSpan, uint64_t(8 * 64 * 256 * 4));

  // Through the file format and back.
  llvm::Expected<std::string> bytes = runtime::encodePlan(*exported);
  ASSERT_TRUE(static_cast<bool>(bytes));
  llvm::Expected<plan::Plan> back = runtime::decodePlan(*bytes, "gpt2_tiny");
  ASSERT_TRUE(static_cast<bool>(back));
  EXPECT_EQ(back->DebugString(), exported->DebugString());
}

TEST_F(EmitCudaTest, LlamaAndMoeTinyCompileWithNvrtc) {
  for (auto [file, model] :
       {std::pair("llama.sg", "llama_tiny"), std::pair("moe.sg", "moe_tiny")}) {
    SCOPED_TRACE(model);
    OwningOpRef<ModuleOp> module = compile(file, model);
    ASSERT_TRUE(module);
    emitAndCompile(*module, 2);
  }
}

TEST_F(EmitCudaTest, BroadcastsBf16AndSharedFunctions) {
  const char *ir = R"mlir(
    func.func @f(%x: memref<2x3x4xf32>, %b: memref<3x1xf32>, %c: memref<4xbf16>)
        -> (memref<2x3x4xbf16>, memref<2x3x4xbf16>) {
      %y = exec.alloc : memref<2x3x4xbf16>
      exec.fused "elementwise" ins(%a = %x, %d = %b, %e = %c) outs(%o = %y)
          : (memref<2x3x4xf32>, memref<3x1xf32>, memref<4xbf16>) -> memref<2x3x4xbf16> {
        %t = exec.alloc : memref<2x3x4xf32>
        exec.kernel "mul"(%a, %d) outs(%t) : (memref<2x3x4xf32>, memref<3x1xf32>) -> memref<2x3x4xf32>
        %u = exec.alloc : memref<2x3x4xbf16>
        exec.kernel "cast"(%t) outs(%u) : (memref<2x3x4xf32>) -> memref<2x3x4xbf16>
        exec.kernel "add"(%u, %e) outs(%o) : (memref<2x3x4xbf16>, memref<4xbf16>) -> memref<2x3x4xbf16>
      }
      %z = exec.alloc : memref<2x3x4xbf16>
      exec.fused "elementwise" ins(%a = %x, %d = %b, %e = %c) outs(%o = %z)
          : (memref<2x3x4xf32>, memref<3x1xf32>, memref<4xbf16>) -> memref<2x3x4xbf16> {
        %t = exec.alloc : memref<2x3x4xf32>
        exec.kernel "mul"(%a, %d) outs(%t) : (memref<2x3x4xf32>, memref<3x1xf32>) -> memref<2x3x4xf32>
        %u = exec.alloc : memref<2x3x4xbf16>
        exec.kernel "cast"(%t) outs(%u) : (memref<2x3x4xf32>) -> memref<2x3x4xbf16>
        exec.kernel "add"(%u, %e) outs(%o) : (memref<2x3x4xbf16>, memref<4xbf16>) -> memref<2x3x4xbf16>
      }
      return %y, %z : memref<2x3x4xbf16>, memref<2x3x4xbf16>
    })mlir";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(ir, &context);
  ASSERT_TRUE(module);
  FailureOr<fusion::CudaSource> source = fusion::emitCudaKernels(*module);
  ASSERT_TRUE(succeeded(source));
  EXPECT_EQ(source->numGroups, 2u);
  EXPECT_EQ(source->numFunctions, 1u);
  const std::string &text = source->source;
  // The ABI: inputs typed by dtype, then outputs, then n.
  EXPECT_NE(text.find("void strata_elementwise_0(const float *in0, const float "
                      "*in1, const __nv_bfloat16 *in2, __nv_bfloat16 *out0, "
                      "long long n)"),
            std::string::npos)
      << text;
  // [3, 1] over [2, 3, 4]: row (i / 4) % 3; [4]: i % 4.
  EXPECT_NE(text.find("strata_load(in1, ((i / 4) % 3))"), std::string::npos)
      << text;
  EXPECT_NE(text.find("strata_load(in2, (i % 4))"), std::string::npos) << text;
  // The cast to bf16 rounds as a bf16 buffer would.
  EXPECT_NE(text.find("strata_round_bf16("), std::string::npos) << text;
  EXPECT_NE(text.find("strata_store(out0, i, "), std::string::npos) << text;
  module->walk([](exec::FusedOp op) {
    EXPECT_EQ(op.getFunction(), "strata_elementwise_0");
  });
  if (fusion::haveNvrtc()) {
    llvm::Expected<fusion::CudaBinary> binary = fusion::compileCuda(text);
    EXPECT_TRUE(static_cast<bool>(binary))
        << llvm::toString(binary.takeError());
  }
}

TEST_F(EmitCudaTest, NvrtcErrorsCarryTheLog) {
  if (!fusion::haveNvrtc())
    GTEST_SKIP() << "built without NVRTC";
  llvm::Expected<fusion::CudaBinary> binary =
      fusion::compileCuda("extern \"C\" __global__ void k() { undeclared(); }");
  ASSERT_FALSE(static_cast<bool>(binary));
  std::string message = llvm::toString(binary.takeError());
  EXPECT_NE(message.find("NVRTC"), std::string::npos) << message;
  EXPECT_NE(message.find("undeclared"), std::string::npos) << message;
}

} // namespace
