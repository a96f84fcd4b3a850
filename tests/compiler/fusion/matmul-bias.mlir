// RUN: strata-opt %s --strata-fuse --split-input-file | FileCheck %s

// matmul + bias: the product is a local, the sum the output.
// CHECK-LABEL: func.func @linear
// CHECK: exec.fused "matmul_bias" ins(%[[A:.*]] = %{{.*}}, %[[W:.*]] = %{{.*}}, %[[B:.*]] = %{{.*}}) outs(%[[O:.*]] = %{{.*}})
// CHECK-NEXT: %[[P:.*]] = exec.alloc : memref<4x8xf32>
// CHECK-NEXT: exec.kernel "matmul"(%[[A]], %[[W]]) outs(%[[P]]) attrs {transpose_b}
// CHECK-NEXT: exec.kernel "add"(%[[P]], %[[B]]) outs(%[[O]])
func.func @linear(%x: memref<4x16xf32>, %w: memref<8x16xf32>, %b: memref<8xf32>) -> memref<4x8xf32> {
  %0 = exec.alloc : memref<4x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%0) attrs {transpose_b} : (memref<4x16xf32>, memref<8x16xf32>) -> memref<4x8xf32>
  %1 = exec.alloc : memref<4x8xf32>
  exec.kernel "add"(%0, %b) outs(%1) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  return %1 : memref<4x8xf32>
}

// -----

// matmul + bias + gelu (tanh); the sum stays an output because the gelu
// gradient reads it (cuBLASLt's aux output).
// CHECK-LABEL: func.func @mlp
// CHECK: exec.fused "matmul_bias_gelu" ins({{.*}}) outs(%[[S:.*]] = %[[SUM:.*]], %[[G:.*]] = %[[GELU:.*]]) : ({{.*}}) -> (memref<4x8xf32>, memref<4x8xf32>) {
// CHECK-NEXT: exec.alloc : memref<4x8xf32>
// CHECK-NEXT: exec.kernel "matmul"
// CHECK-NEXT: exec.kernel "add"({{.*}}) outs(%[[S]])
// CHECK-NEXT: exec.kernel "gelu"(%[[S]]) outs(%[[G]])
// CHECK: exec.kernel "gelu_grad"(%[[SUM]], %[[GELU]])
func.func @mlp(%x: memref<4x16xf32>, %w: memref<16x8xf32>, %b: memref<8xf32>) -> memref<4x8xf32> {
  %0 = exec.alloc : memref<4x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%0) : (memref<4x16xf32>, memref<16x8xf32>) -> memref<4x8xf32>
  %1 = exec.alloc : memref<4x8xf32>
  exec.kernel "add"(%0, %b) outs(%1) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %2 = exec.alloc : memref<4x8xf32>
  exec.kernel "gelu"(%1) outs(%2) attrs {approximate = #graph.gelu_approx<tanh>} : (memref<4x8xf32>) -> memref<4x8xf32>
  %3 = exec.alloc : memref<4x8xf32>
  exec.kernel "gelu_grad"(%1, %2) outs(%3) attrs {approximate = #graph.gelu_approx<tanh>} : (memref<4x8xf32>, memref<4x8xf32>) -> memref<4x8xf32>
  return %3 : memref<4x8xf32>
}

// -----

// Only matmul_bias when the gelu is the erf one.
// CHECK-LABEL: func.func @erf_gelu
// CHECK: exec.fused "matmul_bias"
// CHECK-NOT: exec.fused
// CHECK: exec.kernel "gelu"
func.func @erf_gelu(%x: memref<4x16xf32>, %w: memref<16x8xf32>, %b: memref<8xf32>) -> memref<4x8xf32> {
  %0 = exec.alloc : memref<4x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%0) : (memref<4x16xf32>, memref<16x8xf32>) -> memref<4x8xf32>
  %1 = exec.alloc : memref<4x8xf32>
  exec.kernel "add"(%0, %b) outs(%1) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %2 = exec.alloc : memref<4x8xf32>
  exec.kernel "gelu"(%1) outs(%2) attrs {approximate = #graph.gelu_approx<none>} : (memref<4x8xf32>) -> memref<4x8xf32>
  return %2 : memref<4x8xf32>
}

// -----

// Not fused: the product has another reader; the addend is no [N] bias.
// CHECK-LABEL: func.func @not_a_bias
// CHECK-NOT: exec.fused
// CHECK: return
func.func @not_a_bias(%x: memref<4x16xf32>, %w: memref<16x8xf32>, %b: memref<8xf32>, %r: memref<4x8xf32>) -> (memref<4x8xf32>, memref<4x8xf32>, memref<4x8xf32>) {
  %0 = exec.alloc : memref<4x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%0) : (memref<4x16xf32>, memref<16x8xf32>) -> memref<4x8xf32>
  %1 = exec.alloc : memref<4x8xf32>
  exec.kernel "add"(%0, %b) outs(%1) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %2 = exec.alloc : memref<4x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%2) : (memref<4x16xf32>, memref<16x8xf32>) -> memref<4x8xf32>
  %3 = exec.alloc : memref<4x8xf32>
  exec.kernel "add"(%2, %r) outs(%3) : (memref<4x8xf32>, memref<4x8xf32>) -> memref<4x8xf32>
  return %0, %1, %3 : memref<4x8xf32>, memref<4x8xf32>, memref<4x8xf32>
}
