//===- Passes.td - strata-autocast ---------------------------*- tablegen -*-===//

#ifndef STRATA_PRECISION_PASSES_TD
#define STRATA_PRECISION_PASSES_TD

include "mlir/Pass/PassBase.td"

def StrataAutocast : Pass<"strata-autocast", "::mlir::ModuleOp"> {
  let summary = "bf16 mixed precision: inserts graph.cast where ops change "
                "precision (PyTorch autocast)";
  let description = [{
    Runs before `strata-autodiff` on every function of a model. Each graph op
    gets the element type it computes in from the rules below, its float
    operands are converted with `graph.cast` where they differ, and its
    result types follow (operand order, shapes and attributes are kept):

    - `matmul`, `attention`: bf16 (the kernels accumulate in f32). This is
      autocast's "lower precision" list.
    - `layer_norm`, `rms_norm`, `softmax`, `log_softmax`, `reduce`, `exp`,
      `log`, `rsqrt`, `pow`: f32 (autocast's "fp32" list).
    - `add sub mul div maximum minimum`, `concat`, `moe_combine`: the widest
      float type of their operands (PyTorch's type promotion), so the f32
      residual stream stays f32. A `graph.constant` operand counts only when
      every float operand is one, as a Python scalar does in PyTorch. One
      exception: `matmul(x, w) + b` with `b` of shape `[N]` is a dense layer
      (`nn.Linear`, which autocast runs in bf16 as a whole), so the bias is
      cast to bf16 and the sum stays bf16.
    - every other op computes in the type of its input: `gelu`, `silu`,
      `relu`, reshapes, transposes, slices, `rope`, ... of a bf16 value stay
      bf16. `cross_entropy` reads bf16 logits as they are: its result is f32
      and its kernels compute in f32, so an f32 copy of the logits would cost
      memory and change no bit.
    - an op with `graph.precision = "f32"` or `"bf16"` computes in that type
      whatever its kind.

    Only f32, bf16 and f16 values are converted (not f64, not integers).
    Parameters stay f32: a parameter is cast once per function however many
    ops read it, and every cast of a value is shared by all of its users.
    Function results keep their types. With `precision=f32` the pass changes
    nothing. Autodiff differentiates through the casts (the gradient of a
    cast casts back), so every parameter's gradient and optimizer state stay
    f32.

    Before (`--strata-autocast`):

    ```mlir
    func.func @m(%x: tensor<2x4xf32> {graph.name = "x"},
                 %t: tensor<2xi32> {graph.name = "t"}) -> tensor<f32>
        attributes {graph.model} {
      %w = graph.param_ref @w : tensor<4x3xf32>
      %b = graph.param_ref @b : tensor<3xf32>
      %y = graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
      %z = graph.add %y, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
      %s = graph.softmax %z axis = 1 : tensor<2x3xf32>
      %l = graph.cross_entropy %s, %t : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
      return %l : tensor<f32>
    }
    ```

    After:

    ```mlir
    func.func @m(%x: tensor<2x4xf32> {graph.name = "x"},
                 %t: tensor<2xi32> {graph.name = "t"}) -> tensor<f32>
        attributes {graph.model} {
      %xh = graph.cast %x : tensor<2x4xf32> -> tensor<2x4xbf16>
      %w = graph.param_ref @w : tensor<4x3xf32>
      %wh = graph.cast %w : tensor<4x3xf32> -> tensor<4x3xbf16>
      %b = graph.param_ref @b : tensor<3xf32>
      %bh = graph.cast %b : tensor<3xf32> -> tensor<3xbf16>
      %y = graph.matmul %xh, %wh : (tensor<2x4xbf16>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
      %z = graph.add %y, %bh : (tensor<2x3xbf16>, tensor<3xbf16>) -> tensor<2x3xbf16>
      %zf = graph.cast %z : tensor<2x3xbf16> -> tensor<2x3xf32>
      %s = graph.softmax %zf axis = 1 : tensor<2x3xf32>
      %l = graph.cross_entropy %s, %t : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
      return %l : tensor<f32>
    }
    ```

    Errors: an unknown `precision`; a module that strata-autodiff has
    already trained (a `graph.state`, a `graph.step` function or the
    `graph.training` attribute).
  }];
  let dependentDialects = ["::strata::graph::GraphDialect"];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"bf16\"",
           "bf16 (mixed precision) or f32 (no change)">,
  ];
}

#endif // STRATA_PRECISION_PASSES_TD
