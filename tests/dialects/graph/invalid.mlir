// RUN: strata-opt %s --split-input-file --verify-diagnostics

// expected-error@+1 {{expects a static tensor type, got 'tensor<?x8xf32>'}}
graph.param @p : tensor<?x8xf32> = zeros

// -----

// expected-error@+1 {{expects a float element type (parameters are trained)}}
graph.param @p : tensor<8xi32> = zeros

// -----

// expected-error@+1 {{initializer 'normal' takes (mean, std), got 1 number(s)}}
graph.param @p : tensor<8xf32> = normal(0.02)

// -----

// expected-error@+1 {{initializer 'zeros' takes no arguments, got 1 number(s)}}
graph.param @p : tensor<8xf32> = zeros(1.0)

// -----

// expected-error@+1 {{normal initializer expects std > 0}}
graph.param @p : tensor<8xf32> = normal(0.0, -1.0)

// -----

// expected-error@+1 {{uniform initializer expects low < high, got (1.000000e+00, -1.000000e+00)}}
graph.param @p : tensor<8xf32> = uniform(1.0, -1.0)

// -----

// expected-error@+1 {{expected an initializer: zeros, ones, constant, normal or uniform}}
graph.param @p : tensor<8xf32> = xavier

// -----

func.func @f() {
  // expected-error@+1 {{'graph.param' op expects parent op 'builtin.module'}}
  "graph.param"() <{sym_name = "p", type = tensor<8xf32>, init = #graph.init_kind<zeros>}> : () -> ()
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'@missing' does not name a graph.param}}
  %0 = graph.param_ref @missing : tensor<8xf32>
  return
}

// -----

graph.param @p : tensor<8xf32> = zeros
func.func @f() {
  // expected-error@+1 {{result type 'tensor<4xf32>' differs from the type 'tensor<8xf32>' of @p}}
  %0 = graph.param_ref @p : tensor<4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'graph.constant' op result #0 must be ranked tensor of floating-point or signless integer values, but got 'tensor<2xcomplex<f32>>'}}
  %0 = "graph.constant"() <{value = dense<(1.0, 0.0)> : tensor<2xcomplex<f32>>}> : () -> tensor<2xcomplex<f32>>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<4x7xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.add' op cannot broadcast 'tensor<4x8xf32>' with 'tensor<4x7xf32>'}}
  %0 = graph.add %a, %b : (tensor<4x8xf32>, tensor<4x7xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4xf32>, %b: tensor<4xbf16>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.mul' op expects lhs and rhs to have the same element type, got 'tensor<4xf32>' and 'tensor<4xbf16>'}}
  %0 = graph.mul %a, %b : (tensor<4xf32>, tensor<4xbf16>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.sub' op inferred type(s) 'tensor<4x8xf32>' are incompatible with return type(s) of operation 'tensor<4x9xf32>'}}
  %0 = graph.sub %a, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x9xf32>
  return
}

// -----

func.func @f(%a: tensor<4xi32>) {
  // expected-error@+1 {{'graph.exp' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<4xi32>'}}
  %0 = "graph.exp"(%a) : (tensor<4xi32>) -> tensor<4xi32>
  return
}

// -----

func.func @f(%a: tensor<4xf32>) {
  // expected-error@+1 {{unknown keyword 'fast'}}
  %0 = graph.gelu %a approximate = fast : tensor<4xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{'graph.cast' op expects the result to have the input's shape, got 'tensor<4x8xf32>' -> 'tensor<8x4xbf16>'}}
  %0 = graph.cast %a : tensor<4x8xf32> -> tensor<8x4xbf16>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<7x16xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.matmul' op contracting dimensions of lhs and rhs differ: 8 vs 7}}
  %0 = graph.matmul %a, %b : (tensor<4x8xf32>, tensor<7x16xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%a: tensor<8xf32>, %b: tensor<8x16xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.matmul' op expects lhs to have rank at least 2, got 'tensor<8xf32>'}}
  %0 = graph.matmul %a, %b : (tensor<8xf32>, tensor<8x16xf32>) -> tensor<16xf32>
  return
}

// -----

func.func @f(%a: tensor<2x4x8xf32>, %b: tensor<3x8x16xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.matmul' op batch dimensions of 'tensor<2x4x8xf32>' and 'tensor<3x8x16xf32>' do not broadcast}}
  %0 = graph.matmul %a, %b : (tensor<2x4x8xf32>, tensor<3x8x16xf32>) -> tensor<2x4x16xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.reduce' op axis 2 is out of range for rank 2}}
  %0 = graph.reduce sum %a axes = [2] : tensor<4x8xf32> -> tensor<4xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.reduce' op expects axes sorted and unique, got [1, 0]}}
  %0 = graph.reduce sum %a axes = [1, 0] : tensor<4x8xf32> -> tensor<f32>
  return
}

// -----

func.func @f(%a: tensor<4x8xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.reduce' op 'mean' needs a float input, got 'tensor<4x8xi32>'}}
  %0 = graph.reduce mean %a axes = [1] : tensor<4x8xi32> -> tensor<4xi32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{unknown keyword 'prod'}}
  %0 = graph.reduce prod %a axes = [1] : tensor<4x8xf32> -> tensor<4xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{'graph.softmax' op axis -1 is out of range for rank 2}}
  %0 = graph.softmax %a axis = -1 : tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{'graph.log_softmax' op axis 2 is out of range for rank 2}}
  %0 = graph.log_softmax %a axis = 2 : tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %w: tensor<7xf32>, %b: tensor<8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.layer_norm' op last dimension of input and size of weight differ: 8 vs 7}}
  %0 = graph.layer_norm %a, %w, %b epsilon = 1.0e-5 : (tensor<4x8xf32>, tensor<7xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %w: tensor<8xf32>, %b: tensor<8xbf16>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.layer_norm' op expects input and bias to have the same element type}}
  %0 = graph.layer_norm %a, %w, %b epsilon = 1.0e-5 : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xbf16>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %w: tensor<8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.rms_norm' op expects epsilon > 0, got 0}}
  %0 = graph.rms_norm %a, %w epsilon = 0.0 : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %w: tensor<2x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.rms_norm' op expects weight to have rank 1, got 'tensor<2x8xf32>'}}
  %0 = graph.rms_norm %a, %w epsilon = 1.0e-6 : (tensor<4x8xf32>, tensor<2x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{'graph.reshape' op cannot reshape 'tensor<4x8xf32>' into 'tensor<3x8xf32>': the element counts differ}}
  %0 = graph.reshape %a : tensor<4x8xf32> -> tensor<3x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{'graph.reshape' op cannot reshape 'tensor<4x8xf32>' into 'tensor<?x5xf32>': the element counts differ}}
  %0 = graph.reshape %a : tensor<4x8xf32> -> tensor<?x5xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+1 {{'graph.reshape' op expects the input's element type, got 'tensor<4x8xf32>' -> 'tensor<32xf16>'}}
  %0 = graph.reshape %a : tensor<4x8xf32> -> tensor<32xf16>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.transpose' op permutation [0, 0] is not a permutation of 0..1}}
  %0 = graph.transpose %a permutation = [0, 0] : tensor<4x8xf32> -> tensor<4x4xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.slice' op expects 0 <= start < end <= 8 along axis 1, got start = 2, end = 9}}
  %0 = graph.slice %a axis = 1 start = 2 end = 9 : tensor<4x8xf32> -> tensor<4x7xf32>
  return
}

// -----

func.func @f(%a: tensor<?x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.slice' op expects 0 <= start < end <= ? along axis 0, got start = 3, end = 3}}
  %0 = graph.slice %a axis = 0 start = 3 end = 3 : tensor<?x8xf32> -> tensor<0x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.slice' op axis 2 is out of range for rank 2}}
  %0 = graph.slice %a axis = 2 start = 0 end = 1 : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<5x2xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.concat' op dimension 0 of input #1 is 5 where the inputs before have 4}}
  %0 = graph.concat %a, %b axis = 1 : (tensor<4x8xf32>, tensor<5x2xf32>) -> tensor<4x10xf32>
  return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.concat' op expects inputs of one rank, got 'tensor<4x8xf32>' and 'tensor<4xf32>'}}
  %0 = graph.concat %a, %b axis = 0 : (tensor<4x8xf32>, tensor<4xf32>) -> tensor<8x8xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.concat' op expects at least one input}}
  %0 = "graph.concat"() <{axis = 0 : i64}> : () -> tensor<4xf32>
  return
}

// -----

func.func @f(%t: tensor<4x8xf32>, %i: tensor<2xf32>) {
  // expected-error@+1 {{'graph.gather' op operand #1 must be ranked tensor of signless integer values, but got 'tensor<2xf32>'}}
  %0 = graph.gather %t[%i] : (tensor<4x8xf32>, tensor<2xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%t: tensor<f32>, %i: tensor<2xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.gather' op expects table to have rank at least 1, got 'tensor<f32>'}}
  %0 = graph.gather %t[%i] : (tensor<f32>, tensor<2xi32>) -> tensor<2xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'graph.iota' op expects a static 1-D result, got 'tensor<?xi32>'}}
  %0 = graph.iota : tensor<?xi32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'graph.iota' op expects a static 1-D result, got 'tensor<2x4xi32>'}}
  %0 = graph.iota : tensor<2x4xi32>
  return
}

// -----

func.func @f(%i: tensor<4xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.one_hot' op expects num_classes > 0, got 0}}
  %0 = graph.one_hot %i num_classes = 0 : tensor<4xi32> -> tensor<4x0xf32>
  return
}

// -----

func.func @f(%x: tensor<2x4x16x7xf32>) {
  // expected-error@+1 {{'graph.rope' op expects an even head dimension (it rotates pairs), got 7}}
  %0 = graph.rope %x theta = 10000.0 : tensor<2x4x16x7xf32>
  return
}

// -----

func.func @f(%x: tensor<4x16x8xf32>) {
  // expected-error@+1 {{'graph.rope' op expects input to have rank 4, got 'tensor<4x16x8xf32>'}}
  %0 = graph.rope %x theta = 10000.0 : tensor<4x16x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x4x16x8xf32>) {
  // expected-error@+1 {{'graph.rope' op expects theta > 0, got -1}}
  %0 = graph.rope %x theta = -1.0 : tensor<2x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<2x6x16x64xf32>, %kv: tensor<2x4x16x64xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.attention' op expects the query heads (6) to be a multiple of the key/value heads (4)}}
  %0 = graph.attention %q, %kv, %kv scale = 0.125 : (tensor<2x6x16x64xf32>, tensor<2x4x16x64xf32>, tensor<2x4x16x64xf32>) -> tensor<2x6x16x64xf32>
  return
}

// -----

func.func @f(%q: tensor<2x8x16x64xf32>, %k: tensor<2x8x16x32xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.attention' op head dimensions of query and key differ: 64 vs 32}}
  %0 = graph.attention %q, %k, %k scale = 0.125 : (tensor<2x8x16x64xf32>, tensor<2x8x16x32xf32>, tensor<2x8x16x32xf32>) -> tensor<2x8x16x32xf32>
  return
}

// -----

func.func @f(%q: tensor<2x8x16x64xf32>, %k: tensor<2x8x16x64xf32>, %v: tensor<2x8x12x64xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.attention' op sequence lengths of key and value differ: 16 vs 12}}
  %0 = graph.attention %q, %k, %v scale = 0.125 : (tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>, tensor<2x8x12x64xf32>) -> tensor<2x8x16x64xf32>
  return
}

// -----

func.func @f(%q: tensor<2x8x16x64xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.attention' op expects scale > 0, got 0}}
  %0 = graph.attention %q, %q, %q scale = 0.0 : (tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>) -> tensor<2x8x16x64xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.topk' op expects k <= 8 (the last dimension), got 9}}
  %v, %i = graph.topk %x k = 9 : tensor<4x8xf32> -> (tensor<4x9xf32>, tensor<4x9xi32>)
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.topk' op expects k > 0, got 0}}
  %v, %i = graph.topk %x k = 0 : tensor<4x8xf32> -> (tensor<4x0xf32>, tensor<4x0xi32>)
  return
}

// -----

func.func @f(%x: tensor<16x32xf32>, %i: tensor<8x2xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.moe_dispatch' op token counts of input and indices differ: 16 vs 8}}
  %0 = graph.moe_dispatch %x, %i num_experts = 8 capacity = 4 : (tensor<16x32xf32>, tensor<8x2xi32>) -> tensor<8x4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<16x32xf32>, %i: tensor<16x2xi64>) {
  // expected-error@+1 {{'graph.moe_dispatch' op operand #1 must be ranked tensor of 32-bit signless integer values, but got 'tensor<16x2xi64>'}}
  %0 = graph.moe_dispatch %x, %i num_experts = 8 capacity = 4 : (tensor<16x32xf32>, tensor<16x2xi64>) -> tensor<8x4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<16x32xf32>, %i: tensor<16x2xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.moe_dispatch' op expects capacity > 0, got 0}}
  %0 = graph.moe_dispatch %x, %i num_experts = 8 capacity = 0 : (tensor<16x32xf32>, tensor<16x2xi32>) -> tensor<8x0x32xf32>
  return
}

// -----

func.func @f(%e: tensor<8x4x32xf32>, %i: tensor<16x2xi32>, %w: tensor<16x3xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.moe_combine' op choices per token of indices and weights differ: 2 vs 3}}
  %0 = graph.moe_combine %e, %i, %w : (tensor<8x4x32xf32>, tensor<16x2xi32>, tensor<16x3xf32>) -> tensor<16x32xf32>
  return
}

// -----

func.func @f(%e: tensor<8x32xf32>, %i: tensor<16x2xi32>, %w: tensor<16x2xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.moe_combine' op expects expert_outputs to have rank 3, got 'tensor<8x32xf32>'}}
  %0 = graph.moe_combine %e, %i, %w : (tensor<8x32xf32>, tensor<16x2xi32>, tensor<16x2xf32>) -> tensor<16x32xf32>
  return
}

// -----

func.func @f(%l: tensor<4x8x65xf32>, %t: tensor<4x9xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.cross_entropy' op dimension 1 of logits and targets differ: 8 vs 9}}
  %0 = graph.cross_entropy %l, %t : (tensor<4x8x65xf32>, tensor<4x9xi32>) -> tensor<f32>
  return
}

// -----

func.func @f(%l: tensor<4x65xf32>, %t: tensor<4x65xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'graph.cross_entropy' op expects logits to have one more dimension (the classes) than targets}}
  %0 = graph.cross_entropy %l, %t : (tensor<4x65xf32>, tensor<4x65xi32>) -> tensor<f32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Hint attributes
//===----------------------------------------------------------------------===//

// expected-error@+1 {{expects 'graph.sparsity' to be "dense" or "N:M" with 0 < N < M, got "4:2"}}
graph.param @p : tensor<8x8xf32> = zeros {graph.sparsity = "4:2"}

// -----

// expected-error@+1 {{expects 'graph.sparsity' to be "dense" or "N:M" with 0 < N < M, got 2 : i64}}
graph.param @p : tensor<8x8xf32> = zeros {graph.sparsity = 2}

// -----

func.func @f(%x: tensor<4xf32>) {
  // expected-error@+1 {{'graph.sparsity' is only valid on graph.param}}
  %0 = graph.exp %x {graph.sparsity = "2:4"} : tensor<4xf32>
  return
}

// -----

// expected-error@+1 {{expects 'graph.precision' to be one of "f32", "bf16", "f16", "fp8", got "f64"}}
graph.param @p : tensor<8xf32> = zeros {graph.precision = "f64"}

// -----

// expected-error@+1 {{'graph.precision' is only valid on graph ops}}
func.func @f() attributes {graph.precision = "bf16"} {
  return
}

// -----

// expected-error@+1 {{expects 'graph.shard' to have one entry per dimension (2), got 1}}
graph.param @p : tensor<8x8xf32> = zeros {graph.shard = ["tp"]}

// -----

// expected-error@+1 {{expects each 'graph.shard' entry to be one of "", "dp", "tp", "pp", "ep", got "xp"}}
graph.param @p : tensor<8x8xf32> = zeros {graph.shard = ["xp", ""]}

// -----

// expected-error@+1 {{shards two dimensions over mesh axis 'tp'}}
graph.param @p : tensor<8x8xf32> = zeros {graph.shard = ["tp", "tp"]}

// -----

// expected-error@+1 {{expects 'graph.shard' to be an array of strings, got "tp"}}
graph.param @p : tensor<8x8xf32> = zeros {graph.shard = "tp"}

// -----

func.func @f(%x: tensor<4xf32>) {
  // expected-error@+1 {{'graph.shard' is only valid on graph.param}}
  %0 = graph.exp %x {graph.shard = [""]} : tensor<4xf32>
  return
}

// -----

// expected-error@+1 {{a 'graph.model' function returns one tensor<f32> (the loss)}}
func.func @m(%x: tensor<4xf32> {graph.name = "x"}) -> tensor<4xf32> attributes {graph.model} {
  return %x : tensor<4xf32>
}

// -----

// expected-error@+1 {{argument #1 of a 'graph.model' function needs a 'graph.name'}}
func.func @m(%x: tensor<4xf32> {graph.name = "x"}, %y: tensor<f32>) -> tensor<f32> attributes {graph.model} {
  return %y : tensor<f32>
}

// -----

// expected-error@+1 {{two arguments are named 'x'}}
func.func @m(%x: tensor<4xf32> {graph.name = "x"}, %y: tensor<f32> {graph.name = "x"}) -> tensor<f32> attributes {graph.model} {
  return %y : tensor<f32>
}

// -----

// expected-error@+1 {{expects 'graph.model' to be a unit attribute}}
func.func @m(%y: tensor<f32> {graph.name = "y"}) -> tensor<f32> attributes {graph.model = 1} {
  return %y : tensor<f32>
}

// -----

// expected-error@+1 {{'graph.model' is only valid on a function}}
graph.param @p : tensor<8xf32> = zeros {graph.model}

// -----

// expected-error@+1 {{expects 'graph.name' of argument #0 to be a non-empty string}}
func.func @f(%x: tensor<4xf32> {graph.name = ""}) {
  return
}

// -----

// expected-error@+1 {{unknown argument attribute 'graph.nmae' on argument #0}}
func.func @f(%x: tensor<4xf32> {graph.nmae = "x"}) {
  return
}

// -----

// expected-error@+1 {{unknown result attribute 'graph.name' on result #0}}
func.func @f(%x: tensor<f32>) -> (tensor<f32> {graph.name = "loss"}) {
  return %x : tensor<f32>
}

// -----

func.func @f(%x: tensor<4xf32>) {
  // expected-error@+1 {{'graph.name' is only valid on the arguments of a 'graph.model' function}}
  %0 = graph.exp %x {graph.name = "y"} : tensor<4xf32>
  return
}

// -----

// expected-error@+1 {{unknown attribute 'graph.sparse'}}
graph.param @p : tensor<8xf32> = zeros {graph.sparse = "2:4"}

// -----

// expected-error@+1 {{expects 'graph.step' to be "grad" or "apply" on a function}}
func.func @f() attributes {graph.step = "forward"} {
  return
}

// -----

// expected-error@+1 {{expects 'graph.training' to be a dictionary on the module}}
module attributes {graph.training = "adamw"} {
}
