// RUN: strata-opt %s --strata-fuse --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-fuse=kinds=elementwise --split-input-file | FileCheck %s --check-prefix=NONE

exec.global @w : memref<8x4xf32> param zeros
exec.global @w.grad : memref<8x4xf32> state grad of @w
exec.global @b : memref<4xf32> param zeros
exec.global @b.grad : memref<4xf32> state grad of @b

// A bf16 plan's weight gradient: the bf16 product and its f32 cast are
// locals, the gradient global an input written in place; the group meets at
// the accumulate, past the bias gradient's accumulate.
// CHECK-LABEL: func.func @bf16_weight_grad
// CHECK: exec.kernel "accumulate"(%[[BG:.*]], %{{.*}}) : (memref<4xf32>, memref<4xf32>) -> ()
// CHECK-NEXT: %[[WG:.*]] = exec.global_ref @w.grad
// CHECK-NEXT: exec.fused "matmul_accumulate" ins(%[[X:.*]] = %{{.*}}, %[[DY:.*]] = %{{.*}}, %[[G:.*]] = %[[WG]]) : (memref<16x8xbf16>, memref<16x4xbf16>, memref<8x4xf32>) -> () {
// CHECK-NEXT: %[[P:.*]] = exec.alloc : memref<8x4xbf16>
// CHECK-NEXT: exec.kernel "matmul"(%[[X]], %[[DY]]) outs(%[[P]]) attrs {transpose_a}
// CHECK-NEXT: %[[F:.*]] = exec.alloc : memref<8x4xf32>
// CHECK-NEXT: exec.kernel "cast"(%[[P]]) outs(%[[F]])
// CHECK-NEXT: exec.kernel "accumulate"(%[[G]], %[[F]])
// CHECK-NEXT: {{^ +}}}{{$}}
// CHECK-NEXT: return
// NONE-LABEL: func.func @bf16_weight_grad
// NONE-NOT: exec.fused
func.func @bf16_weight_grad(%x: memref<16x8xbf16>, %dy: memref<16x4xbf16>, %db: memref<4xf32>) {
  %0 = exec.alloc : memref<8x4xbf16>
  exec.kernel "matmul"(%x, %dy) outs(%0) attrs {transpose_a} : (memref<16x8xbf16>, memref<16x4xbf16>) -> memref<8x4xbf16>
  %bg = exec.global_ref @b.grad : memref<4xf32>
  exec.kernel "accumulate"(%bg, %db) : (memref<4xf32>, memref<4xf32>) -> ()
  %1 = exec.alloc : memref<8x4xf32>
  exec.kernel "cast"(%0) outs(%1) : (memref<8x4xbf16>) -> memref<8x4xf32>
  %wg = exec.global_ref @w.grad : memref<8x4xf32>
  exec.kernel "accumulate"(%wg, %1) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  return
}

// -----

exec.global @w : memref<8x4xf32> param zeros
exec.global @w.grad : memref<8x4xf32> state grad of @w

// An f32 plan's weight gradient: matmul and accumulate, no cast.
// CHECK-LABEL: func.func @f32_weight_grad
// CHECK: exec.fused "matmul_accumulate" ins(%[[X:.*]] = %{{.*}}, %[[DY:.*]] = %{{.*}}, %[[G:.*]] = %{{.*}}) : (memref<16x8xf32>, memref<16x4xf32>, memref<8x4xf32>) -> () {
// CHECK-NEXT: %[[P:.*]] = exec.alloc : memref<8x4xf32>
// CHECK-NEXT: exec.kernel "matmul"(%[[X]], %[[DY]]) outs(%[[P]]) attrs {transpose_a}
// CHECK-NEXT: exec.kernel "accumulate"(%[[G]], %[[P]])
func.func @f32_weight_grad(%x: memref<16x8xf32>, %dy: memref<16x4xf32>) {
  %0 = exec.alloc : memref<8x4xf32>
  exec.kernel "matmul"(%x, %dy) outs(%0) attrs {transpose_a} : (memref<16x8xf32>, memref<16x4xf32>) -> memref<8x4xf32>
  %wg = exec.global_ref @w.grad : memref<8x4xf32>
  exec.kernel "accumulate"(%wg, %0) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  return
}

// -----

exec.global @w : memref<8x4xf32> param zeros
exec.global @w.grad : memref<8x4xf32> state grad of @w

// Not fused: dW has another reader (a tied weight's second gradient term).
// CHECK-LABEL: func.func @product_read_elsewhere
// CHECK-NOT: exec.fused "matmul_accumulate"
// CHECK: return
func.func @product_read_elsewhere(%x: memref<16x8xbf16>, %dy: memref<16x4xbf16>) -> memref<8x4xbf16> {
  %0 = exec.alloc : memref<8x4xbf16>
  exec.kernel "matmul"(%x, %dy) outs(%0) attrs {transpose_a} : (memref<16x8xbf16>, memref<16x4xbf16>) -> memref<8x4xbf16>
  %1 = exec.alloc : memref<8x4xf32>
  exec.kernel "cast"(%0) outs(%1) : (memref<8x4xbf16>) -> memref<8x4xf32>
  %wg = exec.global_ref @w.grad : memref<8x4xf32>
  exec.kernel "accumulate"(%wg, %1) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  %2 = exec.alloc : memref<8x4xbf16>
  exec.kernel "neg"(%0) outs(%2) : (memref<8x4xbf16>) -> memref<8x4xbf16>
  return %2 : memref<8x4xbf16>
}

// -----

exec.global @w : memref<8x4xf32> param zeros
exec.global @w.grad : memref<8x4xf32> state grad of @w

// Not fused: the cast's result has another reader.
// CHECK-LABEL: func.func @cast_read_elsewhere
// CHECK-NOT: exec.fused "matmul_accumulate"
// CHECK: return
func.func @cast_read_elsewhere(%x: memref<16x8xbf16>, %dy: memref<16x4xbf16>) -> memref<8x4xf32> {
  %0 = exec.alloc : memref<8x4xbf16>
  exec.kernel "matmul"(%x, %dy) outs(%0) attrs {transpose_a} : (memref<16x8xbf16>, memref<16x4xbf16>) -> memref<8x4xbf16>
  %1 = exec.alloc : memref<8x4xf32>
  exec.kernel "cast"(%0) outs(%1) : (memref<8x4xbf16>) -> memref<8x4xf32>
  %wg = exec.global_ref @w.grad : memref<8x4xf32>
  exec.kernel "accumulate"(%wg, %1) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  return %1 : memref<8x4xf32>
}

// -----

exec.global @w : memref<8x4xbf16> param zeros
exec.global @w.grad : memref<8x4xbf16> state grad of @w

// Not fused: the cast is to bf16 (and so is the gradient); the group adds in
// f32 into an f32 gradient.
// CHECK-LABEL: func.func @cast_to_bf16
// CHECK-NOT: exec.fused "matmul_accumulate"
// CHECK: return
func.func @cast_to_bf16(%x: memref<16x8xf32>, %dy: memref<16x4xf32>) {
  %0 = exec.alloc : memref<8x4xf32>
  exec.kernel "matmul"(%x, %dy) outs(%0) attrs {transpose_a} : (memref<16x8xf32>, memref<16x4xf32>) -> memref<8x4xf32>
  %1 = exec.alloc : memref<8x4xbf16>
  exec.kernel "cast"(%0) outs(%1) : (memref<8x4xf32>) -> memref<8x4xbf16>
  %wg = exec.global_ref @w.grad : memref<8x4xbf16>
  exec.kernel "accumulate"(%wg, %1) : (memref<8x4xbf16>, memref<8x4xbf16>) -> ()
  return
}

// -----

exec.global @w : memref<8x4xf32> param zeros
exec.global @w.grad : memref<8x4xf32> state grad of @w

// Not fused: the accumulation is into a value, not a global.
// CHECK-LABEL: func.func @not_a_global
// CHECK-NOT: exec.fused "matmul_accumulate"
// CHECK: return
func.func @not_a_global(%x: memref<16x8xf32>, %dy: memref<16x4xf32>, %acc: memref<8x4xf32>) {
  %0 = exec.alloc : memref<8x4xf32>
  exec.kernel "matmul"(%x, %dy) outs(%0) attrs {transpose_a} : (memref<16x8xf32>, memref<16x4xf32>) -> memref<8x4xf32>
  exec.kernel "accumulate"(%acc, %0) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  return
}

// -----

exec.global @w : memref<8x4xf32> param zeros
exec.global @w.grad : memref<8x4xf32> state grad of @w
exec.global @act : memref<16x8xf32> param zeros

// Not fused: the matmul cannot sink past the zero of its operand, nor the
// accumulate rise past the kernel that reads the gradient before it.
// CHECK-LABEL: func.func @cannot_be_placed
// CHECK-NOT: exec.fused "matmul_accumulate"
// CHECK: return
func.func @cannot_be_placed(%dy: memref<16x4xf32>) -> memref<8x4xf32> {
  %x = exec.global_ref @act : memref<16x8xf32>
  %0 = exec.alloc : memref<8x4xf32>
  exec.kernel "matmul"(%x, %dy) outs(%0) attrs {transpose_a} : (memref<16x8xf32>, memref<16x4xf32>) -> memref<8x4xf32>
  exec.kernel "zero"(%x) : (memref<16x8xf32>) -> ()
  %wg = exec.global_ref @w.grad : memref<8x4xf32>
  %1 = exec.alloc : memref<8x4xf32>
  exec.kernel "neg"(%wg) outs(%1) : (memref<8x4xf32>) -> memref<8x4xf32>
  exec.kernel "accumulate"(%wg, %0) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  return %1 : memref<8x4xf32>
}
