// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s

// Every graph op, printed, parsed again and printed once more.

// CHECK: graph.param @w : tensor<8x16xf32> = normal(0.000000e+00, 2.000000e-02) {graph.precision = "bf16", graph.shard = ["", "tp"], graph.sparsity = "2:4"}
graph.param @w : tensor<8x16xf32> = normal(0.0, 0.02) {graph.sparsity = "2:4", graph.shard = ["", "tp"], graph.precision = "bf16"}
// CHECK: graph.param @b : tensor<16xf32> = zeros{{$}}
graph.param @b : tensor<16xf32> = zeros
// CHECK: graph.param @g : tensor<16xf32> = ones{{$}}
graph.param @g : tensor<16xf32> = ones
// CHECK: graph.param @c : tensor<16xbf16> = constant(5.000000e-01)
graph.param @c : tensor<16xbf16> = constant(0.5)
// CHECK: graph.param @u : tensor<4x4xf32> = uniform(-1.000000e+00, 1.000000e+00) {graph.sparsity = "dense"}
graph.param @u : tensor<4x4xf32> = uniform(-1.0, 1.0) {graph.sparsity = "dense"}

// CHECK-LABEL: func.func @model
// CHECK-SAME: %[[X:.*]]: tensor<4x8xf32> {graph.name = "x"}
// CHECK-SAME: attributes {graph.model}
func.func @model(%x: tensor<4x8xf32> {graph.name = "x"},
                 %t: tensor<4xi32> {graph.name = "targets"}) -> tensor<f32>
    attributes {graph.model} {
  // CHECK: %[[W:.*]] = graph.param_ref @w : tensor<8x16xf32>
  %w = graph.param_ref @w : tensor<8x16xf32>
  %b = graph.param_ref @b : tensor<16xf32>
  // CHECK: %[[H:.*]] = graph.matmul %[[X]], %[[W]] : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %h = graph.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  // CHECK: graph.add %[[H]], %{{.*}} {graph.precision = "fp8"} : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %a = graph.add %h, %b {graph.precision = "fp8"} : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  // CHECK: graph.cross_entropy %{{.*}}, %{{.*}} : (tensor<4x16xf32>, tensor<4xi32>) -> tensor<f32>
  %loss = graph.cross_entropy %a, %t : (tensor<4x16xf32>, tensor<4xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<4x8xf32>, %y: tensor<8xf32>, %d: tensor<?x1xf32>,
                       %i: tensor<4xi32>, %j: tensor<4xi32>) {
  // CHECK: graph.constant dense<1.000000e+00> : tensor<8xf32>
  %c = graph.constant dense<1.0> : tensor<8xf32>
  // CHECK: graph.add {{.*}} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %0 = graph.add %x, %y : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  // CHECK: graph.sub {{.*}} : (tensor<4x8xf32>, tensor<?x1xf32>) -> tensor<4x8xf32>
  %1 = graph.sub %x, %d : (tensor<4x8xf32>, tensor<?x1xf32>) -> tensor<4x8xf32>
  // CHECK: graph.mul {{.*}} : (tensor<?x1xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %2 = graph.mul %d, %y : (tensor<?x1xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  // CHECK: graph.div
  %3 = graph.div %x, %c : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  // CHECK: graph.maximum
  %4 = graph.maximum %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: graph.minimum
  %5 = graph.minimum %i, %j : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  // CHECK: graph.pow
  %6 = graph.pow %x, %y : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  // CHECK: graph.neg %{{.*}} : tensor<4x8xf32>
  %7 = graph.neg %x : tensor<4x8xf32>
  // CHECK: graph.exp
  %8 = graph.exp %x : tensor<4x8xf32>
  // CHECK: graph.log
  %9 = graph.log %x : tensor<4x8xf32>
  // CHECK: graph.sqrt
  %10 = graph.sqrt %x : tensor<4x8xf32>
  // CHECK: graph.rsqrt
  %11 = graph.rsqrt %x : tensor<4x8xf32>
  // CHECK: graph.tanh
  %12 = graph.tanh %x : tensor<4x8xf32>
  // CHECK: graph.sigmoid
  %13 = graph.sigmoid %x : tensor<4x8xf32>
  // CHECK: graph.relu
  %14 = graph.relu %x : tensor<4x8xf32>
  // CHECK: graph.silu
  %15 = graph.silu %d : tensor<?x1xf32>
  // CHECK: graph.abs
  %16 = graph.abs %x : tensor<4x8xf32>
  // CHECK: graph.gelu %{{.*}} : tensor<4x8xf32>
  %17 = graph.gelu %x : tensor<4x8xf32>
  // CHECK: graph.gelu %{{.*}} approximate = tanh : tensor<4x8xf32>
  %18 = graph.gelu %x approximate = tanh : tensor<4x8xf32>
  // CHECK: graph.cast %{{.*}} : tensor<4x8xf32> -> tensor<4x8xbf16>
  %19 = graph.cast %x : tensor<4x8xf32> -> tensor<4x8xbf16>
  // CHECK: graph.cast %{{.*}} : tensor<4xi32> -> tensor<4xf8E4M3FN>
  %20 = graph.cast %i : tensor<4xi32> -> tensor<4xf8E4M3FN>
  return
}

// CHECK-LABEL: func.func @contractions
func.func @contractions(%x: tensor<2x4x8xf32>, %w: tensor<16x8xf32>,
                        %q: tensor<?x8x?xf32>, %lw: tensor<8xf32>) {
  // CHECK: graph.matmul %{{.*}}, %{{.*}} transpose_b : (tensor<2x4x8xf32>, tensor<16x8xf32>) -> tensor<2x4x16xf32>
  %0 = graph.matmul %x, %w transpose_b : (tensor<2x4x8xf32>, tensor<16x8xf32>) -> tensor<2x4x16xf32>
  // CHECK: graph.matmul %{{.*}}, %{{.*}} transpose_a transpose_b : (tensor<2x4x8xf32>, tensor<16x4xf32>) -> tensor<2x8x16xf32>
  %w2 = graph.reshape %w : tensor<16x8xf32> -> tensor<16x4x2xf32>
  %w3 = graph.slice %w axis = 1 start = 0 end = 4 : tensor<16x8xf32> -> tensor<16x4xf32>
  %1 = graph.matmul %x, %w3 transpose_a transpose_b : (tensor<2x4x8xf32>, tensor<16x4xf32>) -> tensor<2x8x16xf32>
  // CHECK: graph.matmul {{.*}} : (tensor<?x8x?xf32>, tensor<16x8xf32>) -> tensor<?x8x16xf32>
  %2 = graph.matmul %q, %w transpose_b : (tensor<?x8x?xf32>, tensor<16x8xf32>) -> tensor<?x8x16xf32>
  // CHECK: graph.reduce sum %{{.*}} axes = [1] keepdim : tensor<2x4x8xf32> -> tensor<2x1x8xf32>
  %3 = graph.reduce sum %x axes = [1] keepdim : tensor<2x4x8xf32> -> tensor<2x1x8xf32>
  // CHECK: graph.reduce mean %{{.*}} axes = [0, 2] : tensor<2x4x8xf32> -> tensor<4xf32>
  %4 = graph.reduce mean %x axes = [0, 2] : tensor<2x4x8xf32> -> tensor<4xf32>
  // CHECK: graph.reduce max %{{.*}} axes = [] : tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %5 = graph.reduce max %x axes = [] : tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  // CHECK: graph.reduce min %{{.*}} axes = [0, 1, 2] : tensor<2x4x8xf32> -> tensor<f32>
  %6 = graph.reduce min %x axes = [0, 1, 2] : tensor<2x4x8xf32> -> tensor<f32>
  // CHECK: graph.softmax %{{.*}} axis = 2 : tensor<2x4x8xf32>
  %7 = graph.softmax %x axis = 2 : tensor<2x4x8xf32>
  // CHECK: graph.log_softmax %{{.*}} axis = 0 : tensor<?x8x?xf32>
  %8 = graph.log_softmax %q axis = 0 : tensor<?x8x?xf32>
  // CHECK: graph.layer_norm %{{.*}}, %{{.*}}, %{{.*}} epsilon = 1.000000e-05 : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %9 = graph.layer_norm %x, %lw, %lw epsilon = 1.0e-5 : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  // CHECK: graph.rms_norm %{{.*}}, %{{.*}} epsilon = 9.9999999999999995E-7 : (tensor<?x8x?xf32>, tensor<8xf32>) -> tensor<?x8x?xf32>
  %10 = graph.rms_norm %q, %lw epsilon = 1.0e-6 : (tensor<?x8x?xf32>, tensor<8xf32>) -> tensor<?x8x?xf32>
  return
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<4x8xf32>, %y: tensor<?x8xf32>, %ids: tensor<2x3xi32>) {
  // CHECK: graph.reshape %{{.*}} : tensor<4x8xf32> -> tensor<2x16xf32>
  %0 = graph.reshape %x : tensor<4x8xf32> -> tensor<2x16xf32>
  // CHECK: graph.reshape %{{.*}} : tensor<?x8xf32> -> tensor<?x2x4xf32>
  %1 = graph.reshape %y : tensor<?x8xf32> -> tensor<?x2x4xf32>
  // CHECK: graph.transpose %{{.*}} permutation = [1, 0] : tensor<4x8xf32> -> tensor<8x4xf32>
  %2 = graph.transpose %x permutation = [1, 0] : tensor<4x8xf32> -> tensor<8x4xf32>
  // CHECK: graph.slice %{{.*}} axis = 1 start = 2 end = 5 : tensor<4x8xf32> -> tensor<4x3xf32>
  %3 = graph.slice %x axis = 1 start = 2 end = 5 : tensor<4x8xf32> -> tensor<4x3xf32>
  // CHECK: graph.slice %{{.*}} axis = 0 start = 1 end = 3 : tensor<?x8xf32> -> tensor<2x8xf32>
  %4 = graph.slice %y axis = 0 start = 1 end = 3 : tensor<?x8xf32> -> tensor<2x8xf32>
  // CHECK: graph.concat %{{.*}}, %{{.*}}, %{{.*}} axis = 0 : (tensor<4x8xf32>, tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x8xf32>
  %5 = graph.concat %x, %y, %4 axis = 0 : (tensor<4x8xf32>, tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x8xf32>
  // CHECK: graph.gather %{{.*}}[%{{.*}}] : (tensor<4x8xf32>, tensor<2x3xi32>) -> tensor<2x3x8xf32>
  %6 = graph.gather %x[%ids] : (tensor<4x8xf32>, tensor<2x3xi32>) -> tensor<2x3x8xf32>
  // CHECK: graph.iota : tensor<8xi32>
  %7 = graph.iota : tensor<8xi32>
  // CHECK: graph.one_hot %{{.*}} num_classes = 10 : tensor<2x3xi32> -> tensor<2x3x10xf32>
  %8 = graph.one_hot %ids num_classes = 10 : tensor<2x3xi32> -> tensor<2x3x10xf32>
  return
}

// CHECK-LABEL: func.func @transformer
func.func @transformer(%q: tensor<2x8x16x64xf32>, %kv: tensor<2x2x?x64xf32>,
                       %x: tensor<16x32xf32>, %logits: tensor<16x8xf32>) {
  // CHECK: graph.rope %{{.*}} theta = 1.000000e+04 : tensor<2x8x16x64xf32>
  %0 = graph.rope %q theta = 10000.0 : tensor<2x8x16x64xf32>
  // CHECK: graph.attention %{{.*}}, %{{.*}}, %{{.*}} scale = 1.250000e-01 causal : (tensor<2x8x16x64xf32>, tensor<2x2x?x64xf32>, tensor<2x2x?x64xf32>) -> tensor<2x8x16x64xf32>
  %1 = graph.attention %0, %kv, %kv scale = 0.125 causal : (tensor<2x8x16x64xf32>, tensor<2x2x?x64xf32>, tensor<2x2x?x64xf32>) -> tensor<2x8x16x64xf32>
  // CHECK: graph.attention %{{.*}}, %{{.*}}, %{{.*}} scale = 1.250000e-01 : (
  %2 = graph.attention %q, %q, %q scale = 0.125 : (tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>) -> tensor<2x8x16x64xf32>
  // CHECK: %[[V:.*]], %[[I:.*]] = graph.topk %{{.*}} k = 2 : tensor<16x8xf32> -> (tensor<16x2xf32>, tensor<16x2xi32>)
  %v, %i = graph.topk %logits k = 2 : tensor<16x8xf32> -> (tensor<16x2xf32>, tensor<16x2xi32>)
  // CHECK: %[[D:.*]] = graph.moe_dispatch %{{.*}}, %[[I]] num_experts = 8 capacity = 4 : (tensor<16x32xf32>, tensor<16x2xi32>) -> tensor<8x4x32xf32>
  %d = graph.moe_dispatch %x, %i num_experts = 8 capacity = 4 : (tensor<16x32xf32>, tensor<16x2xi32>) -> tensor<8x4x32xf32>
  // CHECK: graph.moe_combine %[[D]], %[[I]], %[[V]] : (tensor<8x4x32xf32>, tensor<16x2xi32>, tensor<16x2xf32>) -> tensor<16x32xf32>
  %y = graph.moe_combine %d, %i, %v : (tensor<8x4x32xf32>, tensor<16x2xi32>, tensor<16x2xf32>) -> tensor<16x32xf32>
  return
}
