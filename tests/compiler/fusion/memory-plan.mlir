// RUN: strata-opt %s --strata-fuse --strata-memory-plan --split-input-file | FileCheck %s

// The product of the matmul is a local of the group: it takes no arena
// memory, so the arena holds the two 128-byte outputs alone. Without fusion
// the product would need 128 more bytes at the add.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: exec.arena_bytes = 256 : i64
// CHECK: exec.alloc offset = {{[0-9]+}} : memref<4x8xf32>
// CHECK-NEXT: exec.fused "matmul_bias"
// CHECK-NEXT: exec.alloc : memref<4x8xf32>
// CHECK: exec.alloc offset = {{[0-9]+}} : memref<4x8xf32>
// CHECK-NEXT: exec.kernel "relu"
func.func @linear(%x: memref<4x16xf32>, %w: memref<16x8xf32>, %b: memref<8xf32>) -> (memref<4x8xf32>, memref<4x8xf32>) {
  %0 = exec.alloc : memref<4x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%0) : (memref<4x16xf32>, memref<16x8xf32>) -> memref<4x8xf32>
  %1 = exec.alloc : memref<4x8xf32>
  exec.kernel "add"(%0, %b) outs(%1) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %2 = exec.alloc : memref<4x8xf32>
  exec.kernel "relu"(%1) outs(%2) : (memref<4x8xf32>) -> memref<4x8xf32>
  return %1, %2 : memref<4x8xf32>, memref<4x8xf32>
}

// -----

// The gradient of the logits lies over the logits, which die at the
// cross_entropy group: both kernels read a row of logits before the gradient
// of that row is written.
// CHECK-LABEL: func.func @cross_entropy_in_place
// CHECK: exec.alloc offset = [[LOGITS:[0-9]+]] : memref<4x16xf32>
// CHECK-NEXT: exec.kernel "matmul"
// CHECK: exec.alloc offset = [[LOGITS]] : memref<4x16xf32>
// CHECK-NEXT: exec.fused "cross_entropy"
func.func @cross_entropy_in_place(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %t: memref<4xi32>) -> (memref<f32>, memref<4x8xf32>) {
  %logits = exec.alloc : memref<4x16xf32>
  exec.kernel "matmul"(%x, %w) outs(%logits) : (memref<4x8xf32>, memref<8x16xf32>) -> memref<4x16xf32>
  %loss = exec.alloc : memref<f32>
  exec.kernel "cross_entropy"(%logits, %t) outs(%loss) : (memref<4x16xf32>, memref<4xi32>) -> memref<f32>
  %one = exec.alloc : memref<f32>
  exec.kernel "constant"() outs(%one) attrs {value = dense<1.0> : tensor<f32>} : () -> memref<f32>
  %dlogits = exec.alloc : memref<4x16xf32>
  exec.kernel "cross_entropy_grad"(%logits, %t, %one) outs(%dlogits) : (memref<4x16xf32>, memref<4xi32>, memref<f32>) -> memref<4x16xf32>
  %dx = exec.alloc : memref<4x8xf32>
  exec.kernel "matmul"(%dlogits, %w) outs(%dx) attrs {transpose_b} : (memref<4x16xf32>, memref<8x16xf32>) -> memref<4x8xf32>
  return %loss, %dx : memref<f32>, memref<4x8xf32>
}

// -----

// Logits that outlive the group keep their bytes.
// CHECK-LABEL: func.func @cross_entropy_logits_live_on
// CHECK: exec.alloc offset = [[LOGITS:[0-9]+]] : memref<4x16xf32>
// CHECK-NEXT: exec.kernel "matmul"
// CHECK-NOT: offset = [[LOGITS]] :
// CHECK: exec.fused "cross_entropy"
func.func @cross_entropy_logits_live_on(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %t: memref<4xi32>) -> (memref<f32>, memref<4x16xf32>, memref<4x16xf32>) {
  %logits = exec.alloc : memref<4x16xf32>
  exec.kernel "matmul"(%x, %w) outs(%logits) : (memref<4x8xf32>, memref<8x16xf32>) -> memref<4x16xf32>
  %loss = exec.alloc : memref<f32>
  exec.kernel "cross_entropy"(%logits, %t) outs(%loss) : (memref<4x16xf32>, memref<4xi32>) -> memref<f32>
  %one = exec.alloc : memref<f32>
  exec.kernel "constant"() outs(%one) attrs {value = dense<1.0> : tensor<f32>} : () -> memref<f32>
  %dlogits = exec.alloc : memref<4x16xf32>
  exec.kernel "cross_entropy_grad"(%logits, %t, %one) outs(%dlogits) : (memref<4x16xf32>, memref<4xi32>, memref<f32>) -> memref<4x16xf32>
  return %loss, %logits, %dlogits : memref<f32>, memref<4x16xf32>, memref<4x16xf32>
}
