// RUN: strata-opt %s --strata-autodiff="schedule=linear" --verify-diagnostics

graph.param @w : tensor<4xf32> = ones
// expected-error@+1 {{strata-autodiff of '@m': unknown schedule 'linear' (expected constant or cosine)}}
func.func @m() -> tensor<f32> attributes {graph.model} {
  %w = graph.param_ref @w : tensor<4xf32>
  %0 = graph.reduce sum %w axes = [0] : tensor<4xf32> -> tensor<f32>
  return %0 : tensor<f32>
}
