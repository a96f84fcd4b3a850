//===- AutodiffTestUtil.h - Helpers of the strata-autodiff tests -*- C++
//-*-===//
//
// Builds or imports a model, runs strata-autodiff on it, and compares the
// gradients that @M.grad accumulates into the `.grad` states with central
// finite differences of @M, all through the reference interpreter.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TESTS_UNIT_AUTODIFF_AUTODIFFTESTUTIL_H
#define STRATA_TESTS_UNIT_AUTODIFF_AUTODIFFTESTUTIL_H

#include "strata/Autodiff/Passes.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"
#include "strata/Frontend/Import.h"
#include "strata/Interp/GraphInterpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace strata::autodifftest {

using interp::ParamMap;
using interp::Tensor;

/// The repository's examples/ folder, found from this file's path.
inline std::string examplesDir() {
  llvm::SmallString<256> path(__FILE__);
  for (int i = 0; i < 4; ++i)
    llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, "examples");
  return std::string(path);
}

/// How the random values of a tensor are drawn.
enum class Values {
  /// N(0, 1).
  Normal,
  /// U(0.5, 1.5): for log, sqrt, rsqrt and the base of pow.
  Positive,
  /// +-U(0.2, 1): away from the kinks of relu and abs at 0.
  AwayFromZero,
  /// A random permutation of 0.3 * (0, 1, ..., n-1) - 0.3 * (n / 2):
  /// distinct multiples of 0.3, for max, min and topk.
  Distinct,
  /// Distinct + 0.15: never within 0.15 of a Distinct value.
  DistinctOffset,
};

inline Tensor randomTensor(std::mt19937 &rng, llvm::ArrayRef<int64_t> shape,
                           Values kind = Values::Normal) {
  Tensor tensor(interp::DType::F32, shape);
  llvm::MutableArrayRef<float> values = tensor.floats();
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  switch (kind) {
  case Values::Normal:
    for (float &v : values)
      v = normal(rng);
    break;
  case Values::Positive:
    for (float &v : values)
      v = 0.5f + uniform(rng);
    break;
  case Values::AwayFromZero:
    for (float &v : values)
      v = (uniform(rng) < 0.5f ? -1.0f : 1.0f) * (0.2f + 0.8f * uniform(rng));
    break;
  case Values::Distinct:
  case Values::DistinctOffset: {
    int n = static_cast<int>(values.size());
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i)
      order[i] = i - n / 2;
    std::shuffle(order.begin(), order.end(), rng);
    float offset = kind == Values::DistinctOffset ? 0.15f : 0.0f;
    for (int i = 0; i < n; ++i)
      values[i] = 0.3f * order[i] + offset;
    break;
  }
  }
  return tensor;
}

/// Integers uniform in [0, bound), as i32.
inline Tensor randomInts(std::mt19937 &rng, llvm::ArrayRef<int64_t> shape,
                         int64_t bound) {
  Tensor tensor(interp::DType::I32, shape);
  std::uniform_int_distribution<int64_t> dist(0, bound - 1);
  for (int64_t &v : tensor.ints())
    v = dist(rng);
  return tensor;
}

/// Tolerances of a finite-difference comparison: |fd - grad| <= atol +
/// rtol * |grad|, where atol is `atol` times the largest |grad| of the
/// parameter (gradients of one tensor share a scale) plus `floor`.
struct Tolerance {
  double step = 1e-2;
  double rtol = 2e-2;
  double atol = 5e-3;
  double floor = 1e-5;
};

class AutodiffTest : public ::testing::Test {
protected:
  AutodiffTest() {
    mlir::DialectRegistry registry;
    registry.insert<graph::GraphDialect, mlir::func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Parses a module; the test fails on a parse error.
  mlir::OwningOpRef<mlir::ModuleOp> parse(llvm::StringRef source) {
    auto module =
        mlir::parseSourceString<mlir::ModuleOp>(source, &context, "test.mlir");
    EXPECT_TRUE(module) << "parse error in:\n" << source.str();
    return module;
  }

  /// Imports `model` from examples/`file` with `args` overriding its named
  /// arguments.
  mlir::OwningOpRef<mlir::ModuleOp>
  importExample(llvm::StringRef file, llvm::StringRef model,
                std::vector<std::pair<std::string, std::string>> args) {
    std::string path = examplesDir() + "/" + file.str();
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer) {
      ADD_FAILURE() << "cannot read " << path;
      return nullptr;
    }
    llvm::SourceMgr sourceMgr;
    unsigned id =
        sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    sg::ImportOptions options{model.str(), std::move(args)};
    auto module = sg::importModel(sourceMgr, id, &context, options);
    EXPECT_TRUE(module) << "cannot import " << model.str();
    return module;
  }

  /// Runs strata-autodiff (and the verifier) on `module`; diagnostics go to
  /// the failure message.
  ::testing::AssertionResult
  differentiate(mlir::ModuleOp module,
                const autodiff::StrataAutodiffOptions &options = {}) {
    std::string messages;
    mlir::ScopedDiagnosticHandler handler(&context,
                                          [&](mlir::Diagnostic &diag) {
                                            messages += diag.str() + "\n";
                                            return mlir::success();
                                          });
    mlir::PassManager pm(&context);
    pm.addPass(autodiff::createStrataAutodiff(options));
    if (mlir::failed(pm.run(module)))
      return ::testing::AssertionFailure() << "strata-autodiff failed:\n"
                                           << messages;
    return ::testing::AssertionSuccess();
  }

  /// The loss function (marked graph.model) and its @M.grad / @M.apply.
  static mlir::func::FuncOp getFunc(mlir::ModuleOp module,
                                    llvm::StringRef suffix = "") {
    for (auto func : module.getOps<mlir::func::FuncOp>())
      if (func->hasAttr(graph::GraphDialect::kModelAttrName))
        return suffix.empty() ? func
                              : module.lookupSymbol<mlir::func::FuncOp>(
                                    (func.getSymName() + suffix).str());
    return nullptr;
  }

  /// Random inputs for `func`'s arguments: floats from N(0, 1) unless
  /// `given` names the argument (by graph.name); integer arguments must be
  /// given.
  static std::vector<Tensor> makeInputs(mlir::func::FuncOp func,
                                        std::mt19937 &rng,
                                        const llvm::StringMap<Tensor> &given) {
    std::vector<Tensor> inputs;
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      auto name = func.getArgAttrOfType<mlir::StringAttr>(
          i, graph::GraphDialect::kNameAttrName);
      auto it = name ? given.find(name.getValue()) : given.end();
      if (it != given.end()) {
        inputs.push_back(it->second);
        continue;
      }
      auto type =
          mlir::cast<mlir::RankedTensorType>(func.getArgumentTypes()[i]);
      EXPECT_TRUE(mlir::isa<mlir::FloatType>(type.getElementType()))
          << "no value given for integer argument #" << i;
      inputs.push_back(randomTensor(rng, type.getShape()));
    }
    return inputs;
  }

  /// Runs @M.grad once from `state` (zero gradient states) and checks the
  /// accumulated gradient of every parameter against central differences of
  /// @M: all entries, or `maxEntries` random ones per parameter. `state`
  /// holds the parameter values the check starts from.
  static void expectGradientsMatch(mlir::ModuleOp module,
                                   llvm::ArrayRef<Tensor> inputs,
                                   ParamMap state, std::mt19937 &rng,
                                   const Tolerance &tol = {},
                                   size_t maxEntries = SIZE_MAX) {
    mlir::func::FuncOp forward = getFunc(module);
    mlir::func::FuncOp grad = getFunc(module, ".grad");
    ASSERT_TRUE(forward && grad);
    ParamMap params = state;
    auto loss = interp::evaluateStep(grad, inputs, state);
    ASSERT_TRUE(static_cast<bool>(loss)) << llvm::toString(loss.takeError());
    auto forwardLoss = interp::evaluate(forward, inputs, params);
    ASSERT_TRUE(static_cast<bool>(forwardLoss))
        << llvm::toString(forwardLoss.takeError());
    EXPECT_EQ(loss->front().floats().front(),
              forwardLoss->front().floats().front())
        << "@M.grad returns the forward loss";

    auto lossAt = [&](ParamMap &values) -> double {
      auto result = interp::evaluate(forward, inputs, values);
      EXPECT_TRUE(static_cast<bool>(result))
          << llvm::toString(result.takeError());
      return result ? result->front().floats().front() : NAN;
    };

    size_t checked = 0;
    for (auto param : module.getOps<graph::ParamOp>()) {
      llvm::StringRef name = param.getSymName();
      llvm::ArrayRef<float> computed = state[(name + ".grad").str()].floats();
      ASSERT_EQ(computed.size(), params[name].floats().size()) << name.str();
      std::vector<size_t> entries(computed.size());
      for (size_t i = 0; i < entries.size(); ++i)
        entries[i] = i;
      if (entries.size() > maxEntries) {
        std::shuffle(entries.begin(), entries.end(), rng);
        entries.resize(maxEntries);
      }
      double scale = 0;
      for (float g : computed)
        scale = std::max(scale, static_cast<double>(std::fabs(g)));
      for (size_t i : entries) {
        float &value = params[name].floats()[i];
        float saved = value;
        value = saved + static_cast<float>(tol.step);
        double plus = lossAt(params);
        value = saved - static_cast<float>(tol.step);
        double minus = lossAt(params);
        value = saved;
        double fd = (plus - minus) / (2 * tol.step);
        double g = computed[i];
        EXPECT_NEAR(g, fd,
                    tol.floor + tol.atol * scale + tol.rtol * std::fabs(g))
            << "d loss / d " << name.str() << "[" << i << "]";
        ++checked;
      }
    }
    EXPECT_GT(checked, 0u);
  }

  mlir::MLIRContext context;
};

} // namespace strata::autodifftest

#endif // STRATA_TESTS_UNIT_AUTODIFF_AUTODIFFTESTUTIL_H
