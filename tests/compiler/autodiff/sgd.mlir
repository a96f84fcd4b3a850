// RUN: strata-opt %s --strata-autodiff="optimizer=sgd lr=0.5 momentum=0.9 weight-decay=0.25 schedule=cosine warmup-steps=10 total-steps=100 min-lr=0.125" | FileCheck %s --check-prefix=MOMENTUM
// RUN: strata-opt %s --strata-autodiff="optimizer=sgd" | FileCheck %s --check-prefix=PLAIN

// SGD keeps a momentum buffer only when momentum != 0; the schedule options
// reach graph.lr_schedule and graph.training.

// MOMENTUM: graph.training = {
// MOMENTUM-SAME: min_lr = 1.250000e-01 : f64
// MOMENTUM-SAME: momentum = 9.000000e-01 : f64
// MOMENTUM-SAME: optimizer = "sgd"
// MOMENTUM-SAME: schedule = "cosine"
// MOMENTUM-SAME: total_steps = 100 : i64
// MOMENTUM-SAME: warmup_steps = 10 : i64
// MOMENTUM: graph.state @w.grad : tensor<3x2xf32> {kind = "grad", state_of = @w}
// MOMENTUM-NEXT: graph.state @w.momentum : tensor<3x2xf32> {kind = "momentum", state_of = @w}
// MOMENTUM-NEXT: graph.state @g.grad : tensor<2xf32> {kind = "grad", state_of = @g}
// MOMENTUM-NEXT: graph.state @g.momentum : tensor<2xf32> {kind = "momentum", state_of = @g}
// MOMENTUM-LABEL: func.func @model.apply(
// MOMENTUM-SAME: %[[STEP:.*]]: tensor<i32>
// MOMENTUM-NOT: graph.global_norm
// MOMENTUM: %[[SCALE:.*]] = graph.constant dense<1.000000e+00> : tensor<f32>
// MOMENTUM: %[[LR:.*]] = graph.lr_schedule cosine %[[STEP]] base_lr = 5.000000e-01 warmup_steps = 10 total_steps = 100 min_lr = 1.250000e-01
// MOMENTUM: graph.sgd_update @w, @w.grad, @w.momentum, %[[LR]], %[[SCALE]] momentum = 9.000000e-01 weight_decay = 2.500000e-01
// MOMENTUM: graph.sgd_update @g, @g.grad, @g.momentum, %[[LR]], %[[SCALE]] momentum = 9.000000e-01 weight_decay = 0.000000e+00
// MOMENTUM: graph.zero @w.grad
// MOMENTUM: graph.zero @g.grad

// PLAIN: graph.state @w.grad
// PLAIN-NEXT: graph.state @g.grad
// PLAIN-NOT: graph.state
// PLAIN: %[[LR:.*]] = graph.lr_schedule constant %{{.*}} base_lr = 1.000000e-03
// PLAIN: graph.sgd_update @w, @w.grad, %[[LR]], %{{.*}} momentum = 0.000000e+00 weight_decay = 0.000000e+00
graph.param @w : tensor<3x2xf32> = normal(0.0, 0.02)
graph.param @g : tensor<2xf32> = ones

func.func @model(%x: tensor<4x3xf32> {graph.name = "x"},
                 %t: tensor<4xi32> {graph.name = "t"}) -> tensor<f32>
    attributes {graph.model} {
  %w = graph.param_ref @w : tensor<3x2xf32>
  %g = graph.param_ref @g : tensor<2xf32>
  %0 = graph.matmul %x, %w : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %1 = graph.mul %0, %g : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %loss = graph.cross_entropy %1, %t : (tensor<4x2xf32>, tensor<4xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}
