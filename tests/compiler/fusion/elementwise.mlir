// RUN: strata-opt %s --strata-fuse=kinds=elementwise --split-input-file | FileCheck %s

// A chain over one iteration space: the bias broadcasts, the intermediate
// becomes a local, the last value the output.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: (%[[X:.*]]: memref<4x8xf32>, %[[B:.*]]: memref<8xf32>)
// CHECK: %[[Y:.*]] = exec.alloc : memref<4x8xf32>
// CHECK-NEXT: exec.fused "elementwise" ins(%[[A:.*]] = %[[X]], %[[C:.*]] = %[[B]]) outs(%[[O:.*]] = %[[Y]])
// CHECK-NEXT: %[[T:.*]] = exec.alloc : memref<4x8xf32>
// CHECK-NEXT: exec.kernel "add"(%[[A]], %[[C]]) outs(%[[T]])
// CHECK-NEXT: exec.kernel "tanh"(%[[T]]) outs(%[[O]])
// CHECK-NEXT: }
// CHECK-NEXT: return %[[Y]]
func.func @chain(%x: memref<4x8xf32>, %b: memref<8xf32>) -> memref<4x8xf32> {
  %0 = exec.alloc : memref<4x8xf32>
  exec.kernel "add"(%x, %b) outs(%0) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %1 = exec.alloc : memref<4x8xf32>
  exec.kernel "tanh"(%0) outs(%1) : (memref<4x8xf32>) -> memref<4x8xf32>
  return %1 : memref<4x8xf32>
}

// -----

// A value read outside the group is one of its outputs. A producer joins the
// group of its consumer, and a reshape is a view of the same elements.
// CHECK-LABEL: func.func @outputs_and_producers
// CHECK: exec.fused "elementwise" ins({{.*}}) outs(%{{.*}} = %[[E:.*]], %{{.*}} = %[[R:.*]]) : (memref<4x8xf32>, memref<4x8xf32>) -> (memref<4x8xf32>, memref<32xf32>)
// CHECK-NEXT: exec.kernel "exp"
// CHECK-NEXT: exec.alloc : memref<4x8xf32>
// CHECK-NEXT: exec.kernel "neg"
// CHECK-NEXT: exec.alloc : memref<4x8xf32>
// CHECK-NEXT: exec.kernel "mul"
// CHECK-NEXT: exec.kernel "reshape"
// CHECK-NEXT: }
// CHECK: exec.kernel "reduce"(%[[E]])
// CHECK: return %[[R]]
func.func @outputs_and_producers(%x: memref<4x8xf32>, %y: memref<4x8xf32>) -> memref<32xf32> {
  %e = exec.alloc : memref<4x8xf32>
  exec.kernel "exp"(%x) outs(%e) : (memref<4x8xf32>) -> memref<4x8xf32>
  %n = exec.alloc : memref<4x8xf32>
  exec.kernel "neg"(%y) outs(%n) : (memref<4x8xf32>) -> memref<4x8xf32>
  %m = exec.alloc : memref<4x8xf32>
  exec.kernel "mul"(%e, %n) outs(%m) : (memref<4x8xf32>, memref<4x8xf32>) -> memref<4x8xf32>
  %r = exec.alloc : memref<32xf32>
  exec.kernel "reshape"(%m) outs(%r) : (memref<4x8xf32>) -> memref<32xf32>
  %s = exec.alloc : memref<4xf32>
  exec.kernel "reduce"(%e) outs(%s) attrs {axes = array<i64: 1>, kind = #graph.reduce_kind<sum>} : (memref<4x8xf32>) -> memref<4xf32>
  return %r : memref<32xf32>
}

// -----

// bf16 values and casts between f32 and bf16 fuse.
// CHECK-LABEL: func.func @casts
// CHECK: exec.fused "elementwise"
// CHECK-NEXT: exec.alloc : memref<16xbf16>
// CHECK-NEXT: exec.kernel "cast"
// CHECK-NEXT: exec.kernel "gelu"
func.func @casts(%x: memref<16xf32>) -> memref<16xbf16> {
  %0 = exec.alloc : memref<16xbf16>
  exec.kernel "cast"(%x) outs(%0) : (memref<16xf32>) -> memref<16xbf16>
  %1 = exec.alloc : memref<16xbf16>
  exec.kernel "gelu"(%0) outs(%1) attrs {approximate = #graph.gelu_approx<tanh>} : (memref<16xbf16>) -> memref<16xbf16>
  return %1 : memref<16xbf16>
}

// -----

// Not fused: a lone kernel, a reshape chain that computes nothing, integer
// buffers, a kernel of another iteration space (the reduce-shaped exp).
// CHECK-LABEL: func.func @nothing_to_fuse
// CHECK-NOT: exec.fused
// CHECK: return
func.func @nothing_to_fuse(%x: memref<4x8xf32>, %i: memref<8xi32>) -> (memref<4x8xf32>, memref<2x16xf32>, memref<8xi32>, memref<4xf32>) {
  %0 = exec.alloc : memref<4x8xf32>
  exec.kernel "relu"(%x) outs(%0) : (memref<4x8xf32>) -> memref<4x8xf32>
  %1 = exec.alloc : memref<32xf32>
  exec.kernel "reshape"(%x) outs(%1) : (memref<4x8xf32>) -> memref<32xf32>
  %2 = exec.alloc : memref<2x16xf32>
  exec.kernel "reshape"(%1) outs(%2) : (memref<32xf32>) -> memref<2x16xf32>
  %3 = exec.alloc : memref<8xi32>
  exec.kernel "neg"(%i) outs(%3) : (memref<8xi32>) -> memref<8xi32>
  %4 = exec.alloc : memref<8xi32>
  exec.kernel "abs"(%3) outs(%4) : (memref<8xi32>) -> memref<8xi32>
  %5 = exec.alloc : memref<4xf32>
  exec.kernel "reduce"(%0) outs(%5) attrs {axes = array<i64: 1>, kind = #graph.reduce_kind<sum>} : (memref<4x8xf32>) -> memref<4xf32>
  %6 = exec.alloc : memref<4xf32>
  exec.kernel "exp"(%5) outs(%6) : (memref<4xf32>) -> memref<4xf32>
  return %0, %2, %4, %6 : memref<4x8xf32>, memref<2x16xf32>, memref<8xi32>, memref<4xf32>
}

// -----

exec.global @w : memref<8xf32> param zeros
exec.global @w.grad : memref<8xf32> state grad of @w

// The neg and the add cannot meet: the neg cannot sink below the accumulate,
// which reads its output, and the add cannot rise above it, since the
// accumulate writes @w.grad, which the add reads. Nothing fuses.
// CHECK-LABEL: func.func @effects_block_fusion
// CHECK-NOT: exec.fused
// CHECK: return
func.func @effects_block_fusion(%x: memref<8xf32>) -> memref<8xf32> {
  %g = exec.global_ref @w.grad : memref<8xf32>
  %0 = exec.alloc : memref<8xf32>
  exec.kernel "neg"(%x) outs(%0) : (memref<8xf32>) -> memref<8xf32>
  exec.kernel "accumulate"(%g, %0) : (memref<8xf32>, memref<8xf32>) -> ()
  %1 = exec.alloc : memref<8xf32>
  exec.kernel "add"(%0, %g) outs(%1) : (memref<8xf32>, memref<8xf32>) -> memref<8xf32>
  return %1 : memref<8xf32>
}

// -----

exec.global @w : memref<8xf32> param zeros
exec.global @w.grad : memref<8xf32> state grad of @w

// A kernel between the two that touches neither lets them meet at the
// second one: the zero of another buffer stays before the group.
// CHECK-LABEL: func.func @moves_past_unrelated_kernels
// CHECK: exec.kernel "zero"
// CHECK-NEXT: exec.alloc
// CHECK-NEXT: exec.fused "elementwise"
func.func @moves_past_unrelated_kernels(%x: memref<8xf32>) -> memref<8xf32> {
  %g = exec.global_ref @w.grad : memref<8xf32>
  %0 = exec.alloc : memref<8xf32>
  exec.kernel "neg"(%x) outs(%0) : (memref<8xf32>) -> memref<8xf32>
  exec.kernel "zero"(%g) : (memref<8xf32>) -> ()
  %1 = exec.alloc : memref<8xf32>
  exec.kernel "exp"(%0) outs(%1) : (memref<8xf32>) -> memref<8xf32>
  return %1 : memref<8xf32>
}
