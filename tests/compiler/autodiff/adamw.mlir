// RUN: strata-opt %s --strata-autodiff="lr=0.01 weight-decay=0.1 clip-norm=1.0 beta2=0.5" | FileCheck %s

// A two-layer perceptron: the states of every parameter, the backward pass in
// @mlp.grad, and the AdamW step in @mlp.apply (weight decay on the matrices
// only).

// CHECK-LABEL: module attributes {graph.training = {
// CHECK-SAME: accumulate = 1 : i64
// CHECK-SAME: beta2 = 5.000000e-01 : f64
// CHECK-SAME: clip_norm = 1.000000e+00 : f64
// CHECK-SAME: lr = 1.000000e-02 : f64
// CHECK-SAME: optimizer = "adamw"
// CHECK-SAME: schedule = "constant"
// CHECK-SAME: weight_decay = 1.000000e-01 : f64

// CHECK: graph.param @w1
// CHECK: graph.param @b2
// CHECK-NEXT: graph.state @w1.grad : tensor<4x3xf32> {kind = "grad", state_of = @w1}
// CHECK-NEXT: graph.state @w1.m : tensor<4x3xf32> {kind = "adam_m", state_of = @w1}
// CHECK-NEXT: graph.state @w1.v : tensor<4x3xf32> {kind = "adam_v", state_of = @w1}
// CHECK-NEXT: graph.state @b1.grad : tensor<3xf32> {kind = "grad", state_of = @b1}
// CHECK: graph.state @b2.v : tensor<2xf32> {kind = "adam_v", state_of = @b2}
graph.param @w1 : tensor<4x3xf32> = normal(0.0, 0.02)
graph.param @b1 : tensor<3xf32> = zeros
graph.param @w2 : tensor<3x2xf32> = normal(0.0, 0.02)
graph.param @b2 : tensor<2xf32> = zeros

// The forward function stays as it is.
// CHECK-LABEL: func.func @mlp(
// CHECK-SAME: attributes {graph.model}
// CHECK-NOT: graph.accumulate
// CHECK: return

// CHECK-LABEL: func.func @mlp.grad(
// CHECK-SAME: %[[X:.*]]: tensor<5x4xf32> {graph.name = "x"}, %[[T:.*]]: tensor<5xi32> {graph.name = "t"}) -> tensor<f32>
// CHECK-SAME: attributes {graph.step = "grad"}
// CHECK: %[[H:.*]] = graph.relu
// CHECK: %[[W2:.*]] = graph.param_ref @w2
// CHECK: %[[Y:.*]] = graph.add
// CHECK: %[[LOSS:.*]] = graph.cross_entropy %[[Y]], %[[T]]
// CHECK: %[[SEED:.*]] = graph.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DY:.*]] = graph.cross_entropy_grad %[[Y]], %[[T]], %[[SEED]]
// Bias: the gradient summed over the broadcast batch dimension.
// CHECK: %[[DB2:.*]] = graph.reduce sum %[[DY]] axes = [0] : tensor<5x2xf32> -> tensor<2xf32>
// CHECK: %[[DH:.*]] = graph.matmul %[[DY]], %[[W2]] transpose_b
// CHECK: %[[DW2:.*]] = graph.matmul %[[H]], %[[DY]] transpose_a
// CHECK: graph.accumulate @b2.grad, %[[DB2]] : tensor<2xf32>
// CHECK: graph.accumulate @w2.grad, %[[DW2]] : tensor<3x2xf32>
// CHECK: graph.unary_grad relu %{{.*}}, %[[H]], %[[DH]]
// CHECK: graph.accumulate @b1.grad
// CHECK: graph.accumulate @w1.grad
// CHECK: return %[[LOSS]] : tensor<f32>

// CHECK-LABEL: func.func @mlp.apply(
// CHECK-SAME: %[[STEP:.*]]: tensor<i32> {graph.name = "step"})
// CHECK-SAME: attributes {graph.step = "apply"}
// CHECK: %[[G1:.*]] = graph.param_ref @w1.grad : tensor<4x3xf32>
// CHECK: %[[G4:.*]] = graph.param_ref @b2.grad : tensor<2xf32>
// CHECK: %[[NORM:.*]] = graph.global_norm %[[G1]], %{{.*}}, %{{.*}}, %[[G4]]
// CHECK: %[[EPS:.*]] = graph.constant dense<9.99999997E-7> : tensor<f32>
// CHECK: %[[DEN:.*]] = graph.add %[[NORM]], %[[EPS]]
// CHECK: %[[CLIP:.*]] = graph.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[RATIO:.*]] = graph.div %[[CLIP]], %[[DEN]]
// CHECK: %[[ONE:.*]] = graph.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[SCALE:.*]] = graph.minimum %[[ONE]], %[[RATIO]]
// CHECK: %[[LR:.*]] = graph.lr_schedule constant %[[STEP]] base_lr = 1.000000e-02
// CHECK: graph.adamw_update @w1, @w1.grad, @w1.m, @w1.v, %[[LR]], %[[SCALE]], %[[STEP]] beta1 = 9.000000e-01 beta2 = 5.000000e-01 epsilon = 1.000000e-08 weight_decay = 1.000000e-01
// CHECK: graph.adamw_update @b1, @b1.grad, @b1.m, @b1.v, %[[LR]], %[[SCALE]], %[[STEP]] {{.*}} weight_decay = 0.000000e+00
// CHECK: graph.adamw_update @w2, {{.*}} weight_decay = 1.000000e-01
// CHECK: graph.adamw_update @b2, {{.*}} weight_decay = 0.000000e+00
// CHECK: graph.zero @w1.grad
// CHECK: graph.zero @b1.grad
// CHECK: graph.zero @w2.grad
// CHECK: graph.zero @b2.grad
// CHECK-NEXT: return
func.func @mlp(%x: tensor<5x4xf32> {graph.name = "x"},
               %t: tensor<5xi32> {graph.name = "t"}) -> tensor<f32>
    attributes {graph.model} {
  %w1 = graph.param_ref @w1 : tensor<4x3xf32>
  %b1 = graph.param_ref @b1 : tensor<3xf32>
  %0 = graph.matmul %x, %w1 : (tensor<5x4xf32>, tensor<4x3xf32>) -> tensor<5x3xf32>
  %1 = graph.add %0, %b1 : (tensor<5x3xf32>, tensor<3xf32>) -> tensor<5x3xf32>
  %h = graph.relu %1 : tensor<5x3xf32>
  %w2 = graph.param_ref @w2 : tensor<3x2xf32>
  %b2 = graph.param_ref @b2 : tensor<2xf32>
  %2 = graph.matmul %h, %w2 : (tensor<5x3xf32>, tensor<3x2xf32>) -> tensor<5x2xf32>
  %y = graph.add %2, %b2 : (tensor<5x2xf32>, tensor<2xf32>) -> tensor<5x2xf32>
  %loss = graph.cross_entropy %y, %t : (tensor<5x2xf32>, tensor<5xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}
