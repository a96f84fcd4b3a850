//===- GraphDialect.td - strata.graph dialect --------------*- tablegen -*-===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHDIALECT_TD
#define STRATA_DIALECT_GRAPH_IR_GRAPHDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Graph_Dialect : Dialect {
  let name = "graph";
  let cppNamespace = "::strata::graph";
  let summary = "Tensor ops with value semantics: the model as the frontend imports it";
  let description = [{
    See docs/graph-dialect.md.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;

  let extraClassDeclaration = [{
    /// Names of the discardable hint attributes (docs/graph-dialect.md, "Hint
    /// attributes"). Every other `graph.*` attribute is rejected.
    static constexpr ::llvm::StringLiteral kModelAttrName = "graph.model";
    static constexpr ::llvm::StringLiteral kNameAttrName = "graph.name";
    /// Set by strata-autodiff: `graph.step` ("grad" or "apply") on the step
    /// functions, `graph.training` (the optimizer options) on the module.
    static constexpr ::llvm::StringLiteral kStepAttrName = "graph.step";
    static constexpr ::llvm::StringLiteral kTrainingAttrName = "graph.training";
    static constexpr ::llvm::StringLiteral kSparsityAttrName = "graph.sparsity";
    static constexpr ::llvm::StringLiteral kPrecisionAttrName =
        "graph.precision";
    static constexpr ::llvm::StringLiteral kShardAttrName = "graph.shard";
  }];
}

class Graph_Op<string mnemonic, list<Trait> traits = []>
    : Op<Graph_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Graph_InitKind : I32Enum<"InitKind", "initializer of a graph.param", [
  I32EnumCase<"zeros", 0>,
  I32EnumCase<"ones", 1>,
  I32EnumCase<"constant", 2>,
  I32EnumCase<"normal", 3>,
  I32EnumCase<"uniform", 4>
]> {
  let cppNamespace = "::strata::graph";
}

def Graph_ReduceKind : I32Enum<"ReduceKind", "combiner of a graph.reduce", [
  I32EnumCase<"sum", 0>,
  I32EnumCase<"mean", 1>,
  I32EnumCase<"max", 2>,
  I32EnumCase<"min", 3>
]> {
  let cppNamespace = "::strata::graph";
}

def Graph_GeluApprox : I32Enum<"GeluApprox", "approximation used by graph.gelu", [
  I32EnumCase<"none", 0>,
  I32EnumCase<"tanh", 1>
]> {
  let cppNamespace = "::strata::graph";
}

// Written `#graph.reduce_kind<sum>` on its own; op formats print the bare
// keyword through custom<EnumKeyword> (`graph.reduce sum ...`).
class Graph_EnumAttr<EnumInfo enumInfo, string name>
    : EnumAttr<Graph_Dialect, enumInfo, name> {
  let assemblyFormat = "`<` $value `>`";
}

def Graph_InitKindAttr : Graph_EnumAttr<Graph_InitKind, "init_kind">;
def Graph_ReduceKindAttr : Graph_EnumAttr<Graph_ReduceKind, "reduce_kind">;
def Graph_GeluApproxAttr : Graph_EnumAttr<Graph_GeluApprox, "gelu_approx">;

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHDIALECT_TD
