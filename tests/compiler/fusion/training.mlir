// RUN: strata-opt %s --strata-fuse --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-fuse=kinds=elementwise --split-input-file | FileCheck %s --check-prefix=NONE

exec.global @w : memref<8xf32> param zeros
exec.global @w.grad : memref<8xf32> state grad of @w
exec.global @w.m : memref<8xf32> state adam_m of @w
exec.global @w.v : memref<8xf32> state adam_v of @w
exec.global @b : memref<4xf32> param zeros
exec.global @b.grad : memref<4xf32> state grad of @b
exec.global @b.m : memref<4xf32> state adam_m of @b
exec.global @b.v : memref<4xf32> state adam_v of @b

// The optimizer updates become one group; the global_refs of the second
// parameter rise above it, and the zeros stay after it.
// CHECK-LABEL: func.func @apply
// CHECK: exec.global_ref @b.v
// CHECK-NEXT: exec.fused "adamw" ins({{.*}}) : ({{.*}}) -> () {
// CHECK-NEXT: exec.kernel "adamw_update"
// CHECK-NEXT: exec.kernel "adamw_update"
// CHECK-NEXT: {{^ +}}}{{$}}
// CHECK-NEXT: exec.kernel "zero"
// NONE-LABEL: func.func @apply
// NONE-NOT: exec.fused
func.func @apply(%step: memref<i32> {exec.input = "step"}) attributes {exec.step = "apply"} {
  %one = exec.alloc : memref<f32>
  exec.kernel "constant"() outs(%one) attrs {value = dense<1.0> : tensor<f32>} : () -> memref<f32>
  %lr = exec.alloc : memref<f32>
  exec.kernel "lr_schedule"(%step) outs(%lr) attrs {base_lr = 1.0e-3 : f64, kind = #graph.lr_schedule_kind<constant>, min_lr = 0.0 : f64, total_steps = 0 : i64, warmup_steps = 0 : i64} : (memref<i32>) -> memref<f32>
  %w = exec.global_ref @w : memref<8xf32>
  %wg = exec.global_ref @w.grad : memref<8xf32>
  %wm = exec.global_ref @w.m : memref<8xf32>
  %wv = exec.global_ref @w.v : memref<8xf32>
  exec.kernel "adamw_update"(%w, %wg, %wm, %wv, %lr, %one, %step) attrs {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-8 : f64, weight_decay = 0.0 : f64} : (memref<8xf32>, memref<8xf32>, memref<8xf32>, memref<8xf32>, memref<f32>, memref<f32>, memref<i32>) -> ()
  %b = exec.global_ref @b : memref<4xf32>
  %bg = exec.global_ref @b.grad : memref<4xf32>
  %bm = exec.global_ref @b.m : memref<4xf32>
  %bv = exec.global_ref @b.v : memref<4xf32>
  exec.kernel "adamw_update"(%b, %bg, %bm, %bv, %lr, %one, %step) attrs {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-8 : f64, weight_decay = 0.0 : f64} : (memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<f32>, memref<f32>, memref<i32>) -> ()
  exec.kernel "zero"(%wg) : (memref<8xf32>) -> ()
  exec.kernel "zero"(%bg) : (memref<4xf32>) -> ()
  return
}

// -----

exec.global @w : memref<8xf32> param zeros
exec.global @w.grad : memref<8xf32> state grad of @w
exec.global @w.m : memref<8xf32> state adam_m of @w
exec.global @w.v : memref<8xf32> state adam_v of @w

// An update that reads what a kernel between the two updates writes stays
// alone: zero(@w.grad) comes between the two reads of @w.grad.
// CHECK-LABEL: func.func @apply_blocked
// CHECK-NOT: exec.fused
// CHECK: return
func.func @apply_blocked(%step: memref<i32>, %lr: memref<f32>, %one: memref<f32>) {
  %w = exec.global_ref @w : memref<8xf32>
  %wg = exec.global_ref @w.grad : memref<8xf32>
  %wm = exec.global_ref @w.m : memref<8xf32>
  %wv = exec.global_ref @w.v : memref<8xf32>
  exec.kernel "adamw_update"(%w, %wg, %wm, %wv, %lr, %one, %step) attrs {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-8 : f64, weight_decay = 0.0 : f64} : (memref<8xf32>, memref<8xf32>, memref<8xf32>, memref<8xf32>, memref<f32>, memref<f32>, memref<i32>) -> ()
  %wg2 = exec.global_ref @w.grad : memref<8xf32>
  exec.kernel "zero"(%wg2) : (memref<8xf32>) -> ()
  exec.kernel "adamw_update"(%w, %wg, %wm, %wv, %lr, %one, %step) attrs {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-8 : f64, weight_decay = 0.0 : f64} : (memref<8xf32>, memref<8xf32>, memref<8xf32>, memref<8xf32>, memref<f32>, memref<f32>, memref<i32>) -> ()
  return
}

// -----

// cross_entropy and its gradient on the same logits meet at the gradient;
// the constant seed between them stays before the group.
// CHECK-LABEL: func.func @loss
// CHECK: exec.kernel "constant"
// CHECK-NEXT: exec.alloc : memref<4x8xf32>
// CHECK-NEXT: exec.fused "cross_entropy" ins(%[[L:.*]] = %{{.*}}, %[[T:.*]] = %{{.*}}, %[[S:.*]] = %{{.*}}) outs(%[[O:.*]] = %{{.*}}, %[[D:.*]] = %{{.*}})
// CHECK-NEXT: exec.kernel "cross_entropy"(%[[L]], %[[T]]) outs(%[[O]])
// CHECK-NEXT: exec.kernel "cross_entropy_grad"(%[[L]], %[[T]], %[[S]]) outs(%[[D]])
// NONE-LABEL: func.func @loss
// NONE-NOT: exec.fused
func.func @loss(%logits: memref<4x8xf32>, %t: memref<4xi32>) -> (memref<f32>, memref<4x8xf32>) {
  %l = exec.alloc : memref<f32>
  exec.kernel "cross_entropy"(%logits, %t) outs(%l) : (memref<4x8xf32>, memref<4xi32>) -> memref<f32>
  %s = exec.alloc : memref<f32>
  exec.kernel "constant"() outs(%s) attrs {value = dense<1.0> : tensor<f32>} : () -> memref<f32>
  %d = exec.alloc : memref<4x8xf32>
  exec.kernel "cross_entropy_grad"(%logits, %t, %s) outs(%d) : (memref<4x8xf32>, memref<4xi32>, memref<f32>) -> memref<4x8xf32>
  return %l, %d : memref<f32>, memref<4x8xf32>
}

// -----

// Other targets: two losses, no group.
// CHECK-LABEL: func.func @other_targets
// CHECK-NOT: exec.fused
func.func @other_targets(%logits: memref<4x8xf32>, %t: memref<4xi32>, %u: memref<4xi32>, %s: memref<f32>) -> (memref<f32>, memref<4x8xf32>) {
  %l = exec.alloc : memref<f32>
  exec.kernel "cross_entropy"(%logits, %t) outs(%l) : (memref<4x8xf32>, memref<4xi32>) -> memref<f32>
  %d = exec.alloc : memref<4x8xf32>
  exec.kernel "cross_entropy_grad"(%logits, %u, %s) outs(%d) : (memref<4x8xf32>, memref<4xi32>, memref<f32>) -> memref<4x8xf32>
  return %l, %d : memref<f32>, memref<4x8xf32>
}
