// RUN: strata-opt %s | FileCheck %s
// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s

// CHECK: exec.global @w : memref<4x8xf32> param normal(0.000000e+00, 2.000000e-02)
exec.global @w : memref<4x8xf32> param normal(0.0, 0.02)
// CHECK: exec.global @b : memref<8xf32> param zeros
exec.global @b : memref<8xf32> param zeros
// CHECK: exec.global @c : memref<8xf32> param constant(5.000000e-01) {note = "kept"}
exec.global @c : memref<8xf32> param constant(0.5) {note = "kept"}
// CHECK: exec.global @w.grad : memref<4x8xf32> state grad of @w
exec.global @w.grad : memref<4x8xf32> state grad of @w
// CHECK: exec.global @w.m : memref<4x8xf32> state adam_m of @w
exec.global @w.m : memref<4x8xf32> state adam_m of @w

// CHECK-LABEL: func.func @step
// CHECK-SAME: (%[[X:.*]]: memref<2x4xf32> {exec.input = "x"}) -> memref<2x8xf32>
// CHECK-SAME: attributes {exec.arena_bytes = 128 : i64, exec.lower_bound_bytes = 64 : i64, exec.model, exec.naive_bytes = 128 : i64}
func.func @step(%x: memref<2x4xf32> {exec.input = "x"}) -> memref<2x8xf32>
    attributes {exec.model, exec.arena_bytes = 128 : i64,
                exec.lower_bound_bytes = 64 : i64, exec.naive_bytes = 128 : i64} {
  // CHECK: %[[W:.*]] = exec.global_ref @w : memref<4x8xf32>
  %w = exec.global_ref @w : memref<4x8xf32>
  // CHECK: %[[Y:.*]] = exec.alloc offset = 0 : memref<2x8xf32>
  %y = exec.alloc offset = 0 : memref<2x8xf32>
  // CHECK: exec.kernel "matmul"(%[[X]], %[[W]]) outs(%[[Y]]) : (memref<2x4xf32>, memref<4x8xf32>) -> memref<2x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%y) : (memref<2x4xf32>, memref<4x8xf32>) -> memref<2x8xf32>
  // CHECK: %[[Z:.*]] = exec.alloc : memref<2x8xf32>
  %z = exec.alloc : memref<2x8xf32>
  // CHECK: exec.kernel "gelu"(%[[Y]]) outs(%[[Z]]) attrs {approximate = #graph.gelu_approx<tanh>}
  exec.kernel "gelu"(%y) outs(%z) attrs {approximate = #graph.gelu_approx<tanh>} : (memref<2x8xf32>) -> memref<2x8xf32>
  // CHECK: %[[G:.*]] = exec.global_ref @w.grad
  %g = exec.global_ref @w.grad : memref<4x8xf32>
  // CHECK: exec.kernel "zero"(%[[G]]) : (memref<4x8xf32>) -> ()
  exec.kernel "zero"(%g) : (memref<4x8xf32>) -> ()
  %v = exec.alloc : memref<2x2xf32>
  %i = exec.alloc : memref<2x2xi32>
  // CHECK: exec.kernel "topk"(%{{.*}}) outs(%{{.*}}, %{{.*}}) attrs {k = 2 : i64}
  exec.kernel "topk"(%z) outs(%v, %i) attrs {k = 2 : i64} : (memref<2x8xf32>) -> (memref<2x2xf32>, memref<2x2xi32>)
  // CHECK: exec.kernel "concat"(%{{.*}}, %{{.*}}) outs
  %cat = exec.alloc : memref<4x8xf32>
  exec.kernel "concat"(%y, %z) outs(%cat) attrs {axis = 0 : i64} : (memref<2x8xf32>, memref<2x8xf32>) -> memref<4x8xf32>
  return %z : memref<2x8xf32>
}
