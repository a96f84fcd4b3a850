// RUN: strata-opt %s --strata-autocast --split-input-file --verify-diagnostics

graph.param @w : tensor<4xf32> = ones
// expected-error@+1 {{strata-autocast must run before strata-autodiff, but the module already has a training step}}
graph.state @w.grad : tensor<4xf32> {kind = "grad", state_of = @w}

// -----

// expected-error@+1 {{strata-autocast must run before strata-autodiff, but the module already has a training step}}
func.func @m.apply(%step: tensor<i32> {graph.name = "step"}) attributes {graph.step = "apply"} {
  return
}

// -----

// expected-error@+1 {{strata-autocast must run before strata-autodiff, but the module already has 'graph.training'}}
module attributes {graph.training = {optimizer = "adamw"}} {
}
