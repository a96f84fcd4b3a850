// RUN: strata-opt %s --strata-autodiff="func=loss" --split-input-file --verify-diagnostics

// expected-error@+1 {{strata-autodiff: no function '@loss' with a body to differentiate (func=)}}
module {
  func.func @other(%x: tensor<f32>) -> tensor<f32> {
    return %x : tensor<f32>
  }
}

// -----

// expected-error@+1 {{strata-autodiff: '@loss' must return one tensor<f32> (the loss), got (tensor<4xf32>)}}
func.func @loss(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// expected-error@+1 {{strata-autodiff: '@loss' must return one tensor<f32> (the loss), got (tensor<f32>, tensor<f32>)}}
func.func @loss(%x: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  return %x, %x : tensor<f32>, tensor<f32>
}

// -----

// expected-error@+1 {{strata-autodiff: '@loss' must return one tensor<f32> (the loss), got (tensor<f64>)}}
func.func @loss(%x: tensor<f64>) -> tensor<f64> {
  return %x : tensor<f64>
}
