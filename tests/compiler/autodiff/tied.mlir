// RUN: strata-opt %s --strata-autodiff="accumulate=4" | FileCheck %s

// Tied weights: @emb is read twice (the embedding lookup and the output
// projection); its two gradients are summed before the one accumulate. The
// seed is 1/accumulate. The gradients of slices that tile a value are
// concatenated, not added.

// CHECK: graph.training = {accumulate = 4 : i64

// CHECK-LABEL: func.func @lm.grad(
// CHECK-SAME: %[[TOK:.*]]: tensor<2x3xi32> {graph.name = "tokens"}
// CHECK: %[[SEED:.*]] = graph.constant dense<2.500000e-01> : tensor<f32>
// CHECK: %[[DLOGITS:.*]] = graph.cross_entropy_grad %{{.*}}, %{{.*}}, %[[SEED]]
// CHECK: %[[DLOGITS_ROWS:.*]] = graph.reshape %[[DLOGITS]] : tensor<2x3x5xf32> -> tensor<6x5xf32>
// CHECK: %[[DEMB_OUT:.*]] = graph.matmul %[[DLOGITS_ROWS]], %{{.*}} transpose_a : (tensor<6x5xf32>, tensor<6x4xf32>) -> tensor<5x4xf32>
// CHECK: %[[DQK:.*]] = graph.concat %{{.*}}, %{{.*}} axis = 2 : (tensor<2x3x2xf32>, tensor<2x3x2xf32>) -> tensor<2x3x4xf32>
// CHECK-NOT: graph.slice_grad
// CHECK: %[[DEMB_IN:.*]] = graph.gather_grad %[[DQK]][%[[TOK]]] : (tensor<2x3x4xf32>, tensor<2x3xi32>) -> tensor<5x4xf32>
// CHECK: %[[DEMB:.*]] = graph.add %[[DEMB_OUT]], %[[DEMB_IN]] : (tensor<5x4xf32>, tensor<5x4xf32>) -> tensor<5x4xf32>
// CHECK-NEXT: graph.accumulate @emb.grad, %[[DEMB]] : tensor<5x4xf32>
// CHECK-NOT: graph.accumulate
// CHECK: return
graph.param @emb : tensor<5x4xf32> = normal(0.0, 0.02)

func.func @lm(%tokens: tensor<2x3xi32> {graph.name = "tokens"},
              %targets: tensor<2x3xi32> {graph.name = "targets"}) -> tensor<f32>
    attributes {graph.model} {
  %table = graph.param_ref @emb : tensor<5x4xf32>
  %x = graph.gather %table[%tokens] : (tensor<5x4xf32>, tensor<2x3xi32>) -> tensor<2x3x4xf32>
  %a = graph.slice %x axis = 2 start = 0 end = 2 : tensor<2x3x4xf32> -> tensor<2x3x2xf32>
  %b = graph.slice %x axis = 2 start = 2 end = 4 : tensor<2x3x4xf32> -> tensor<2x3x2xf32>
  %ab = graph.mul %a, %b : (tensor<2x3x2xf32>, tensor<2x3x2xf32>) -> tensor<2x3x2xf32>
  %h = graph.concat %ab, %b axis = 2 : (tensor<2x3x2xf32>, tensor<2x3x2xf32>) -> tensor<2x3x4xf32>
  %out = graph.param_ref @emb : tensor<5x4xf32>
  %logits = graph.matmul %h, %out transpose_b : (tensor<2x3x4xf32>, tensor<5x4xf32>) -> tensor<2x3x5xf32>
  %loss = graph.cross_entropy %logits, %targets : (tensor<2x3x5xf32>, tensor<2x3xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}
