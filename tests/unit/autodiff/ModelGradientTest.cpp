//===- ModelGradientTest.cpp - Whole example models against FD ------------===//
//
// The example models, shrunk through their named arguments, differentiated
// end to end; a random subset of every parameter's gradient entries is
// compared with central finite differences of the loss. Parameters are
// redrawn from N(0, 0.3) (their own initializers give gradients too small
// to see against f32 rounding), norm gains from 1 + N(0, 0.3).
//
//===----------------------------------------------------------------------===//

#include "AutodiffTestUtil.h"

using namespace mlir;
using namespace strata;
using namespace strata::autodifftest;

namespace {

class ModelGradientTest : public AutodiffTest {
protected:
  /// Imports and differentiates `model`, then checks `entries` random
  /// entries of each parameter's gradient. Integer inputs are drawn from
  /// [0, intBound).
  void check(llvm::StringRef file, llvm::StringRef model,
             std::vector<std::pair<std::string, std::string>> args,
             int64_t intBound, size_t entries, const Tolerance &tol = {}) {
    OwningOpRef<ModuleOp> module = importExample(file, model, std::move(args));
    ASSERT_TRUE(module);
    ASSERT_TRUE(differentiate(*module));

    std::mt19937 rng(42);
    auto state = interp::initializeParameters(*module, 7);
    ASSERT_TRUE(static_cast<bool>(state)) << llvm::toString(state.takeError());
    for (auto param : module->getOps<graph::ParamOp>()) {
      Tensor value =
          randomTensor(rng, param.getTensorType().getShape(), Values::Normal);
      bool gain = param.getInit() == graph::InitKind::ones;
      for (float &v : value.floats())
        v = (gain ? 1.0f : 0.0f) + 0.3f * v;
      (*state)[param.getSymName()] = std::move(value);
    }

    func::FuncOp forward = getFunc(*module);
    llvm::StringMap<Tensor> given;
    for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
      auto type = cast<RankedTensorType>(forward.getArgumentTypes()[i]);
      if (!type.getElementType().isInteger())
        continue;
      auto name = forward.getArgAttrOfType<StringAttr>(
          i, graph::GraphDialect::kNameAttrName);
      given[name.getValue()] = randomInts(rng, type.getShape(), intBound);
    }
    std::vector<Tensor> inputs = makeInputs(forward, rng, given);
    expectGradientsMatch(*module, inputs, std::move(*state), rng, tol, entries);
  }
};

TEST_F(ModelGradientTest, MnistMlp) {
  check("mlp.sg", "mnist_mlp",
        {{"B", "4"}, {"D", "6"}, {"hidden", "5"}, {"classes", "3"}},
        /*intBound=*/3, /*entries=*/SIZE_MAX);
}

TEST_F(ModelGradientTest, Gpt2Tiny) {
  check("gpt2.sg", "gpt2_tiny",
        {{"vocab", "7"},
         {"ctx", "4"},
         {"n_layer", "2"},
         {"n_head", "2"},
         {"d", "8"},
         {"B", "2"},
         {"T", "4"}},
        /*intBound=*/7, /*entries=*/6);
}

TEST_F(ModelGradientTest, LlamaTiny) {
  check("llama.sg", "llama_tiny",
        {{"vocab", "7"},
         {"n_layer", "2"},
         {"d", "8"},
         {"n_head", "4"},
         {"n_kv_head", "2"},
         {"hidden", "6"},
         {"B", "2"},
         {"T", "3"}},
        /*intBound=*/7, /*entries=*/6);
}

TEST_F(ModelGradientTest, MoeTiny) {
  check("moe.sg", "moe_tiny",
        {{"vocab", "7"},
         {"n_layer", "2"},
         {"n_dense", "1"},
         {"d", "8"},
         {"n_head", "2"},
         {"dense_hidden", "6"},
         {"n_expert", "4"},
         {"top_k", "2"},
         {"n_shared", "1"},
         {"expert_hidden", "4"},
         {"B", "2"},
         {"T", "3"}},
        /*intBound=*/7, /*entries=*/6);
}

} // namespace
