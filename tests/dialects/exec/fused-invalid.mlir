// RUN: strata-opt %s --split-input-file --verify-diagnostics

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{unknown kind 'conv'; expected elementwise, matmul_bias, matmul_bias_gelu, matmul_accumulate, adamw or cross_entropy}}
  exec.fused "conv" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    exec.kernel "neg"(%a) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{expects at least one kernel in its body}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
  }
  return
}

// -----

func.func @f(%x: memref<4x8xf32>, %w: memref<8x8xf32>, %b: memref<8xf32>) {
  %y = exec.alloc : memref<4x8xf32>
  // expected-error@+1 {{only an elementwise group has a 'function'}}
  exec.fused "matmul_bias" ins(%a = %x, %c = %w, %d = %b) outs(%o = %y) {function = "k"}
      : (memref<4x8xf32>, memref<8x8xf32>, memref<8xf32>) -> memref<4x8xf32> {
    %t = exec.alloc : memref<4x8xf32>
    exec.kernel "matmul"(%a, %c) outs(%t) : (memref<4x8xf32>, memref<8x8xf32>) -> memref<4x8xf32>
    exec.kernel "add"(%t, %d) outs(%o) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>, %y: memref<4xf32>) {
  // expected-error@+1 {{expects every output to be an exec.alloc buffer}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    exec.kernel "neg"(%a) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{output #0 is written by 2 kernels of the group; expected 1}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    exec.kernel "neg"(%a) outs(%o) : (memref<4xf32>) -> memref<4xf32>
    exec.kernel "exp"(%a) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    %t = exec.alloc : memref<4xf32>
    // expected-error@+1 {{reads a local buffer before a kernel of the group writes it}}
    exec.kernel "add"(%a, %t) outs(%o) : (memref<4xf32>, memref<4xf32>) -> memref<4xf32>
    exec.kernel "neg"(%a) outs(%t) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    // expected-error@+1 {{is a local of an exec.fused and has no arena offset}}
    %t = exec.alloc offset = 0 : memref<4xf32>
    exec.kernel "neg"(%a) outs(%t) : (memref<4xf32>) -> memref<4xf32>
    exec.kernel "exp"(%t) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    %t = exec.alloc : memref<4xf32>
    // expected-error@+1 {{cannot be nested in another exec.fused}}
    exec.fused "elementwise" ins(%b = %a) outs(%p = %t) : (memref<4xf32>) -> memref<4xf32> {
      exec.kernel "neg"(%b) outs(%p) : (memref<4xf32>) -> memref<4xf32>
    }
    exec.kernel "exp"(%t) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

exec.global @w : memref<4xf32> param zeros
func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    // expected-error@+1 {{is not allowed in an exec.fused body (only exec.kernel and exec.alloc)}}
    %w = exec.global_ref @w : memref<4xf32>
    exec.kernel "neg"(%a) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>, %w: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-note@+1 {{required by region isolation constraints}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    // expected-error@+1 {{using value defined outside the region}}
    exec.kernel "add"(%a, %w) outs(%o) : (memref<4xf32>, memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4x8xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{kernel 'reduce' is not elementwise; an elementwise group holds elementwise kernels, cast and reshape}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4x8xf32>) -> memref<4xf32> {
    exec.kernel "reduce"(%a) outs(%o) attrs {axes = array<i64: 1>, kind = #graph.reduce_kind<sum>} : (memref<4x8xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4x8xf32>) {
  %y = exec.alloc : memref<4x4xf32>
  // expected-error@+1 {{kernel 'exp' writes 16 elements, but the group's iteration space has 32}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4x8xf32>) -> memref<4x4xf32> {
    %t = exec.alloc : memref<4x8xf32>
    exec.kernel "neg"(%a) outs(%t) : (memref<4x8xf32>) -> memref<4x8xf32>
    exec.kernel "exp"(%t) outs(%o) : (memref<4x8xf32>) -> memref<4x4xf32>
  }
  return
}

// -----

// Arithmetic kernels read inputs of the group with broadcasting; a reshape
// (a view) reads as many elements as it writes.
func.func @f(%x: memref<8xf32>) {
  %y = exec.alloc : memref<4x8xf32>
  // expected-error@+1 {{kernel 'reshape' reads 'memref<8xf32>', which neither has the group's 32 elements nor is an input of the group that broadcasts to 'memref<4x8xf32>'}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<8xf32>) -> memref<4x8xf32> {
    %t = exec.alloc : memref<4x8xf32>
    exec.kernel "reshape"(%a) outs(%t) : (memref<8xf32>) -> memref<4x8xf32>
    exec.kernel "neg"(%t) outs(%o) : (memref<4x8xf32>) -> memref<4x8xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xi32>) {
  %y = exec.alloc : memref<4xi32>
  // expected-error@+1 {{kernel 'neg' of an elementwise group uses a buffer of 'memref<4xi32>'; the group computes on f32 and bf16}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xi32>) -> memref<4xi32> {
    exec.kernel "neg"(%a) outs(%o) : (memref<4xi32>) -> memref<4xi32>
  }
  return
}

// -----

func.func @f(%x: memref<4x8xf32>, %w: memref<8x8xf32>, %b: memref<8xf32>) {
  %y = exec.alloc : memref<4x8xf32>
  // expected-error@+1 {{a matmul_bias group runs 'matmul', 'add', got 'matmul', 'sub'}}
  exec.fused "matmul_bias" ins(%a = %x, %c = %w, %d = %b) outs(%o = %y)
      : (memref<4x8xf32>, memref<8x8xf32>, memref<8xf32>) -> memref<4x8xf32> {
    %t = exec.alloc : memref<4x8xf32>
    exec.kernel "matmul"(%a, %c) outs(%t) : (memref<4x8xf32>, memref<8x8xf32>) -> memref<4x8xf32>
    exec.kernel "sub"(%t, %d) outs(%o) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4x8xf32>, %w: memref<8x8xf32>, %b: memref<4x8xf32>) {
  %y = exec.alloc : memref<4x8xf32>
  // expected-error@+1 {{the add's bias must be an input of the group of shape [8] (the matmul's last dimension), got 'memref<4x8xf32>'}}
  exec.fused "matmul_bias" ins(%a = %x, %c = %w, %d = %b) outs(%o = %y)
      : (memref<4x8xf32>, memref<8x8xf32>, memref<4x8xf32>) -> memref<4x8xf32> {
    %t = exec.alloc : memref<4x8xf32>
    exec.kernel "matmul"(%a, %c) outs(%t) : (memref<4x8xf32>, memref<8x8xf32>) -> memref<4x8xf32>
    exec.kernel "add"(%t, %d) outs(%o) : (memref<4x8xf32>, memref<4x8xf32>) -> memref<4x8xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4x8xf32>, %w: memref<8x8xf32>, %b: memref<8xf32>) {
  %y = exec.alloc : memref<4x8xf32>
  // expected-error@+1 {{a matmul_bias_gelu group needs the tanh gelu}}
  exec.fused "matmul_bias_gelu" ins(%a = %x, %c = %w, %d = %b) outs(%o = %y)
      : (memref<4x8xf32>, memref<8x8xf32>, memref<8xf32>) -> memref<4x8xf32> {
    %t = exec.alloc : memref<4x8xf32>
    exec.kernel "matmul"(%a, %c) outs(%t) : (memref<4x8xf32>, memref<8x8xf32>) -> memref<4x8xf32>
    %s = exec.alloc : memref<4x8xf32>
    exec.kernel "add"(%t, %d) outs(%s) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
    exec.kernel "gelu"(%s) outs(%o) attrs {approximate = #graph.gelu_approx<none>} : (memref<4x8xf32>) -> memref<4x8xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{an adamw group runs only 'adamw_update' kernels, got 'neg'}}
  exec.fused "adamw" ins(%a = %x) outs(%o = %y) : (memref<4xf32>) -> memref<4xf32> {
    exec.kernel "neg"(%a) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%l: memref<4x8xf32>, %t: memref<4xi32>, %u: memref<4xi32>, %s: memref<f32>) {
  %loss = exec.alloc : memref<f32>
  %d = exec.alloc : memref<4x8xf32>
  // expected-error@+1 {{cross_entropy and cross_entropy_grad must read the same logits and targets}}
  exec.fused "cross_entropy" ins(%a = %l, %b = %t, %c = %u, %e = %s) outs(%o = %loss, %p = %d)
      : (memref<4x8xf32>, memref<4xi32>, memref<4xi32>, memref<f32>) -> (memref<f32>, memref<4x8xf32>) {
    exec.kernel "cross_entropy"(%a, %b) outs(%o) : (memref<4x8xf32>, memref<4xi32>) -> memref<f32>
    exec.kernel "cross_entropy_grad"(%a, %c, %e) outs(%p) : (memref<4x8xf32>, memref<4xi32>, memref<f32>) -> memref<4x8xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{expects 1 input and 1 output type(s), got '(memref<4xf32>, memref<4xf32>) -> memref<4xf32>'}}
  exec.fused "elementwise" ins(%a = %x) outs(%o = %y) : (memref<4xf32>, memref<4xf32>) -> memref<4xf32> {
    exec.kernel "neg"(%a) outs(%o) : (memref<4xf32>) -> memref<4xf32>
  }
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{expects every output to be an exec.alloc buffer (or, in an exec.fused, one of its outputs)}}
  exec.kernel "neg"(%y) outs(%x) : (memref<4xf32>) -> memref<4xf32>
  return
}

// -----

func.func @f(%x: memref<16x8xf32>, %dy: memref<16x4xf32>, %g: memref<8x4xf32>) {
  // expected-error@+1 {{a matmul_accumulate group runs 'matmul', 'accumulate' or 'matmul', 'cast', 'accumulate', got 'matmul', 'neg', 'accumulate'}}
  exec.fused "matmul_accumulate" ins(%a = %x, %b = %dy, %c = %g) : (memref<16x8xf32>, memref<16x4xf32>, memref<8x4xf32>) -> () {
    %p = exec.alloc : memref<8x4xf32>
    exec.kernel "matmul"(%a, %b) outs(%p) attrs {transpose_a} : (memref<16x8xf32>, memref<16x4xf32>) -> memref<8x4xf32>
    %n = exec.alloc : memref<8x4xf32>
    exec.kernel "neg"(%p) outs(%n) : (memref<8x4xf32>) -> memref<8x4xf32>
    exec.kernel "accumulate"(%c, %n) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
  }
  return
}

// -----

func.func @f(%x: memref<16x8xbf16>, %dy: memref<16x4xbf16>, %g: memref<8x4xbf16>) {
  // expected-error@+1 {{the accumulate must add an f32 value of the target's shape to an f32 target, got 'memref<8x4xbf16>' into 'memref<8x4xbf16>'}}
  exec.fused "matmul_accumulate" ins(%a = %x, %b = %dy, %c = %g) : (memref<16x8xbf16>, memref<16x4xbf16>, memref<8x4xbf16>) -> () {
    %p = exec.alloc : memref<8x4xbf16>
    exec.kernel "matmul"(%a, %b) outs(%p) attrs {transpose_a} : (memref<16x8xbf16>, memref<16x4xbf16>) -> memref<8x4xbf16>
    exec.kernel "accumulate"(%c, %p) : (memref<8x4xbf16>, memref<8x4xbf16>) -> ()
  }
  return
}

// -----

func.func @f(%x: memref<8x8xf32>, %g: memref<8x8xf32>) {
  // expected-error@+1 {{the matmul must not read the buffer the group accumulates into}}
  exec.fused "matmul_accumulate" ins(%a = %x, %c = %g) : (memref<8x8xf32>, memref<8x8xf32>) -> () {
    %p = exec.alloc : memref<8x8xf32>
    exec.kernel "matmul"(%a, %c) outs(%p) : (memref<8x8xf32>, memref<8x8xf32>) -> memref<8x8xf32>
    exec.kernel "accumulate"(%c, %p) : (memref<8x8xf32>, memref<8x8xf32>) -> ()
  }
  return
}
