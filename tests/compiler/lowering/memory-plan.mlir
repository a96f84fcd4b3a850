// RUN: strata-opt %s --strata-memory-plan --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-memory-plan=print-summary --split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=SUMMARY
// RUN: strata-opt %s --strata-memory-plan=in-place=false --split-input-file | FileCheck %s --check-prefix=NOINPLACE

exec.global @w : memref<4x8xf32> param normal(0.0, 0.02)

// relu writes over the matmul output, which dies at it; the loss outlives
// both. 2x8xf32 is 64 bytes, so every offset is a multiple of 64.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: exec.arena_bytes = 68 : i64, exec.lower_bound_bytes = 68 : i64
// CHECK-SAME: exec.naive_bytes = 132 : i64
// SUMMARY: function buffers planned lower bound naive planned/bound
// SUMMARY-NEXT: chain 3 68 68 132 1.000
func.func @chain(%x: memref<2x4xf32>, %t: memref<2xi32>) -> memref<f32> {
  %w = exec.global_ref @w : memref<4x8xf32>
  // CHECK: %[[H:.*]] = exec.alloc offset = [[HOFF:[0-9]+]] : memref<2x8xf32>
  %h = exec.alloc : memref<2x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%h) : (memref<2x4xf32>, memref<4x8xf32>) -> memref<2x8xf32>
  // CHECK: %[[R:.*]] = exec.alloc offset = [[HOFF]] : memref<2x8xf32>
  %r = exec.alloc : memref<2x8xf32>
  exec.kernel "relu"(%h) outs(%r) : (memref<2x8xf32>) -> memref<2x8xf32>
  // CHECK: exec.alloc offset = {{[0-9]+}} : memref<f32>
  %l = exec.alloc : memref<f32>
  exec.kernel "cross_entropy"(%r, %t) outs(%l) : (memref<2x8xf32>, memref<2xi32>) -> memref<f32>
  return %l : memref<f32>
}

// -----

// A buffer read after an elementwise kernel cannot donate its bytes to it;
// the add, where %a dies, may write over it.
// CHECK-LABEL: func.func @in_place_only_where_the_input_dies
// CHECK-SAME: exec.arena_bytes = 128 : i64, exec.lower_bound_bytes = 128 : i64, exec.naive_bytes = 192 : i64
func.func @in_place_only_where_the_input_dies(%x: memref<2x8xf32>) -> memref<2x8xf32> {
  // CHECK: exec.alloc offset = [[A:[0-9]+]]
  %a = exec.alloc : memref<2x8xf32>
  exec.kernel "exp"(%x) outs(%a) : (memref<2x8xf32>) -> memref<2x8xf32>
  // CHECK-NOT: offset = [[A]] :
  // CHECK: exec.kernel "neg"
  // CHECK: exec.alloc offset = [[A]] :
  %b = exec.alloc : memref<2x8xf32>
  exec.kernel "neg"(%a) outs(%b) : (memref<2x8xf32>) -> memref<2x8xf32>
  %c = exec.alloc : memref<2x8xf32>
  exec.kernel "add"(%a, %b) outs(%c) : (memref<2x8xf32>, memref<2x8xf32>) -> memref<2x8xf32>
  return %c : memref<2x8xf32>
}

// -----

// Buffers whose lifetimes do not meet share bytes: the first two temporaries
// are dead when the last two are written.
// CHECK-LABEL: func.func @reuse
// CHECK-SAME: exec.arena_bytes = 1024 : i64, exec.lower_bound_bytes = 1024 : i64, exec.naive_bytes = 2052 : i64
func.func @reuse(%x: memref<16x8xf32>, %w: memref<8x8xf32>) -> memref<f32> {
  // CHECK: exec.alloc offset = [[P:[0-9]+]] : memref<16x8xf32>
  %p = exec.alloc : memref<16x8xf32>
  exec.kernel "matmul"(%x, %w) outs(%p) : (memref<16x8xf32>, memref<8x8xf32>) -> memref<16x8xf32>
  // CHECK: exec.alloc offset = [[Q:[0-9]+]] : memref<16x8xf32>
  %q = exec.alloc : memref<16x8xf32>
  exec.kernel "matmul"(%p, %w) outs(%q) : (memref<16x8xf32>, memref<8x8xf32>) -> memref<16x8xf32>
  // CHECK: exec.alloc offset = [[P]] : memref<16x8xf32>
  %r = exec.alloc : memref<16x8xf32>
  exec.kernel "matmul"(%q, %w) outs(%r) : (memref<16x8xf32>, memref<8x8xf32>) -> memref<16x8xf32>
  // CHECK: exec.alloc offset = [[Q]] : memref<16x8xf32>
  %s = exec.alloc : memref<16x8xf32>
  exec.kernel "matmul"(%r, %w) outs(%s) : (memref<16x8xf32>, memref<8x8xf32>) -> memref<16x8xf32>
  %n = exec.alloc : memref<f32>
  exec.kernel "global_norm"(%s) outs(%n) : (memref<16x8xf32>) -> memref<f32>
  return %n : memref<f32>
}

// -----

// A reshape writes over an input that dies at it, so that it copies nothing:
// %b takes the bytes of %a. %b is read again after the second reshape, which
// therefore gets bytes of its own; the neg, where %b dies, writes over it.
// Without in-place hints every temporary has its own bytes while it lives.
// CHECK-LABEL: func.func @reshape_in_place
// CHECK-SAME: exec.arena_bytes = 128 : i64, exec.lower_bound_bytes = 128 : i64
// NOINPLACE-LABEL: func.func @reshape_in_place
// NOINPLACE-SAME: exec.arena_bytes = 192 : i64
func.func @reshape_in_place(%x: memref<2x8xf32>) -> (memref<4x4xf32>, memref<16xf32>) {
  // CHECK: exec.alloc offset = [[A:[0-9]+]] : memref<2x8xf32>
  %a = exec.alloc : memref<2x8xf32>
  exec.kernel "exp"(%x) outs(%a) : (memref<2x8xf32>) -> memref<2x8xf32>
  // CHECK: exec.alloc offset = [[A]] : memref<16xf32>
  // CHECK-NEXT: exec.kernel "reshape"
  %b = exec.alloc : memref<16xf32>
  exec.kernel "reshape"(%a) outs(%b) : (memref<2x8xf32>) -> memref<16xf32>
  // CHECK-NOT: offset = [[A]] :
  // CHECK: exec.kernel "reshape"
  %c = exec.alloc : memref<4x4xf32>
  exec.kernel "reshape"(%b) outs(%c) : (memref<16xf32>) -> memref<4x4xf32>
  // CHECK: exec.alloc offset = [[A]] : memref<16xf32>
  // CHECK-NEXT: exec.kernel "neg"
  %d = exec.alloc : memref<16xf32>
  exec.kernel "neg"(%b) outs(%d) : (memref<16xf32>) -> memref<16xf32>
  return %c, %d : memref<4x4xf32>, memref<16xf32>
}
