// RUN: strata-opt %s --canonicalize --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @identity_elements
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>, %[[I:.*]]: tensor<4xi32>)
func.func @identity_elements(%x: tensor<4x8xf32>, %i: tensor<4xi32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>,
        tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xi32>) {
  %zero = graph.constant dense<0.0> : tensor<8xf32>
  %one = graph.constant dense<1.0> : tensor<4x8xf32>
  %ione = graph.constant dense<1> : tensor<i32>
  %0 = graph.add %x, %zero : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %1 = graph.add %zero, %x : (tensor<8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %2 = graph.sub %x, %zero : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %3 = graph.mul %x, %one : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %4 = graph.mul %one, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %5 = graph.div %x, %one : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %6 = graph.mul %i, %ione : (tensor<4xi32>, tensor<i32>) -> tensor<4xi32>
  // CHECK-NOT: graph.add
  // CHECK-NOT: graph.sub
  // CHECK-NOT: graph.mul
  // CHECK-NOT: graph.div
  // CHECK: return %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[I]]
  return %0, %1, %2, %3, %4, %5, %6 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xi32>
}

// -----

// The identity element must not change the result type (here it broadcasts),
// must be a splat, and only the listed sides fold (0 - x, 1 / x do not).
// CHECK-LABEL: func.func @identity_elements_kept
func.func @identity_elements_kept(%x: tensor<8xf32>, %y: tensor<2xf32>)
    -> (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xf32>, tensor<8xf32>) {
  %zero = graph.constant dense<0.0> : tensor<4x8xf32>
  %one = graph.constant dense<1.0> : tensor<8xf32>
  %two = graph.constant dense<2.0> : tensor<8xf32>
  %mixed = graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  // CHECK: graph.add
  %0 = graph.add %x, %zero : (tensor<8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: graph.div %{{.*}}, %{{.*}} : (tensor<8xf32>, tensor<8xf32>)
  %1 = graph.div %one, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  // CHECK: graph.mul
  %2 = graph.mul %x, %two : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  // CHECK: graph.mul
  %3 = graph.mul %y, %mixed : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %zero8 = graph.constant dense<0.0> : tensor<8xf32>
  // CHECK: graph.sub
  %4 = graph.sub %zero8, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %0, %1, %2, %3, %4 : tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xf32>, tensor<8xf32>
}

// -----

// CHECK-LABEL: func.func @casts
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
func.func @casts(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xbf16>) {
  %0 = graph.cast %x : tensor<4xf32> -> tensor<4xf32>
  // CHECK: %[[B:.*]] = graph.cast %[[X]] : tensor<4xf32> -> tensor<4xbf16>
  %1 = graph.cast %x : tensor<4xf32> -> tensor<4xbf16>
  // CHECK: return %[[X]], %[[B]]
  return %0, %1 : tensor<4xf32>, tensor<4xbf16>
}

// -----

// CHECK-LABEL: func.func @reshapes
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>, %[[D:.*]]: tensor<?x?xf32>, %[[E:.*]]: tensor<?x8xf32>)
func.func @reshapes(%x: tensor<4x8xf32>, %d: tensor<?x?xf32>, %e: tensor<?x8xf32>)
    -> (tensor<4x8xf32>, tensor<32xf32>, tensor<4x8xf32>, tensor<?x?xf32>, tensor<?x8xf32>) {
  %0 = graph.reshape %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK: %[[FLAT:.*]] = graph.reshape %[[X]] : tensor<4x8xf32> -> tensor<32xf32>
  %1 = graph.reshape %x : tensor<4x8xf32> -> tensor<2x16xf32>
  %2 = graph.reshape %1 : tensor<2x16xf32> -> tensor<32xf32>
  %3 = graph.reshape %2 : tensor<32xf32> -> tensor<4x8xf32>
  // Two dynamic dimensions may regroup: the reshape stays.
  // CHECK: %[[R:.*]] = graph.reshape %[[D]] : tensor<?x?xf32> -> tensor<?x?xf32>
  %4 = graph.reshape %d : tensor<?x?xf32> -> tensor<?x?xf32>
  // One dynamic dimension is pinned by the element count.
  %5 = graph.reshape %e : tensor<?x8xf32> -> tensor<?x8xf32>
  // CHECK: return %[[X]], %[[FLAT]], %[[X]], %[[R]], %[[E]]
  return %0, %2, %3, %4, %5 : tensor<4x8xf32>, tensor<32xf32>, tensor<4x8xf32>, tensor<?x?xf32>, tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_constant
func.func @reshape_constant() -> tensor<2x2xf32> {
  // CHECK: %[[C:.*]] = graph.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
  %c = graph.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %0 = graph.reshape %c : tensor<4xf32> -> tensor<2x2xf32>
  // CHECK-NOT: graph.reshape
  // CHECK: return %[[C]]
  return %0 : tensor<2x2xf32>
}

// -----

// CHECK-LABEL: func.func @transposes
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
func.func @transposes(%x: tensor<2x3x4xf32>)
    -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<4x2x3xf32>) {
  %0 = graph.transpose %x permutation = [0, 1, 2] : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %1 = graph.transpose %x permutation = [1, 0, 2] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  %2 = graph.transpose %1 permutation = [1, 0, 2] : tensor<3x2x4xf32> -> tensor<2x3x4xf32>
  // Two rotations compose into one: result dim i is x dim inner[outer[i]].
  // CHECK: %[[T:.*]] = graph.transpose %[[X]] permutation = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  %3 = graph.transpose %x permutation = [1, 2, 0] : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %4 = graph.transpose %3 permutation = [1, 2, 0] : tensor<3x4x2xf32> -> tensor<4x2x3xf32>
  // CHECK-NOT: graph.transpose
  // CHECK: return %[[X]], %[[X]], %[[T]]
  return %0, %2, %4 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<4x2x3xf32>
}

// -----

// CHECK-LABEL: func.func @slices_and_concats
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
func.func @slices_and_concats(%x: tensor<4x8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x7xf32>) {
  %0 = graph.slice %x axis = 1 start = 0 end = 8 : tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = graph.concat %x axis = 0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: %[[S:.*]] = graph.slice %[[X]] axis = 1 start = 1 end = 8
  %2 = graph.slice %x axis = 1 start = 1 end = 8 : tensor<4x8xf32> -> tensor<4x7xf32>
  // CHECK: return %[[X]], %[[X]], %[[S]]
  return %0, %1, %2 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x7xf32>
}
