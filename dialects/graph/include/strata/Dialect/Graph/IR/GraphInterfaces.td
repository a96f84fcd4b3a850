//===- GraphInterfaces.td - strata.graph op interfaces -----*- tablegen -*-===//
//
// The interfaces that passes query on graph ops. The gradient rules of
// DifferentiableOpInterface live in lib/IR/GraphGradients.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHINTERFACES_TD
#define STRATA_DIALECT_GRAPH_IR_GRAPHINTERFACES_TD

include "mlir/IR/OpBase.td"

def Graph_DifferentiableOpInterface
    : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::strata::graph";
  let description = [{
    A forward op that strata-autodiff can differentiate in reverse mode. Given
    the gradients of the loss with respect to the op's results, the op builds
    the ops that compute the gradients with respect to its operands (the
    vector-Jacobian product) at the builder's insertion point, with the op's
    location. The forward values (operands and results) stay available, so a
    rule may read them.

    ```mlir
    // Forward:
    %y = graph.tanh %x : tensor<4x8xf32>
    // Rule, given %dy:
    %dx = graph.unary_grad tanh %x, %y, %dy : tensor<4x8xf32>
    ```
  }];

  let methods = [
    InterfaceMethod<[{
        Builds the gradients of the operands from `resultGrads`, one entry per
        result, where a null Value means the result gets no gradient (it does
        not reach the loss). Returns one entry per operand, each of the
        operand's exact type, or a null Value for an operand that has no
        gradient (integer operands such as indices and targets). Fails, after
        emitting a diagnostic at the op, when the rule cannot handle this
        instance.
      }],
      "::mlir::FailureOr<::llvm::SmallVector<::mlir::Value>>",
      "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads)>
  ];
}

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHINTERFACES_TD
