//===- Passes.td - strata-autodiff ---------------------------*- tablegen -*-===//

#ifndef STRATA_AUTODIFF_PASSES_TD
#define STRATA_AUTODIFF_PASSES_TD

include "mlir/Pass/PassBase.td"

def StrataAutodiff : Pass<"strata-autodiff", "::mlir::ModuleOp"> {
  let summary = "Adds the training step: gradients of the loss and the "
                "optimizer update";
  let description = [{
    Differentiates the model's loss function `@M` (the function marked
    `graph.model`, or the one named by `func`) in reverse mode and adds what
    one training step needs, keeping `@M` as it is:

    - one `graph.state` per parameter `@p`: `@p.grad` (kind `grad`), plus
      `@p.m` and `@p.v` (`adam_m`, `adam_v`) for AdamW or `@p.momentum`
      (`momentum`) for SGD with momentum;
    - `@M.grad` (`graph.step = "grad"`), with `@M`'s arguments: the forward
      ops, then the gradient of each op (the rules of
      `DifferentiableOpInterface`, seeded with d(loss) = 1 / accumulate),
      then one `graph.accumulate` into `@p.grad` per parameter the loss
      depends on (the gradients of several reads of one parameter, such as
      tied embeddings, are summed first). It returns the loss. Running it
      `accumulate` times sums the mean gradient of the micro-batches.
    - `@M.apply` (`graph.step = "apply"`), taking the 1-based step: the
      global gradient norm and the clipping scale
      `min(1, clip-norm / (norm + 1e-6))` (1 without clipping), the learning
      rate of the schedule, one `graph.adamw_update` or `graph.sgd_update`
      per parameter (weight decay only on parameters of rank >= 2: matrices
      and embeddings, not biases or norm gains), then `graph.zero` on every
      gradient;
    - the module attribute `graph.training`, a dictionary of all the options
      (`optimizer`, `lr`, `beta1`, `beta2`, `epsilon`, `weight_decay`,
      `momentum`, `clip_norm`, `schedule`, `warmup_steps`, `total_steps`,
      `min_lr`, `accumulate`) for the plan exporter.

    Only ops on a path from a parameter to the loss are differentiated; an
    op there without a gradient rule, a loss that is not one `tensor<f32>`,
    or inconsistent options are located errors.

    Before (`--strata-autodiff="clip-norm=1.0"`):

    ```mlir
    graph.param @w : tensor<4x3xf32> = normal(0.0, 0.02)
    func.func @m(%x: tensor<2x4xf32> {graph.name = "x"},
                 %t: tensor<2xi32> {graph.name = "t"}) -> tensor<f32>
        attributes {graph.model} {
      %w = graph.param_ref @w : tensor<4x3xf32>
      %y = graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
      %l = graph.cross_entropy %y, %t : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
      return %l : tensor<f32>
    }
    ```

    After (`@m` unchanged):

    ```mlir
    module attributes {graph.training = {accumulate = 1 : i64, beta1 = 9.000000e-01 : f64, ...}} {
      graph.param @w : tensor<4x3xf32> = normal(0.0, 0.02)
      graph.state @w.grad : tensor<4x3xf32> {kind = "grad", state_of = @w}
      graph.state @w.m : tensor<4x3xf32> {kind = "adam_m", state_of = @w}
      graph.state @w.v : tensor<4x3xf32> {kind = "adam_v", state_of = @w}
      func.func @m(...) -> tensor<f32> attributes {graph.model} { ... }
      func.func @m.grad(%x: tensor<2x4xf32> {graph.name = "x"},
                        %t: tensor<2xi32> {graph.name = "t"}) -> tensor<f32>
          attributes {graph.step = "grad"} {
        %w = graph.param_ref @w : tensor<4x3xf32>
        %y = graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
        %l = graph.cross_entropy %y, %t : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
        %seed = graph.constant dense<1.000000e+00> : tensor<f32>
        %dy = graph.cross_entropy_grad %y, %t, %seed
            : (tensor<2x3xf32>, tensor<2xi32>, tensor<f32>) -> tensor<2x3xf32>
        %dw = graph.matmul %x, %dy transpose_a
            : (tensor<2x4xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
        graph.accumulate @w.grad, %dw : tensor<4x3xf32>
        return %l : tensor<f32>
      }
      func.func @m.apply(%step: tensor<i32> {graph.name = "step"})
          attributes {graph.step = "apply"} {
        %g = graph.param_ref @w.grad : tensor<4x3xf32>
        %norm = graph.global_norm %g : tensor<4x3xf32>
        %eps = graph.constant dense<9.99999997E-7> : tensor<f32>
        %den = graph.add %norm, %eps : (tensor<f32>, tensor<f32>) -> tensor<f32>
        %clip = graph.constant dense<1.000000e+00> : tensor<f32>
        %ratio = graph.div %clip, %den : (tensor<f32>, tensor<f32>) -> tensor<f32>
        %one = graph.constant dense<1.000000e+00> : tensor<f32>
        %scale = graph.minimum %one, %ratio : (tensor<f32>, tensor<f32>) -> tensor<f32>
        %lr = graph.lr_schedule constant %step base_lr = 1.000000e-03
        graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %scale, %step
            beta1 = 9.000000e-01 beta2 = 0.99899999999999999 epsilon = 1.000000e-08
            weight_decay = 0.000000e+00
        graph.zero @w.grad
        return
      }
    }
    ```
  }];
  let dependentDialects = ["::strata::graph::GraphDialect",
                           "::mlir::func::FuncDialect"];
  let options = [
    Option<"funcName", "func", "std::string", /*default=*/"\"\"",
           "The loss function to differentiate (default: the function "
           "marked graph.model)">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"adamw\"",
           "adamw or sgd">,
    Option<"lr", "lr", "double", /*default=*/"1e-3",
           "Base learning rate">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9",
           "AdamW: decay of the first moment">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999",
           "AdamW: decay of the second moment">,
    Option<"epsilon", "epsilon", "double", /*default=*/"1e-8",
           "AdamW: added to the root of the second moment">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0",
           "Weight decay of the parameters of rank >= 2">,
    Option<"momentum", "momentum", "double", /*default=*/"0.0",
           "SGD: momentum (0 = plain SGD, no momentum state)">,
    Option<"clipNorm", "clip-norm", "double", /*default=*/"0.0",
           "Clip the global gradient norm to this (0 = no clipping)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"constant\"",
           "Learning-rate schedule after warmup: constant or cosine">,
    Option<"warmupSteps", "warmup-steps", "int64_t", /*default=*/"0",
           "Steps of linear warmup from 0 to lr">,
    Option<"totalSteps", "total-steps", "int64_t", /*default=*/"0",
           "Cosine: the step at which the rate reaches min-lr">,
    Option<"minLr", "min-lr", "double", /*default=*/"0.0",
           "Cosine: the final learning rate">,
    Option<"accumulate", "accumulate", "int64_t", /*default=*/"1",
           "Micro-batches (runs of @M.grad) per optimizer step">,
  ];
}

#endif // STRATA_AUTODIFF_PASSES_TD
