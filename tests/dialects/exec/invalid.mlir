// RUN: strata-opt %s --split-input-file --verify-diagnostics

// expected-error@+1 {{expects role "param" or "state", got "weight"}}
exec.global @w : memref<4xf32> weight

// -----

// expected-error@+1 {{initializer 'normal' takes 2 numbers (mean, std), got 1 number(s)}}
exec.global @w : memref<4xf32> param normal(0.5)

// -----

// expected-error@+1 {{unknown initializer 'gaussian'}}
exec.global @w : memref<4xf32> param gaussian

// -----

// expected-error@+1 {{expects the type to be a memref of integers or floats with a static shape and the identity layout}}
exec.global @w : memref<?xf32> param zeros

// -----

exec.global @w : memref<4xf32> param zeros
// expected-error@+1 {{unknown state kind 'adam'}}
exec.global @w.m : memref<4xf32> state adam of @w

// -----

exec.global @w : memref<4xf32> param zeros
exec.global @w.m : memref<4xf32> state adam_m of @w
// expected-error@+1 {{'@w.m' does not name a param exec.global}}
exec.global @w.m.m : memref<4xf32> state adam_m of @w.m

// -----

exec.global @w : memref<4xf32> param zeros
// expected-error@+1 {{shape of 'memref<8xf32>' differs from the shape of @w}}
exec.global @w.grad : memref<8xf32> state grad of @w

// -----

func.func @f() {
  // expected-error@+1 {{'exec.global' op expects parent op 'builtin.module'}}
  "exec.global"() <{sym_name = "w", type = memref<4xf32>, role = "param", init = "zeros"}> : () -> ()
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'@missing' does not name an exec.global}}
  %0 = exec.global_ref @missing : memref<4xf32>
  return
}

// -----

exec.global @w : memref<4xf32> param zeros
func.func @f() {
  // expected-error@+1 {{result type 'memref<8xf32>' differs from the type 'memref<4xf32>' of @w}}
  %0 = exec.global_ref @w : memref<8xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'exec.alloc' op attribute 'offset' failed to satisfy constraint}}
  %0 = exec.alloc offset = -64 : memref<4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{expects the result to be a memref of integers or floats with a static shape}}
  %0 = exec.alloc : memref<?xf32>
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{unknown kernel 'frobnicate': not the name of a graph op}}
  exec.kernel "frobnicate"(%x) outs(%y) : (memref<4xf32>) -> memref<4xf32>
  return
}

// -----

func.func @f() {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{'param_ref' is not a kernel: use exec.global or exec.global_ref}}
  exec.kernel "param_ref"() outs(%y) : () -> memref<4xf32>
  return
}

// -----

func.func @f(%x: tensor<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{operand #0 must be variadic of memref of any type values}}
  exec.kernel "relu"(%x) outs(%y) : (tensor<4xf32>) -> memref<4xf32>
  return
}

// -----

func.func @f(%x: memref<4xf32>, %y: memref<4xf32>) {
  // expected-error@+1 {{expects every output to be an exec.alloc buffer}}
  exec.kernel "relu"(%x) outs(%y) : (memref<4xf32>) -> memref<4xf32>
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{kernel 'add' takes 2 input(s), got 1}}
  exec.kernel "add"(%x) outs(%y) : (memref<4xf32>) -> memref<4xf32>
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  // expected-error@+1 {{kernel 'relu' writes 1 output(s), got 0}}
  exec.kernel "relu"(%x) : (memref<4xf32>) -> ()
  return
}

// -----

func.func @f(%x: memref<4xf32>) {
  // expected-error@+1 {{kernel 'accumulate' takes 2 input(s), got 1}}
  exec.kernel "accumulate"(%x) : (memref<4xf32>) -> ()
  return
}

// -----

func.func @f(%p: memref<4xf32>, %g: memref<4xf32>, %b: memref<4xf32>, %lr: memref<f32>, %s: memref<f32>) {
  // expected-error@+1 {{kernel 'sgd_update' with momentum 0.000000e+00 takes 4 inputs, got 5}}
  exec.kernel "sgd_update"(%p, %g, %b, %lr, %s) attrs {momentum = 0.0 : f64, weight_decay = 0.0 : f64}
      : (memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<f32>, memref<f32>) -> ()
  return
}

// -----

func.func @f(%x: memref<4xf32, strided<[2]>>) {
  %y = exec.alloc : memref<4xf32>
  // expected-error@+1 {{expects every input to be a memref of integers or floats with a static shape and the identity layout}}
  exec.kernel "relu"(%x) outs(%y) : (memref<4xf32, strided<[2]>>) -> memref<4xf32>
  return
}

// -----

// expected-error@+1 {{expects 'exec.step' to be "grad" or "apply", got "eval"}}
func.func @f() attributes {exec.step = "eval"} {
  return
}

// -----

// expected-error@+1 {{expects 'exec.arena_bytes' to be a non-negative i64}}
func.func @f() attributes {exec.arena_bytes = -1 : i64} {
  return
}

// -----

// expected-error@+1 {{unknown argument attribute 'exec.name' on argument #0}}
func.func @f(%x: memref<4xf32> {exec.name = "x"}) {
  return
}

// -----

// expected-error@+1 {{'exec.training' is only valid on a module}}
func.func @f() attributes {exec.training = {}} {
  return
}
