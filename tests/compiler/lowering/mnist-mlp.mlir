// The MNIST perceptron of examples/mlp.sg, lowered and memory planned.
// RUN: strata-opt %examples/mlp.sg --sg-model=mnist_mlp --strata-lower-to-exec | FileCheck %s --check-prefix=LOWER
// RUN: strata-opt %examples/mlp.sg --sg-model=mnist_mlp --strata-lower-to-exec --strata-memory-plan | FileCheck %s --check-prefix=PLAN

// LOWER: exec.global @fc1.w : memref<784x256xf32> param normal(0.000000e+00, 2.000000e-02)
// LOWER: exec.global @fc1.b : memref<256xf32> param zeros
// LOWER-LABEL: func.func @mnist_mlp
// LOWER-SAME: (%[[X:.*]]: memref<32x784xf32> {exec.input = "x"}, %[[T:.*]]: memref<32xi32> {exec.input = "targets"}) -> memref<f32>
// LOWER-SAME: attributes {exec.model}
// LOWER: %[[W1:.*]] = exec.global_ref @fc1.w
// LOWER: %[[H:.*]] = exec.alloc : memref<32x256xf32>
// LOWER-NEXT: exec.kernel "matmul"(%[[X]], %[[W1]]) outs(%[[H]])
// LOWER: exec.kernel "relu"
// LOWER: %[[L:.*]] = exec.alloc : memref<f32>
// LOWER-NEXT: exec.kernel "cross_entropy"(%{{.*}}, %[[T]]) outs(%[[L]])
// LOWER-NEXT: return %[[L]] : memref<f32>

// The hidden activations (32x256xf32 = 32768 bytes) are written in place by
// add and relu; the logits go above them, and the loss reuses offset 0 once
// the activations are dead. The plan meets the lower bound.
// PLAN-LABEL: func.func @mnist_mlp
// PLAN-SAME: exec.arena_bytes = 34048 : i64, exec.lower_bound_bytes = 34048 : i64
// PLAN-SAME: exec.naive_bytes = 100868 : i64
// PLAN: exec.alloc offset = 0 : memref<32x256xf32>
// PLAN-NEXT: exec.kernel "matmul"
// PLAN-NEXT: exec.alloc offset = 0 : memref<32x256xf32>
// PLAN-NEXT: exec.kernel "add"
// PLAN-NEXT: exec.alloc offset = 0 : memref<32x256xf32>
// PLAN-NEXT: exec.kernel "relu"
// PLAN: exec.alloc offset = 32768 : memref<32x10xf32>
// PLAN-NEXT: exec.kernel "matmul"
// PLAN-NEXT: exec.alloc offset = 32768 : memref<32x10xf32>
// PLAN-NEXT: exec.kernel "add"
// PLAN-NEXT: exec.alloc offset = 0 : memref<f32>
// PLAN-NEXT: exec.kernel "cross_entropy"
