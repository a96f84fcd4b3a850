// RUN: strata-opt %s --strata-lower-to-exec --split-input-file | FileCheck %s

// CHECK: exec.global @w : memref<4x8xf32> param normal(0.000000e+00, 2.000000e-02)
// CHECK: exec.global @b : memref<8xf32> param zeros
// CHECK-NOT: graph.
graph.param @w : tensor<4x8xf32> = normal(0.0, 0.02) {graph.sparsity = "2:4"}
graph.param @b : tensor<8xf32> = zeros

// CHECK-LABEL: func.func @mlp
// CHECK-SAME: (%[[X:.*]]: memref<2x4xf32> {exec.input = "x"}, %[[T:.*]]: memref<2xi32> {exec.input = "targets"}) -> memref<f32>
// CHECK-SAME: attributes {exec.model}
func.func @mlp(%x: tensor<2x4xf32> {graph.name = "x"},
               %t: tensor<2xi32> {graph.name = "targets"}) -> tensor<f32>
    attributes {graph.model} {
  // CHECK: %[[W:.*]] = exec.global_ref @w : memref<4x8xf32>
  %w = graph.param_ref @w : tensor<4x8xf32>
  %b = graph.param_ref @b : tensor<8xf32>
  // CHECK: %[[B:.*]] = exec.global_ref @b : memref<8xf32>
  // CHECK: %[[H:.*]] = exec.alloc : memref<2x8xf32>
  // CHECK: exec.kernel "matmul"(%[[X]], %[[W]]) outs(%[[H]]) : (memref<2x4xf32>, memref<4x8xf32>) -> memref<2x8xf32>
  %h = graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
  // CHECK: %[[HB:.*]] = exec.alloc : memref<2x8xf32>
  // CHECK: exec.kernel "add"(%[[H]], %[[B]]) outs(%[[HB]])
  %hb = graph.add %h, %b : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  // CHECK: %[[G:.*]] = exec.alloc : memref<2x8xf32>
  // CHECK: exec.kernel "gelu"(%[[HB]]) outs(%[[G]]) attrs {approximate = #graph.gelu_approx<tanh>}
  %g = graph.gelu %hb approximate = tanh {graph.precision = "bf16"} : tensor<2x8xf32>
  // Default-valued attributes are spelled out.
  // CHECK: exec.kernel "gelu"(%[[G]]) outs(%{{.*}}) attrs {approximate = #graph.gelu_approx<none>}
  %g2 = graph.gelu %g : tensor<2x8xf32>
  // CHECK: %[[V:.*]] = exec.alloc : memref<2x3xf32>
  // CHECK: %[[I:.*]] = exec.alloc : memref<2x3xi32>
  // CHECK: exec.kernel "topk"(%{{.*}}) outs(%[[V]], %[[I]]) attrs {k = 3 : i64} : (memref<2x8xf32>) -> (memref<2x3xf32>, memref<2x3xi32>)
  %v, %i = graph.topk %g2 k = 3 : tensor<2x8xf32> -> (tensor<2x3xf32>, tensor<2x3xi32>)
  // CHECK: exec.kernel "reduce"(%[[V]]) outs(%{{.*}}) attrs {axes = array<i64: 1>, keepdim, kind = #graph.reduce_kind<sum>}
  %s = graph.reduce sum %v axes = [1] keepdim : tensor<2x3xf32> -> tensor<2x1xf32>
  // CHECK: exec.kernel "constant"() outs(%{{.*}}) attrs {value = dense<1.000000e+00> : tensor<2x3xf32>} : () -> memref<2x3xf32>
  %c = graph.constant dense<1.0> : tensor<2x3xf32>
  // CHECK: %[[L:.*]] = exec.alloc : memref<f32>
  // CHECK: exec.kernel "cross_entropy"(%{{.*}}, %[[T]]) outs(%[[L]])
  %l = graph.cross_entropy %c, %t : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
  // CHECK: return %[[L]] : memref<f32>
  return %l : tensor<f32>
}

// -----

// State ops take the buffers of the globals they name first, in the order of
// the training spec, and write no outputs.

// CHECK: exec.global @w : memref<4xf32> param ones
// CHECK: exec.global @w.grad : memref<4xf32> state grad of @w
// CHECK: exec.global @w.m : memref<4xf32> state adam_m of @w
// CHECK: exec.global @w.v : memref<4xf32> state adam_v of @w
// CHECK: exec.global @u : memref<4xf32> param zeros
// CHECK: exec.global @u.grad : memref<4xf32> state grad of @u
// CHECK: exec.global @u.momentum : memref<4xf32> state momentum of @u
graph.param @w : tensor<4xf32> = ones
graph.state @w.grad : tensor<4xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<4xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<4xf32> {kind = "adam_v", state_of = @w}
graph.param @u : tensor<4xf32> = zeros
graph.state @u.grad : tensor<4xf32> {kind = "grad", state_of = @u}
graph.state @u.momentum : tensor<4xf32> {kind = "momentum", state_of = @u}

// CHECK-LABEL: func.func @state
// CHECK-SAME: (%[[DW:.*]]: memref<4xf32>, %[[LR:.*]]: memref<f32>, %[[SC:.*]]: memref<f32>, %[[STEP:.*]]: memref<i32>)
func.func @state(%dw: tensor<4xf32>, %lr: tensor<f32>, %scale: tensor<f32>,
                 %step: tensor<i32>) {
  // CHECK: %[[G:.*]] = exec.global_ref @w.grad : memref<4xf32>
  // CHECK: exec.kernel "accumulate"(%[[G]], %[[DW]]) : (memref<4xf32>, memref<4xf32>) -> ()
  graph.accumulate @w.grad, %dw : tensor<4xf32>
  // CHECK: %[[W:.*]] = exec.global_ref @w : memref<4xf32>
  // CHECK: %[[G2:.*]] = exec.global_ref @w.grad : memref<4xf32>
  // CHECK: %[[M:.*]] = exec.global_ref @w.m : memref<4xf32>
  // CHECK: %[[V:.*]] = exec.global_ref @w.v : memref<4xf32>
  // CHECK: exec.kernel "adamw_update"(%[[W]], %[[G2]], %[[M]], %[[V]], %[[LR]], %[[SC]], %[[STEP]])
  // CHECK-SAME: attrs {beta1 = 9.000000e-01 : f64, beta2 = {{.*}} : f64, epsilon = 1.000000e-08 : f64, weight_decay = 1.000000e-01 : f64}
  graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %scale, %step
      beta1 = 0.9 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = 0.1
  // CHECK: exec.kernel "sgd_update"(%{{.*}}, %{{.*}}, %{{.*}}, %[[LR]], %[[SC]]) attrs {momentum = 9.000000e-01 : f64
  graph.sgd_update @u, @u.grad, @u.momentum, %lr, %scale
      momentum = 0.9 weight_decay = 0.0
  // CHECK: exec.kernel "sgd_update"(%{{.*}}, %{{.*}}, %[[LR]], %[[SC]]) attrs {momentum = 0.000000e+00 : f64
  graph.sgd_update @u, @u.grad, %lr, %scale momentum = 0.0 weight_decay = 0.0
  // CHECK: %[[Z:.*]] = exec.global_ref @w.grad : memref<4xf32>
  // CHECK: exec.kernel "zero"(%[[Z]]) : (memref<4xf32>) -> ()
  graph.zero @w.grad
  // A state read like a parameter.
  // CHECK: exec.global_ref @w.m : memref<4xf32>
  %m = graph.param_ref @w.m : tensor<4xf32>
  // CHECK: exec.kernel "global_norm"
  %n = graph.global_norm %m, %dw : tensor<4xf32>, tensor<4xf32>
  return
}
