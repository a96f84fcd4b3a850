// RUN: strata-opt %s --strata-autocast="precision=fp8" --verify-diagnostics

// expected-error@+1 {{strata-autocast: unknown precision 'fp8' (expected bf16 or f32)}}
module {
  func.func @m(%x: tensor<2xf32>) -> tensor<2xf32> {
    return %x : tensor<2xf32>
  }
}
