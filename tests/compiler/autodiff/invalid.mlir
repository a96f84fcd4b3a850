// RUN: strata-opt %s --strata-autodiff --split-input-file --verify-diagnostics

// expected-error@+1 {{strata-autodiff: no function is marked 'graph.model'; name the loss function with func=}}
module {
  func.func @loss(%x: tensor<f32>) -> tensor<f32> {
    return %x : tensor<f32>
  }
}

// -----

// expected-error@+1 {{strata-autodiff: 2 functions are marked 'graph.model'; choose one with func=}}
module {
  // expected-note@+1 {{candidate '@a'}}
  func.func @a(%x: tensor<f32> {graph.name = "x"}) -> tensor<f32> attributes {graph.model} {
    return %x : tensor<f32>
  }
  // expected-note@+1 {{candidate '@b'}}
  func.func @b(%x: tensor<f32> {graph.name = "x"}) -> tensor<f32> attributes {graph.model} {
    return %x : tensor<f32>
  }
}

// -----

// An op without a gradient rule between a parameter and the loss.
graph.param @w : tensor<4xf32> = ones
func.func @m(%g: tensor<4xf32> {graph.name = "g"}) -> tensor<f32> attributes {graph.model} {
  %w = graph.param_ref @w : tensor<4xf32>
  // expected-error@+1 {{strata-autodiff: 'graph.softmax_grad' has no gradient rule, but the loss depends on a parameter through it}}
  %0 = graph.softmax_grad %w, %g axis = 0 : tensor<4xf32>
  %1 = graph.reduce sum %0 axes = [0] : tensor<4xf32> -> tensor<f32>
  return %1 : tensor<f32>
}

// -----

// The same op off the path from the parameters to the loss needs no rule.
graph.param @w : tensor<4xf32> = ones
func.func @m(%g: tensor<4xf32> {graph.name = "g"}) -> tensor<f32> attributes {graph.model} {
  %w = graph.param_ref @w : tensor<4xf32>
  %0 = graph.softmax_grad %g, %g axis = 0 : tensor<4xf32>
  %1 = graph.mul %0, %w : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = graph.reduce sum %1 axes = [0] : tensor<4xf32> -> tensor<f32>
  return %2 : tensor<f32>
}

// -----

graph.param @w : tensor<4xf32> = ones
func.func @m(%x: tensor<?x4xf32> {graph.name = "x"}) -> tensor<f32> attributes {graph.model} {
  %w = graph.param_ref @w : tensor<4xf32>
  // expected-error@+1 {{strata-autodiff needs static tensor shapes, got 'tensor<?x4xf32>'}}
  %0 = graph.mul %x, %w : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %1 = graph.reduce sum %0 axes = [0, 1] : tensor<?x4xf32> -> tensor<f32>
  return %1 : tensor<f32>
}

// -----

graph.param @w : tensor<4xf32> = ones
// expected-note@+1 {{defined here}}
graph.param @w.grad : tensor<4xf32> = zeros
// expected-error@+1 {{strata-autodiff: symbol '@w.grad' already exists (is the module already trained?)}}
func.func @m() -> tensor<f32> attributes {graph.model} {
  %w = graph.param_ref @w : tensor<4xf32>
  %0 = graph.reduce sum %w axes = [0] : tensor<4xf32> -> tensor<f32>
  return %0 : tensor<f32>
}
