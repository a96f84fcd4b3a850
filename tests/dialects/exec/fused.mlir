// RUN: strata-opt %s | FileCheck %s
// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s

// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[X:.*]]: memref<4x8xf32>, %[[B:.*]]: memref<8xf32>)
func.func @elementwise(%x: memref<4x8xf32>, %b: memref<8xf32>) -> memref<4x8xf32> {
  // CHECK: %[[Y:.*]] = exec.alloc : memref<4x8xf32>
  %y = exec.alloc : memref<4x8xf32>
  // CHECK: exec.fused "elementwise" ins(%[[A0:.*]] = %[[X]], %[[A1:.*]] = %[[B]]) outs(%[[A2:.*]] = %[[Y]]) {function = "strata_elementwise_0"} : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32> {
  exec.fused "elementwise" ins(%a = %x, %c = %b) outs(%o = %y) {function = "strata_elementwise_0"}
      : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32> {
    // CHECK-NEXT: %[[T:.*]] = exec.alloc : memref<4x8xf32>
    %t = exec.alloc : memref<4x8xf32>
    // CHECK-NEXT: exec.kernel "add"(%[[A0]], %[[A1]]) outs(%[[T]])
    exec.kernel "add"(%a, %c) outs(%t) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
    // CHECK-NEXT: exec.kernel "relu"(%[[T]]) outs(%[[A2]])
    exec.kernel "relu"(%t) outs(%o) : (memref<4x8xf32>) -> memref<4x8xf32>
  // CHECK-NEXT: }
  }
  return %y : memref<4x8xf32>
}

exec.global @w : memref<4xf32> param zeros
exec.global @w.grad : memref<4xf32> state grad of @w
exec.global @w.m : memref<4xf32> state adam_m of @w
exec.global @w.v : memref<4xf32> state adam_v of @w

// A group without outputs: adamw_update writes its global inputs in place.
// CHECK-LABEL: func.func @adamw
// CHECK: exec.fused "adamw" ins(%{{.*}} = %{{.*}}, {{.*}}) : ({{.*}}) -> () {
// CHECK-NEXT: exec.kernel "adamw_update"
func.func @adamw(%step: memref<i32>, %lr: memref<f32>, %scale: memref<f32>) {
  %w = exec.global_ref @w : memref<4xf32>
  %g = exec.global_ref @w.grad : memref<4xf32>
  %m = exec.global_ref @w.m : memref<4xf32>
  %v = exec.global_ref @w.v : memref<4xf32>
  exec.fused "adamw" ins(%a = %w, %b = %g, %c = %m, %d = %v, %e = %lr, %f = %scale, %s = %step)
      : (memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<f32>, memref<f32>, memref<i32>) -> () {
    exec.kernel "adamw_update"(%a, %b, %c, %d, %e, %f, %s) attrs {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-8 : f64, weight_decay = 0.0 : f64}
        : (memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<f32>, memref<f32>, memref<i32>) -> ()
  }
  return
}

exec.global @u : memref<8x4xf32> param zeros
exec.global @u.grad : memref<8x4xf32> state grad of @u

// A weight gradient added to its global in place: the group has no outputs.
// CHECK-LABEL: func.func @matmul_accumulate
// CHECK: exec.fused "matmul_accumulate" ins(%[[X:.*]] = %{{.*}}, %[[DY:.*]] = %{{.*}}, %[[G:.*]] = %{{.*}}) : ({{.*}}) -> () {
// CHECK: exec.kernel "accumulate"(%[[G]], %{{.*}})
func.func @matmul_accumulate(%x: memref<16x8xbf16>, %dy: memref<16x4xbf16>) {
  %g = exec.global_ref @u.grad : memref<8x4xf32>
  exec.fused "matmul_accumulate" ins(%a = %x, %b = %dy, %c = %g)
      : (memref<16x8xbf16>, memref<16x4xbf16>, memref<8x4xf32>) -> () {
    %p = exec.alloc : memref<8x4xbf16>
    exec.kernel "matmul"(%a, %b) outs(%p) attrs {transpose_a} : (memref<16x8xbf16>, memref<16x4xbf16>) -> memref<8x4xbf16>
    %f = exec.alloc : memref<8x4xf32>
    exec.kernel "cast"(%p) outs(%f) : (memref<8x4xbf16>) -> memref<8x4xf32>
    exec.kernel "accumulate"(%c, %f) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  }
  return
}
