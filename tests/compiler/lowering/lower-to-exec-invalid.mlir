// RUN: strata-opt %s --strata-lower-to-exec --split-input-file --verify-diagnostics --allow-unregistered-dialect

// expected-error@+1 {{strata-lower-to-exec needs static shapes; bind B and T in the model (got 'tensor<?x4xf32>')}}
func.func @dynamic_arg(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %y = graph.relu %x : tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func.func @dynamic_result(%x: tensor<2x4xf32>, %t: tensor<2xi32>) -> tensor<f32> {
  // expected-error@+1 {{strata-lower-to-exec needs static shapes; bind B and T in the model (got 'tensor<?x4xf32>')}}
  %y = graph.reshape %x : tensor<2x4xf32> -> tensor<?x4xf32>
  %l = graph.cross_entropy %y, %t : (tensor<?x4xf32>, tensor<2xi32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @foreign(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{strata-lower-to-exec cannot lower this op: only graph ops lower to exec kernels}}
  %y = "test.op"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
