// RUN: strata-opt %s --split-input-file --verify-diagnostics

// Every verifier error of the training ops (GraphTrainingOps.td).

func.func @f(%a: tensor<4x8xf32>, %b: tensor<8xf16>, %g: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects lhs and rhs to have the same element type}}
  %da, %db = graph.binary_grad add %a, %b, %g
      : (tensor<4x8xf32>, tensor<8xf16>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf16>)
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<3xf32>, %g: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{cannot broadcast 'tensor<4x8xf32>' with 'tensor<3xf32>'}}
  %da, %db = graph.binary_grad add %a, %b, %g
      : (tensor<4x8xf32>, tensor<3xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<3xf32>)
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<8xf32>, %g: tensor<8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects grad to have the shape of the broadcast result 'tensor<4x8xf32>', got 'tensor<8xf32>'}}
  %da, %db = graph.binary_grad add %a, %b, %g
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<8xf32>, %g: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{inferred type(s) 'tensor<4x8xf32>', 'tensor<8xf32>' are incompatible with return type(s) of operation 'tensor<4x8xf32>', 'tensor<4x8xf32>'}}
  %da, %db = graph.binary_grad add %a, %b, %g
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>)
  return
}

// -----

func.func @f(%a: tensor<4x8xi32>, %g: tensor<4x8xi32>) {
  // expected-error@+1 {{operand #0 must be ranked tensor of floating-point values}}
  %da, %db = graph.binary_grad add %a, %a, %g
      : (tensor<4x8xi32>, tensor<4x8xi32>, tensor<4x8xi32>) -> (tensor<4x8xi32>, tensor<4x8xi32>)
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{unknown keyword 'gelu'}}
  %dx = graph.unary_grad gelu %a, %a, %a : tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %g: tensor<4x8xf16>) {
  // expected-error@+1 {{failed to verify that all of {input, output, grad, input_grad} have same type}}
  %dx = "graph.unary_grad"(%a, %a, %g) <{kind = #graph.unary_kind<exp>}>
      : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf16>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error@+1 {{failed to verify that all of {input, grad, input_grad} have same type}}
  %dx = "graph.gelu_grad"(%a, %g) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %y: tensor<4xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{axis 2 is out of range for rank 2}}
  %dx = graph.reduce_grad sum %x, %y, %y axes = [2]
      : (tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %y: tensor<f32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects axes sorted and unique, got [1, 0]}}
  %dx = graph.reduce_grad sum %x, %y, %y axes = [1, 0]
      : (tensor<4x8xf32>, tensor<f32>, tensor<f32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %y: tensor<4xf32>, %g: tensor<4x1xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects grad to have the shape of the reduced input 'tensor<4xf32>', got 'tensor<4x1xf32>'}}
  %dx = graph.reduce_grad sum %x, %y, %g axes = [1]
      : (tensor<4x8xf32>, tensor<4xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %y: tensor<8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects output to have the shape of the reduced input 'tensor<4xf32>', got 'tensor<8xf32>'}}
  %dx = graph.reduce_grad max %x, %y, %y axes = [1]
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%y: tensor<4x8xf32>) {
  // expected-error@+1 {{axis 2 is out of range for rank 2}}
  %dx = graph.softmax_grad %y, %y axis = 2 : tensor<4x8xf32>
  return
}

// -----

func.func @f(%y: tensor<4x8xf32>) {
  // expected-error@+1 {{axis -1 is out of range for rank 2}}
  %dx = graph.log_softmax_grad %y, %y axis = -1 : tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %w: tensor<4xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects weight to have the shape of the input's last dimension 'tensor<8xf32>', got 'tensor<4xf32>'}}
  %dx, %dw, %db = graph.layer_norm_grad %x, %w, %x epsilon = 1.0e-5
      : (tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>)
      -> (tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %w: tensor<8xf32>, %g: tensor<4x7xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects grad to have the shape of input 'tensor<4x8xf32>', got 'tensor<4x7xf32>'}}
  %dx, %dw, %db = graph.layer_norm_grad %x, %w, %g epsilon = 1.0e-5
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x7xf32>)
      -> (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %w: tensor<8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects epsilon > 0, got 0}}
  %dx, %dw = graph.rms_norm_grad %x, %w, %x epsilon = 0.0
      : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f(%x: tensor<f32>, %w: tensor<8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects input to have rank at least 1, got 'tensor<f32>'}}
  %dx, %dw = graph.rms_norm_grad %x, %w, %x epsilon = 1.0e-5
      : (tensor<f32>, tensor<8xf32>, tensor<f32>) -> (tensor<f32>, tensor<8xf32>)
  return
}

// -----

func.func @f(%q: tensor<2x4x8x16xf32>, %k: tensor<2x3x8x16xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects the query heads (4) to be a multiple of the key/value heads (3)}}
  %dq, %dk, %dv = graph.attention_grad %q, %k, %k, %q scale = 0.25
      : (tensor<2x4x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x4x8x16xf32>)
      -> (tensor<2x4x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x3x8x16xf32>)
  return
}

// -----

func.func @f(%q: tensor<2x4x8x16xf32>, %k: tensor<3x2x8x16xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{batch sizes of query and key differ: 2 vs 3}}
  %dq, %dk, %dv = graph.attention_grad %q, %k, %k, %q scale = 0.25
      : (tensor<2x4x8x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>, tensor<2x4x8x16xf32>)
      -> (tensor<2x4x8x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>)
  return
}

// -----

func.func @f(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %g: tensor<2x4x8x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects grad to have the shape of the attention output 'tensor<2x4x8x16xf32>', got 'tensor<2x4x8x8xf32>'}}
  %dq, %dk, %dv = graph.attention_grad %q, %k, %k, %g scale = 0.25
      : (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x8xf32>)
      -> (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>)
  return
}

// -----

func.func @f(%q: tensor<2x4x8x16xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects scale > 0, got -1}}
  %dq, %dk, %dv = graph.attention_grad %q, %q, %q, %q scale = -1.0
      : (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>)
      -> (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>)
  return
}

// -----

func.func @f(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8x16xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects query to have rank 4, got 'tensor<2x4x8xf32>'}}
  %dq, %dk, %dv = graph.attention_grad %q, %k, %k, %k scale = 1.0
      : (tensor<2x4x8xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>)
      -> (tensor<2x4x8xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>)
  return
}

// -----

func.func @f(%g: tensor<2x4x8x7xf32>) {
  // expected-error@+1 {{expects an even head dimension (it rotates pairs), got 7}}
  %dx = graph.rope_grad %g theta = 1.0e4 : tensor<2x4x8x7xf32>
  return
}

// -----

func.func @f(%g: tensor<2x4x8x8xf32>) {
  // expected-error@+1 {{expects theta > 0, got 0}}
  %dx = graph.rope_grad %g theta = 0.0 : tensor<2x4x8x8xf32>
  return
}

// -----

func.func @f(%g: tensor<2x3x8xf32>, %i: tensor<2x3xi32>) {
  // expected-error@+1 {{expects grad to have the shape of the gathered rows 'tensor<2x3x4xf32>', got 'tensor<2x3x8xf32>'}}
  %dt = graph.gather_grad %g[%i] : (tensor<2x3x8xf32>, tensor<2x3xi32>) -> tensor<65x4xf32>
  return
}

// -----

func.func @f(%g: tensor<2x3xf32>, %i: tensor<2x3xi32>) {
  // expected-error@+1 {{expects the table gradient to have rank >= 1, got 'tensor<f32>'}}
  %dt = graph.gather_grad %g[%i] : (tensor<2x3xf32>, tensor<2x3xi32>) -> tensor<f32>
  return
}

// -----

func.func @f(%g: tensor<4x3xf32>) {
  // expected-error@+1 {{axis 2 is out of range for rank 2}}
  %dx = graph.slice_grad %g axis = 2 start = 0 end = 3 : tensor<4x3xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%g: tensor<4x3xf32>) {
  // expected-error@+1 {{expects 0 <= start < end <= 8 along axis 1, got start = 6, end = 9}}
  %dx = graph.slice_grad %g axis = 1 start = 6 end = 9 : tensor<4x3xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%g: tensor<4x3xf32>) {
  // expected-error@+1 {{expects grad to have the shape of the slice 'tensor<4x2xf32>', got 'tensor<4x3xf32>'}}
  %dx = graph.slice_grad %g axis = 1 start = 2 end = 4 : tensor<4x3xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%l: tensor<6x65xf32>, %t: tensor<6x1xi32>, %g: tensor<f32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects logits to have one more dimension (the classes) than targets}}
  %dl = graph.cross_entropy_grad %l, %t, %g
      : (tensor<6x65xf32>, tensor<6x1xi32>, tensor<f32>) -> tensor<6x65xf32>
  return
}

// -----

func.func @f(%l: tensor<6x65xf32>, %t: tensor<5xi32>, %g: tensor<f32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{dimension 0 of logits and targets differ: 6 vs 5}}
  %dl = graph.cross_entropy_grad %l, %t, %g
      : (tensor<6x65xf32>, tensor<5xi32>, tensor<f32>) -> tensor<6x65xf32>
  return
}

// -----

func.func @f(%l: tensor<6x65xf32>, %t: tensor<6xi32>, %g: tensor<1xf32>) {
  // expected-error@+1 {{operand #2 must be 0D tensor of 32-bit float values}}
  %dl = graph.cross_entropy_grad %l, %t, %g
      : (tensor<6x65xf32>, tensor<6xi32>, tensor<1xf32>) -> tensor<6x65xf32>
  return
}

// -----

func.func @f(%g: tensor<4x3xf32>, %i: tensor<6x2xi32>) {
  // expected-error@+1 {{expects grad to be [E, C, D], got 'tensor<4x3xf32>'}}
  %dx = graph.moe_dispatch_grad %g, %i : (tensor<4x3xf32>, tensor<6x2xi32>) -> tensor<6x3xf32>
  return
}

// -----

func.func @f(%g: tensor<4x3x8xf32>, %i: tensor<6xi32>) {
  // expected-error@+1 {{expects indices to be [N, k], got 'tensor<6xi32>'}}
  %dx = graph.moe_dispatch_grad %g, %i : (tensor<4x3x8xf32>, tensor<6xi32>) -> tensor<6x8xf32>
  return
}

// -----

func.func @f(%g: tensor<4x3x8xf32>, %i: tensor<6x2xi32>) {
  // expected-error@+1 {{expects the result to have the shape of [N, D] 'tensor<6x8xf32>', got 'tensor<5x8xf32>'}}
  %dx = graph.moe_dispatch_grad %g, %i : (tensor<4x3x8xf32>, tensor<6x2xi32>) -> tensor<5x8xf32>
  return
}

// -----

func.func @f(%e: tensor<4x3x8xf32>, %i: tensor<6x2xi32>, %w: tensor<6x3xf32>, %g: tensor<6x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects weights to have the shape of indices 'tensor<6x2xf32>', got 'tensor<6x3xf32>'}}
  %de, %dw = graph.moe_combine_grad %e, %i, %w, %g
      : (tensor<4x3x8xf32>, tensor<6x2xi32>, tensor<6x3xf32>, tensor<6x8xf32>)
      -> (tensor<4x3x8xf32>, tensor<6x3xf32>)
  return
}

// -----

func.func @f(%e: tensor<4x3x8xf32>, %i: tensor<6x2xi32>, %w: tensor<6x2xf32>, %g: tensor<6x4xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{expects grad to have the shape of the combined output 'tensor<6x8xf32>', got 'tensor<6x4xf32>'}}
  %de, %dw = graph.moe_combine_grad %e, %i, %w, %g
      : (tensor<4x3x8xf32>, tensor<6x2xi32>, tensor<6x2xf32>, tensor<6x4xf32>)
      -> (tensor<4x3x8xf32>, tensor<6x2xf32>)
  return
}

// -----

func.func @f(%g: tensor<6x2xf32>, %i: tensor<6x3xi32>) {
  // expected-error@+1 {{expects grad and indices to have one shape, got 'tensor<6x2xf32>' and 'tensor<6x3xi32>'}}
  %dx = graph.topk_grad %g, %i : (tensor<6x2xf32>, tensor<6x3xi32>) -> tensor<6x5xf32>
  return
}

// -----

func.func @f(%g: tensor<6x2xf32>, %i: tensor<6x2xi32>) {
  // expected-error@+1 {{expects the result to have the shape of grad with the input's last dimension 'tensor<6x5xf32>', got 'tensor<4x5xf32>'}}
  %dx = graph.topk_grad %g, %i : (tensor<6x2xf32>, tensor<6x2xi32>) -> tensor<4x5xf32>
  return
}

// -----

func.func @f(%g: tensor<6x4xf32>, %i: tensor<6x4xi32>) {
  // expected-error@+1 {{expects k = 4 to be at most the last dimension 3 of the result}}
  %dx = graph.topk_grad %g, %i : (tensor<6x4xf32>, tensor<6x4xi32>) -> tensor<6x3xf32>
  return
}

// -----

func.func @f(%g: tensor<6x2xf32>, %i: tensor<6xi32>) {
  // expected-error@+1 {{ranks of grad and indices differ: 2 vs 1}}
  %dx = graph.topk_grad %g, %i : (tensor<6x2xf32>, tensor<6xi32>) -> tensor<6x5xf32>
  return
}

// -----

func.func @f(%g: tensor<f32>, %i: tensor<i32>) {
  // expected-error@+1 {{expects grad to have rank >= 1, got 'tensor<f32>'}}
  %dx = graph.topk_grad %g, %i : (tensor<f32>, tensor<i32>) -> tensor<f32>
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
// expected-error@+1 {{expects a static tensor type, got 'tensor<?xf32>'}}
graph.state @w.grad : tensor<?xf32> {kind = "grad", state_of = @w}

// -----

graph.param @w : tensor<8xf32> = zeros
// expected-error@+1 {{expects a float element type, got 'i32'}}
graph.state @w.grad : tensor<8xi32> {kind = "grad", state_of = @w}

// -----

graph.param @w : tensor<8xf32> = zeros
// expected-error@+1 {{kind must be "grad", "momentum", "adam_m" or "adam_v", got "velocity"}}
graph.state @w.grad : tensor<8xf32> {kind = "velocity", state_of = @w}

// -----

// expected-error@+1 {{state_of '@w' does not name a graph.param}}
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
// expected-error@+1 {{state_of '@w.grad' does not name a graph.param}}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w.grad}

// -----

graph.param @w : tensor<8xf32> = zeros
// expected-error@+1 {{type 'tensor<4xf32>' differs from the type 'tensor<8xf32>' of @w}}
graph.state @w.grad : tensor<4xf32> {kind = "grad", state_of = @w}

// -----

graph.param @w : tensor<8xf32> = zeros
// expected-error@+1 {{requires attribute 'kind'}}
graph.state @w.grad : tensor<8xf32> {state_of = @w}

// -----

graph.param @w : tensor<8xf32> = zeros
func.func @f() {
  // expected-error@+1 {{'graph.state' op expects parent op 'builtin.module'}}
  "graph.state"() <{sym_name = "s", type = tensor<8xf32>, state_of = @w, kind = "grad"}> : () -> ()
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
func.func @f() {
  // expected-error@+1 {{'@nope' does not name a graph.param or graph.state}}
  %0 = graph.param_ref @nope : tensor<8xf32>
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
func.func @f() {
  // expected-error@+1 {{result type 'tensor<4xf32>' differs from the type 'tensor<8xf32>' of @w.grad}}
  %0 = graph.param_ref @w.grad : tensor<4xf32>
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
func.func @f(%d: tensor<8xf32>) {
  // expected-error@+1 {{target '@w' does not name a graph.state}}
  graph.accumulate @w, %d : tensor<8xf32>
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
func.func @f(%d: tensor<4xf32>) {
  // expected-error@+1 {{value type 'tensor<4xf32>' differs from the type 'tensor<8xf32>' of @w.grad}}
  graph.accumulate @w.grad, %d : tensor<4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{target '@missing' does not name a graph.state}}
  graph.zero @missing
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{expects at least one input}}
  %0 = "graph.global_norm"() : () -> tensor<f32>
  return
}

// -----

func.func @f(%s: tensor<i32>) {
  // expected-error@+1 {{expects base_lr >= 0, got -1}}
  %0 = graph.lr_schedule constant %s base_lr = -1.0
  return
}

// -----

func.func @f(%s: tensor<i32>) {
  // expected-error@+1 {{expects warmup_steps and total_steps >= 0, got -5 and 0}}
  %0 = graph.lr_schedule constant %s base_lr = 1.0 warmup_steps = -5
  return
}

// -----

func.func @f(%s: tensor<i32>) {
  // expected-error@+1 {{cosine schedule expects total_steps > warmup_steps, got 10 and 10}}
  %0 = graph.lr_schedule cosine %s base_lr = 1.0 warmup_steps = 10 total_steps = 10
  return
}

// -----

func.func @f(%s: tensor<f32>) {
  // expected-error@+1 {{operand #0 must be 0D tensor of 32-bit signless integer values}}
  %0 = "graph.lr_schedule"(%s) <{kind = #graph.lr_schedule_kind<constant>, base_lr = 1.0 : f64}>
      : (tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @f(%s: tensor<i32>) {
  // expected-error@+1 {{unknown keyword 'linear'}}
  %0 = graph.lr_schedule linear %s base_lr = 1.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{expects beta1 in [0, 1), got 1}}
  graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %lr, %s
      beta1 = 1.0 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{expects beta2 in [0, 1), got -0.5}}
  graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %lr, %s
      beta1 = 0.9 beta2 = -0.5 epsilon = 1.0e-8 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{expects epsilon > 0, got 0}}
  graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %lr, %s
      beta1 = 0.9 beta2 = 0.999 epsilon = 0.0 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{expects weight_decay in [0, inf), got -0.1}}
  graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %lr, %s
      beta1 = 0.9 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = -0.1
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{param '@w.grad' does not name a graph.param}}
  graph.adamw_update @w.grad, @w.grad, @w.m, @w.v, %lr, %lr, %s
      beta1 = 0.9 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{grad '@w' does not name a graph.state}}
  graph.adamw_update @w, @w, @w.m, @w.v, %lr, %lr, %s
      beta1 = 0.9 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.param @u : tensor<8xf32> = zeros
graph.state @u.grad : tensor<8xf32> {kind = "grad", state_of = @u}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{grad @u.grad is state of @u, not of @w}}
  graph.adamw_update @w, @u.grad, @w.m, @w.v, %lr, %lr, %s
      beta1 = 0.9 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<8xf32> {kind = "adam_v", state_of = @w}
func.func @f(%lr: tensor<f32>, %s: tensor<i32>) {
  // expected-error@+1 {{v @w.m has kind "adam_m", expected "adam_v"}}
  graph.adamw_update @w, @w.grad, @w.m, @w.m, %lr, %lr, %s
      beta1 = 0.9 beta2 = 0.999 epsilon = 1.0e-8 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
func.func @f(%lr: tensor<f32>) {
  // expected-error@+1 {{momentum 0.9 needs a momentum buffer operand}}
  graph.sgd_update @w, @w.grad, %lr, %lr momentum = 0.9 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
graph.state @w.momentum : tensor<8xf32> {kind = "momentum", state_of = @w}
func.func @f(%lr: tensor<f32>) {
  // expected-error@+1 {{has a momentum buffer but momentum is 0}}
  graph.sgd_update @w, @w.grad, @w.momentum, %lr, %lr momentum = 0.0 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
func.func @f(%lr: tensor<f32>) {
  // expected-error@+1 {{expects momentum in [0, inf), got -0.5}}
  graph.sgd_update @w, @w.grad, %lr, %lr momentum = -0.5 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
func.func @f(%lr: tensor<f32>) {
  // expected-error@+1 {{expects weight_decay in [0, inf), got -1}}
  graph.sgd_update @w, @w.grad, %lr, %lr momentum = 0.0 weight_decay = -1.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.grad : tensor<8xf32> {kind = "grad", state_of = @w}
func.func @f(%lr: tensor<f32>) {
  // expected-error@+1 {{momentum_buffer @w.grad has kind "grad", expected "momentum"}}
  graph.sgd_update @w, @w.grad, @w.grad, %lr, %lr momentum = 0.9 weight_decay = 0.0
  return
}

// -----

graph.param @w : tensor<8xf32> = zeros
graph.state @w.m : tensor<8xf32> {kind = "adam_m", state_of = @w}
func.func @f(%lr: tensor<f32>) {
  // expected-error@+1 {{grad @w.m has kind "adam_m", expected "grad"}}
  graph.sgd_update @w, @w.m, %lr, %lr momentum = 0.0 weight_decay = 0.0
  return
}

// -----

func.func @f(%lr: tensor<f32>) {
  // expected-error@+1 {{param '@w' does not name a graph.param}}
  graph.sgd_update @w, @w.grad, %lr, %lr momentum = 0.0 weight_decay = 0.0
  return
}
