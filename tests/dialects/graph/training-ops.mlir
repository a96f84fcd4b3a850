// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --canonicalize --cse | FileCheck %s --check-prefix=CANON

// Every training op (gradients, state, optimizer), printed, parsed again and
// printed once more; and the state-writing ops survive canonicalize/CSE.

graph.param @w : tensor<8x16xf32> = normal(0.0, 0.02)
graph.param @b : tensor<16xf32> = zeros

// CHECK: graph.state @w.grad : tensor<8x16xf32> {kind = "grad", state_of = @w}
graph.state @w.grad : tensor<8x16xf32> {kind = "grad", state_of = @w}
// CHECK: graph.state @w.m : tensor<8x16xf32> {kind = "adam_m", state_of = @w}
graph.state @w.m : tensor<8x16xf32> {state_of = @w, kind = "adam_m"}
// CHECK: graph.state @w.v : tensor<8x16xf32> {kind = "adam_v", state_of = @w}
graph.state @w.v : tensor<8x16xf32> {kind = "adam_v", state_of = @w}
// CHECK: graph.state @b.grad : tensor<16xf32> {kind = "grad", state_of = @b}
graph.state @b.grad : tensor<16xf32> {kind = "grad", state_of = @b}
// CHECK: graph.state @b.momentum : tensor<16xf32> {kind = "momentum", state_of = @b}
graph.state @b.momentum : tensor<16xf32> {kind = "momentum", state_of = @b}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<4x8xf32>, %b: tensor<8xf32>, %g: tensor<4x8xf32>)
    -> (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = graph.binary_grad mul %{{.*}}, %{{.*}}, %{{.*}} : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>)
  %da, %db = graph.binary_grad mul %a, %b, %g
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>)
  // CHECK: graph.binary_grad pow
  %pa, %pb = graph.binary_grad pow %a, %b, %g
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>)
  %y = graph.tanh %a : tensor<4x8xf32>
  // CHECK: graph.unary_grad tanh %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8xf32>
  %dx = graph.unary_grad tanh %a, %y, %g : tensor<4x8xf32>
  // CHECK: graph.unary_grad silu
  %ds = graph.unary_grad silu %a, %y, %g : tensor<4x8xf32>
  // CHECK: graph.gelu_grad %{{.*}}, %{{.*}} : tensor<4x8xf32>
  %dg = graph.gelu_grad %a, %g : tensor<4x8xf32>
  // CHECK: graph.gelu_grad %{{.*}}, %{{.*}} approximate = tanh : tensor<4x8xf32>
  %dt = graph.gelu_grad %a, %g approximate = tanh : tensor<4x8xf32>
  return %pa, %db, %dx, %dg, %dt : tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<4x8xf32>, %y: tensor<4x1xf32>, %g: tensor<4x1xf32>,
                      %d: tensor<4x8xf32>, %w: tensor<8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) {
  // CHECK: graph.reduce_grad max %{{.*}}, %{{.*}}, %{{.*}} axes = [1] keepdim : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %dr = graph.reduce_grad max %x, %y, %g axes = [1] keepdim
      : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  // CHECK: graph.reduce_grad mean %{{.*}} axes = [0, 1] : (tensor<4x8xf32>, tensor<f32>, tensor<f32>) -> tensor<4x8xf32>
  %s = graph.reduce mean %x axes = [0, 1] : tensor<4x8xf32> -> tensor<f32>
  %dm = graph.reduce_grad mean %x, %s, %s axes = [0, 1]
      : (tensor<4x8xf32>, tensor<f32>, tensor<f32>) -> tensor<4x8xf32>
  // CHECK: graph.softmax_grad %{{.*}}, %{{.*}} axis = 1 : tensor<4x8xf32>
  %dp = graph.softmax_grad %x, %d axis = 1 : tensor<4x8xf32>
  // CHECK: graph.log_softmax_grad %{{.*}}, %{{.*}} axis = 0 : tensor<4x8xf32>
  %dl = graph.log_softmax_grad %x, %d axis = 0 : tensor<4x8xf32>
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = graph.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}} epsilon = 1.000000e-05 : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>)
  %lx, %lw, %lb = graph.layer_norm_grad %x, %w, %d epsilon = 1.0e-5
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>)
      -> (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: %{{.*}}, %{{.*}} = graph.rms_norm_grad %{{.*}}, %{{.*}}, %{{.*}} epsilon = 1.000000e-05 : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>)
  %rx, %rw = graph.rms_norm_grad %x, %w, %d epsilon = 1.0e-5
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>)
  return %dr, %dp, %dl, %lb, %rw : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>
}

// CHECK-LABEL: func.func @transformer
func.func @transformer(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>,
                       %v: tensor<2x2x8x16xf32>, %g: tensor<2x4x8x16xf32>,
                       %dy: tensor<2x3x8xf32>, %tok: tensor<2x3xi32>,
                       %logits: tensor<6x65xf32>, %t: tensor<6xi32>, %dl: tensor<f32>,
                       %s: tensor<4x3xf32>)
    -> (tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<65x8xf32>, tensor<4x8xf32>, tensor<6x65xf32>) {
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = graph.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} scale = 2.500000e-01 causal : (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>) -> (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>)
  %dq, %dk, %dv = graph.attention_grad %q, %k, %v, %g scale = 0.25 causal
      : (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>)
      -> (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>)
  // CHECK: graph.rope_grad %{{.*}} theta = 1.000000e+04 : tensor<2x4x8x16xf32>
  %dr = graph.rope_grad %g theta = 1.0e4 : tensor<2x4x8x16xf32>
  // CHECK: graph.gather_grad %{{.*}}[%{{.*}}] : (tensor<2x3x8xf32>, tensor<2x3xi32>) -> tensor<65x8xf32>
  %dt = graph.gather_grad %dy[%tok] : (tensor<2x3x8xf32>, tensor<2x3xi32>) -> tensor<65x8xf32>
  // CHECK: graph.slice_grad %{{.*}} axis = 1 start = 2 end = 5 : tensor<4x3xf32> -> tensor<4x8xf32>
  %ds = graph.slice_grad %s axis = 1 start = 2 end = 5 : tensor<4x3xf32> -> tensor<4x8xf32>
  // CHECK: graph.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<6x65xf32>, tensor<6xi32>, tensor<f32>) -> tensor<6x65xf32>
  %dlog = graph.cross_entropy_grad %logits, %t, %dl
      : (tensor<6x65xf32>, tensor<6xi32>, tensor<f32>) -> tensor<6x65xf32>
  return %dk, %dr, %dt, %ds, %dlog : tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<65x8xf32>, tensor<4x8xf32>, tensor<6x65xf32>
}

// CHECK-LABEL: func.func @moe
func.func @moe(%e: tensor<4x3x8xf32>, %idx: tensor<6x2xi32>, %w: tensor<6x2xf32>,
               %dy: tensor<6x8xf32>, %tv: tensor<6x2xf32>)
    -> (tensor<6x8xf32>, tensor<4x3x8xf32>, tensor<6x2xf32>, tensor<6x5xf32>) {
  // CHECK: graph.moe_dispatch_grad %{{.*}}, %{{.*}} : (tensor<4x3x8xf32>, tensor<6x2xi32>) -> tensor<6x8xf32>
  %dx = graph.moe_dispatch_grad %e, %idx : (tensor<4x3x8xf32>, tensor<6x2xi32>) -> tensor<6x8xf32>
  // CHECK: %{{.*}}, %{{.*}} = graph.moe_combine_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<4x3x8xf32>, tensor<6x2xi32>, tensor<6x2xf32>, tensor<6x8xf32>) -> (tensor<4x3x8xf32>, tensor<6x2xf32>)
  %de, %dw = graph.moe_combine_grad %e, %idx, %w, %dy
      : (tensor<4x3x8xf32>, tensor<6x2xi32>, tensor<6x2xf32>, tensor<6x8xf32>)
      -> (tensor<4x3x8xf32>, tensor<6x2xf32>)
  // CHECK: graph.topk_grad %{{.*}}, %{{.*}} : (tensor<6x2xf32>, tensor<6x2xi32>) -> tensor<6x5xf32>
  %dk = graph.topk_grad %tv, %idx : (tensor<6x2xf32>, tensor<6x2xi32>) -> tensor<6x5xf32>
  return %dx, %de, %dw, %dk : tensor<6x8xf32>, tensor<4x3x8xf32>, tensor<6x2xf32>, tensor<6x5xf32>
}

// CHECK-LABEL: func.func @grad_step
// CANON-LABEL: func.func @grad_step
func.func @grad_step(%dw: tensor<8x16xf32>, %db: tensor<16xf32>) {
  // CHECK: graph.accumulate @w.grad, %{{.*}} : tensor<8x16xf32>
  // CANON: graph.accumulate @w.grad
  graph.accumulate @w.grad, %dw : tensor<8x16xf32>
  // CHECK: graph.accumulate @b.grad, %{{.*}} : tensor<16xf32>
  // CANON: graph.accumulate @b.grad
  graph.accumulate @b.grad, %db : tensor<16xf32>
  return
}

// CHECK-LABEL: func.func @apply
// CHECK-SAME: (%[[STEP:.*]]: tensor<i32>)
// CANON-LABEL: func.func @apply
func.func @apply(%step: tensor<i32>) {
  // CHECK: %[[GW:.*]] = graph.param_ref @w.grad : tensor<8x16xf32>
  %gw = graph.param_ref @w.grad : tensor<8x16xf32>
  %gb = graph.param_ref @b.grad : tensor<16xf32>
  // CHECK: %[[N:.*]] = graph.global_norm %[[GW]], %{{.*}} : tensor<8x16xf32>, tensor<16xf32>
  %norm = graph.global_norm %gw, %gb : tensor<8x16xf32>, tensor<16xf32>
  // CHECK: %[[LR:.*]] = graph.lr_schedule cosine %[[STEP]] base_lr = 1.000000e-03 warmup_steps = 10 total_steps = 100 min_lr = 1.000000e-04
  %lr = graph.lr_schedule cosine %step base_lr = 1.0e-3 warmup_steps = 10 total_steps = 100 min_lr = 1.0e-4
  // CHECK: graph.lr_schedule constant %[[STEP]] base_lr = 1.000000e-03{{$}}
  %lr2 = graph.lr_schedule constant %step base_lr = 1.0e-3
  // CHECK: graph.adamw_update @w, @w.grad, @w.m, @w.v, %[[LR]], %[[N]], %[[STEP]] beta1 = 9.000000e-01 beta2 = 0.99899999999999999 epsilon = 1.000000e-08 weight_decay = 1.000000e-01
  // CANON: graph.adamw_update @w, @w.grad, @w.m, @w.v
  graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %norm, %step
      beta1 = 0.9 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = 0.1
  // CHECK: graph.sgd_update @b, @b.grad, @b.momentum, %[[LR]], %[[N]] momentum = 9.000000e-01 weight_decay = 0.000000e+00
  // CANON: graph.sgd_update @b, @b.grad, @b.momentum
  graph.sgd_update @b, @b.grad, @b.momentum, %lr, %norm momentum = 0.9 weight_decay = 0.0
  // CHECK: graph.sgd_update @b, @b.grad, %[[LR]], %[[N]] momentum = 0.000000e+00 weight_decay = 0.000000e+00
  // CANON: graph.sgd_update @b, @b.grad, %{{.*}}, %{{.*}} momentum
  graph.sgd_update @b, @b.grad, %lr, %norm momentum = 0.0 weight_decay = 0.0
  // CHECK: graph.zero @w.grad{{$}}
  // CANON: graph.zero @w.grad
  graph.zero @w.grad
  // CANON: graph.zero @b.grad
  graph.zero @b.grad
  return
}

// graph.param_ref reads its symbol: CSE merges two reads of one state, but not
// a read after a graph.zero of it with one before; an unused read is dead.
// CHECK-LABEL: func.func @read_across_write
// CANON-LABEL: func.func @read_across_write
func.func @read_across_write() -> (tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  // CANON-NEXT: %[[BEFORE:.*]] = graph.param_ref @w.grad
  // CANON-NEXT: graph.zero @w.grad
  // CANON-NEXT: %[[AFTER:.*]] = graph.param_ref @w.grad
  // CANON-NEXT: return %[[BEFORE]], %[[BEFORE]], %[[AFTER]]
  %a = graph.param_ref @w.grad : tensor<8x16xf32>
  %a2 = graph.param_ref @w.grad : tensor<8x16xf32>
  %unused = graph.param_ref @b.grad : tensor<16xf32>
  graph.zero @w.grad
  %b = graph.param_ref @w.grad : tensor<8x16xf32>
  return %a, %a2, %b : tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}
