// RUN: strata-opt %s --strata-autocast --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-autocast="precision=f32" --split-input-file | FileCheck %s --check-prefix=F32

// A dense layer runs in bf16 with its bias (autocast's nn.Linear); the
// softmax casts its input up; cross_entropy reads its logits as they are.
// A parameter read twice is cast once.

// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>
// CHECK-NEXT: %[[XH:.*]] = graph.cast %[[X]] : tensor<2x4xf32> -> tensor<2x4xbf16>
// CHECK-NEXT: %[[W:.*]] = graph.param_ref @w : tensor<4x3xf32>
// CHECK-NEXT: %[[WH:.*]] = graph.cast %[[W]] : tensor<4x3xf32> -> tensor<4x3xbf16>
// CHECK-NEXT: %[[B:.*]] = graph.param_ref @b : tensor<3xf32>
// CHECK-NEXT: %[[BH:.*]] = graph.cast %[[B]] : tensor<3xf32> -> tensor<3xbf16>
// CHECK-NEXT: %[[Y:.*]] = graph.matmul %[[XH]], %[[WH]] : (tensor<2x4xbf16>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
// CHECK-NEXT: %[[Z:.*]] = graph.add %[[Y]], %[[BH]] : (tensor<2x3xbf16>, tensor<3xbf16>) -> tensor<2x3xbf16>
// CHECK-NEXT: %[[ZF:.*]] = graph.cast %[[Z]] : tensor<2x3xbf16> -> tensor<2x3xf32>
// CHECK-NEXT: %[[S:.*]] = graph.softmax %[[ZF]] axis = 1 : tensor<2x3xf32>
// CHECK-NEXT: %[[Y2:.*]] = graph.matmul %[[XH]], %[[WH]] : (tensor<2x4xbf16>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
// CHECK-NEXT: %[[L:.*]] = graph.cross_entropy %[[Y2]], %{{.*}} : (tensor<2x3xbf16>, tensor<2xi32>) -> tensor<f32>
// CHECK-NEXT: %[[SUM:.*]] = graph.reduce sum %[[S]] axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
// CHECK-NEXT: %[[R:.*]] = graph.add %[[L]], %[[SUM]] : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK-NEXT: return %[[R]] : tensor<f32>

// F32-LABEL: func.func @linear
// F32-NOT: graph.cast
// F32: graph.matmul %{{.*}}, %{{.*}} : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
graph.param @w : tensor<4x3xf32> = normal(0.0, 0.02)
graph.param @b : tensor<3xf32> = zeros
func.func @linear(%x: tensor<2x4xf32> {graph.name = "x"},
                  %t: tensor<2xi32> {graph.name = "t"}) -> tensor<f32>
    attributes {graph.model} {
  %w = graph.param_ref @w : tensor<4x3xf32>
  %b = graph.param_ref @b : tensor<3xf32>
  %y = graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %z = graph.add %y, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %s = graph.softmax %z axis = 1 : tensor<2x3xf32>
  %w2 = graph.param_ref @w : tensor<4x3xf32>
  %y2 = graph.matmul %x, %w2 : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %l = graph.cross_entropy %y2, %t : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
  %sum = graph.reduce sum %s axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  %r = graph.add %l, %sum : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %r : tensor<f32>
}

// -----

// The residual stream stays f32: a bf16 branch added to it is cast up; an
// activation of a bf16 value stays bf16, and so do layout ops and
// attention; a literal takes the type of the tensor it meets.

// CHECK-LABEL: func.func @residual
// CHECK: %[[H:.*]] = graph.matmul {{.*}} -> tensor<2x4x8xbf16>
// CHECK-NEXT: %[[G:.*]] = graph.gelu %[[H]] approximate = tanh : tensor<2x4x8xbf16>
// CHECK-NEXT: %[[C:.*]] = graph.constant dense<5.000000e-01> : tensor<f32>
// CHECK-NEXT: %[[CH:.*]] = graph.cast %[[C]] : tensor<f32> -> tensor<bf16>
// CHECK-NEXT: %[[HALF:.*]] = graph.mul %[[G]], %[[CH]] : (tensor<2x4x8xbf16>, tensor<bf16>) -> tensor<2x4x8xbf16>
// CHECK-NEXT: %[[Q:.*]] = graph.reshape %[[HALF]] : tensor<2x4x8xbf16> -> tensor<2x4x2x4xbf16>
// CHECK-NEXT: %[[QT:.*]] = graph.transpose %[[Q]] permutation = [0, 2, 1, 3] : tensor<2x4x2x4xbf16> -> tensor<2x2x4x4xbf16>
// CHECK-NEXT: %[[A:.*]] = graph.attention %[[QT]], %[[QT]], %[[QT]] scale = 5.000000e-01 causal : {{.*}} -> tensor<2x2x4x4xbf16>
// CHECK-NEXT: %[[AT:.*]] = graph.transpose %[[A]] {{.*}} -> tensor<2x4x2x4xbf16>
// CHECK-NEXT: %[[AR:.*]] = graph.reshape %[[AT]] : tensor<2x4x2x4xbf16> -> tensor<2x4x8xbf16>
// CHECK-NEXT: %[[ARF:.*]] = graph.cast %[[AR]] : tensor<2x4x8xbf16> -> tensor<2x4x8xf32>
// CHECK-NEXT: %[[RES:.*]] = graph.add %[[X:.*]], %[[ARF]] : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
// CHECK: %[[N:.*]] = graph.layer_norm %[[RES]], {{.*}} -> tensor<2x4x8xf32>
graph.param @w : tensor<8x8xf32> = normal(0.0, 0.02)
graph.param @g : tensor<8xf32> = ones
graph.param @b : tensor<8xf32> = zeros
func.func @residual(%x: tensor<2x4x8xf32> {graph.name = "x"}) -> tensor<f32>
    attributes {graph.model} {
  %w = graph.param_ref @w : tensor<8x8xf32>
  %h = graph.matmul %x, %w : (tensor<2x4x8xf32>, tensor<8x8xf32>) -> tensor<2x4x8xf32>
  %g = graph.gelu %h approximate = tanh : tensor<2x4x8xf32>
  %c = graph.constant dense<0.5> : tensor<f32>
  %half = graph.mul %g, %c : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %q = graph.reshape %half : tensor<2x4x8xf32> -> tensor<2x4x2x4xf32>
  %qt = graph.transpose %q permutation = [0, 2, 1, 3] : tensor<2x4x2x4xf32> -> tensor<2x2x4x4xf32>
  %a = graph.attention %qt, %qt, %qt scale = 0.5 causal
      : (tensor<2x2x4x4xf32>, tensor<2x2x4x4xf32>, tensor<2x2x4x4xf32>) -> tensor<2x2x4x4xf32>
  %at = graph.transpose %a permutation = [0, 2, 1, 3] : tensor<2x2x4x4xf32> -> tensor<2x4x2x4xf32>
  %ar = graph.reshape %at : tensor<2x4x2x4xf32> -> tensor<2x4x8xf32>
  %res = graph.add %x, %ar : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  %gain = graph.param_ref @g : tensor<8xf32>
  %bias = graph.param_ref @b : tensor<8xf32>
  %n = graph.layer_norm %res, %gain, %bias epsilon = 1.0e-5
      : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %s = graph.reduce mean %n axes = [0, 1, 2] : tensor<2x4x8xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// The function's results keep their types; graph.precision overrides the
// rules; a cast the model wrote to what is now its input's type goes away;
// integer operands are left alone.

// CHECK-LABEL: func.func @hints
// CHECK: %[[F:.*]] = graph.matmul %{{.*}}, %{{.*}} {graph.precision = "f32"} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
// CHECK: %[[H:.*]] = graph.matmul {{.*}} -> tensor<4x4xbf16>
// CHECK-NEXT: %[[T:.*]] = graph.tanh %[[H]] : tensor<4x4xbf16>
// CHECK-NEXT: %[[TF:.*]] = graph.cast %[[T]] : tensor<4x4xbf16> -> tensor<4x4xf32>
// CHECK-NEXT: %[[I:.*]] = graph.matmul %{{.*}}, %{{.*}} : (tensor<4x4xi32>, tensor<4x4xi32>) -> tensor<4x4xi32>
// CHECK-NEXT: return %[[F]], %[[T]], %[[TF]], %[[I]]
func.func @hints(%x: tensor<4x4xf32>, %i: tensor<4x4xi32>)
    -> (tensor<4x4xf32>, tensor<4x4xbf16>, tensor<4x4xf32>, tensor<4x4xi32>) {
  %f = graph.matmul %x, %x {graph.precision = "f32"} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %h = graph.matmul %x, %x : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %t = graph.tanh %h : tensor<4x4xf32>
  %tb = graph.cast %t : tensor<4x4xf32> -> tensor<4x4xbf16>
  %im = graph.matmul %i, %i : (tensor<4x4xi32>, tensor<4x4xi32>) -> tensor<4x4xi32>
  return %f, %tb, %t, %im : tensor<4x4xf32>, tensor<4x4xbf16>, tensor<4x4xf32>, tensor<4x4xi32>
}
