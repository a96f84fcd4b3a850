//===- GraphOps.td - strata.graph ops ----------------------*- tablegen -*-===//
//
// The ops of docs/graph-dialect.md. Ops whose result type follows from their
// operands implement InferTypeOpInterface; their inferReturnTypes is also
// their verifier, so the frontend gets the same located diagnostics before it
// builds an op as the verifier gives after.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHOPS_TD
#define STRATA_DIALECT_GRAPH_IR_GRAPHOPS_TD

include "strata/Dialect/Graph/IR/GraphDialect.td"
include "strata/Dialect/Graph/IR/GraphInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type and attribute constraints
//===----------------------------------------------------------------------===//

def Graph_Tensor : RankedTensorOf<[AnyFloat, AnySignlessInteger]>;
def Graph_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Graph_IntTensor : RankedTensorOf<[AnySignlessInteger]>;
def Graph_I32Tensor : RankedTensorOf<[I32]>;

def Graph_DenseElementsAttr : ElementsAttrBase<
    CPred<"::llvm::isa<::mlir::DenseElementsAttr>($_self)">,
    "dense elements attribute"> {
  let storageType = "::mlir::DenseElementsAttr";
  let returnType = "::mlir::DenseElementsAttr";
  let convertFromStorage = "$_self";
}

//===----------------------------------------------------------------------===//
// Op classes
//===----------------------------------------------------------------------===//

// Inferred result types may be refined by the written ones (a static dimension
// where inference gives `?`) and vice versa; element types must agree.
defvar Graph_IsCompatibleDef = [{
  bool $cppClass::isCompatibleReturnTypes(::mlir::TypeRange lhs,
                                          ::mlir::TypeRange rhs) {
    return ::strata::graph::detail::areCompatibleResultTypes(lhs, rhs);
  }
}];

/// An op whose result types follow from its operands and attributes.
class Graph_InferOp<string mnemonic, list<Trait> traits = []>
    : Graph_Op<mnemonic, !listconcat(traits,
                                     [Pure, InferTypeOpAdaptorWithIsCompatible])> {
  let extraClassDefinition = Graph_IsCompatibleDef;
}

/// Elementwise binary op with NumPy broadcasting.
class Graph_BinaryOp<string mnemonic, string summaryText,
                     list<Trait> traits = []>
    : Graph_InferOp<mnemonic, !listconcat(traits, [
          DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>])> {
  let summary = summaryText;
  let arguments = (ins Graph_Tensor:$lhs, Graph_Tensor:$rhs);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDefinition = Graph_IsCompatibleDef # [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> location,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::strata::graph::detail::inferBroadcastOp(
          getOperationName(), location, adaptor.getLhs(), adaptor.getRhs(),
          types);
    }
  }];
}

/// Elementwise unary op on a float tensor.
class Graph_UnaryFloatOp<string mnemonic, string summaryText>
    : Graph_InferOp<mnemonic, [
          DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = summaryText;
  let arguments = (ins Graph_FloatTensor:$input);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = Graph_IsCompatibleDef # [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> location,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::strata::graph::detail::inferSameFloatType(
          getOperationName(), location, adaptor.getInput(), types);
    }
  }];
}

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

def Graph_ParamOp : Graph_Op<"param", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "a trainable parameter: a module-level symbol with an initializer";
  let description = [{
    Declares one trainable tensor. `init_args` holds the initializer's numbers:
    none for `zeros` and `ones`, `[v]` for `constant`, `[mean, std]` for
    `normal`, `[low, high]` for `uniform`.

    ```mlir
    graph.param @w : tensor<64x256xf32> = normal(0.0, 0.02) {graph.sparsity = "2:4"}
    graph.param @b : tensor<256xf32> = zeros
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<AnyRankedTensor>:$type,
                       Graph_InitKindAttr:$init,
                       DefaultValuedAttr<DenseF64ArrayAttr, "{}">:$init_args);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
  }];
}

def Graph_ParamRefOp : Graph_Op<"param_ref", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "reads a graph.param";
  let description = [{
    Reads a graph.param or, in the training functions, a graph.state. Not
    `Pure`: it reports a read of its symbol, so CSE keeps two reads apart
    when an op that writes the symbol (graph.zero, graph.accumulate, the
    optimizer updates) stands between them. An unused read is still dead.

    ```mlir
    %w = graph.param_ref @w : tensor<64x256xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Graph_ConstantOp : Graph_InferOp<"constant", [
    ConstantLike, DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "a tensor constant";
  let description = [{
    ```mlir
    %c = graph.constant dense<1.0> : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_DenseElementsAttr:$value);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

def Graph_AddOp : Graph_BinaryOp<"add", "elementwise sum", [Commutative]> {
  let hasFolder = 1;
}
def Graph_SubOp : Graph_BinaryOp<"sub", "elementwise difference"> {
  let hasFolder = 1;
}
def Graph_MulOp : Graph_BinaryOp<"mul", "elementwise product", [Commutative]> {
  let hasFolder = 1;
}
def Graph_DivOp : Graph_BinaryOp<"div", "elementwise quotient"> {
  let hasFolder = 1;
}
def Graph_MaximumOp
    : Graph_BinaryOp<"maximum", "elementwise maximum", [Commutative]>;
def Graph_MinimumOp
    : Graph_BinaryOp<"minimum", "elementwise minimum", [Commutative]>;
def Graph_PowOp : Graph_BinaryOp<"pow", "elementwise power lhs^rhs">;

def Graph_NegOp : Graph_UnaryFloatOp<"neg", "elementwise negation">;
def Graph_ExpOp : Graph_UnaryFloatOp<"exp", "elementwise e^x">;
def Graph_LogOp : Graph_UnaryFloatOp<"log", "elementwise natural logarithm">;
def Graph_SqrtOp : Graph_UnaryFloatOp<"sqrt", "elementwise square root">;
def Graph_RsqrtOp
    : Graph_UnaryFloatOp<"rsqrt", "elementwise reciprocal square root">;
def Graph_TanhOp : Graph_UnaryFloatOp<"tanh", "elementwise tanh">;
def Graph_SigmoidOp
    : Graph_UnaryFloatOp<"sigmoid", "elementwise 1 / (1 + e^-x)">;
def Graph_ReluOp : Graph_UnaryFloatOp<"relu", "elementwise max(x, 0)">;
def Graph_SiluOp : Graph_UnaryFloatOp<"silu", "elementwise x * sigmoid(x)">;
def Graph_AbsOp : Graph_UnaryFloatOp<"abs", "elementwise absolute value">;

def Graph_GeluOp : Graph_InferOp<"gelu", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "elementwise GELU, exact (erf) or with the tanh approximation";
  let description = [{
    ```mlir
    %y = graph.gelu %x : tensor<4x8xf32>
    %z = graph.gelu %x approximate = tanh : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input,
                       DefaultValuedAttr<Graph_GeluApproxAttr,
                                         "GeluApprox::none">:$approximate);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`approximate` `=` custom<EnumKeyword>($approximate)^)? attr-dict
    `:` type($input)
  }];
}

def Graph_CastOp : Graph_Op<"cast", [
    Pure, DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "converts each element to another element type";
  let description = [{
    ```mlir
    %y = graph.cast %x : tensor<4x8xf32> -> tensor<4x8xbf16>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Contractions, reductions and normalizations
//===----------------------------------------------------------------------===//

def Graph_MatmulOp : Graph_InferOp<"matmul", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "batched matrix product with broadcast batch dimensions";
  let description = [{
    `lhs` is `[..., M, K]` (`[..., K, M]` with `transpose_a`), `rhs` is
    `[..., K, N]` (`[..., N, K]` with `transpose_b`); the result is
    `[broadcast(batch dims), M, N]`.

    ```mlir
    %c = graph.matmul %a, %b transpose_b
        : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$lhs, Graph_Tensor:$rhs,
                       UnitAttr:$transpose_a, UnitAttr:$transpose_b);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`transpose_a` $transpose_a^)? (`transpose_b` $transpose_b^)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Graph_ReduceOp : Graph_InferOp<"reduce", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "sum, mean, max or min over some axes";
  let description = [{
    `axes` are sorted, unique and in `[0, rank)`. With `keepdim` the reduced
    dimensions stay as 1, otherwise they are removed.

    ```mlir
    %s = graph.reduce sum %x axes = [1] keepdim : tensor<4x8xf32> -> tensor<4x1xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input, Graph_ReduceKindAttr:$kind,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keepdim);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    custom<EnumKeyword>($kind) $input `axes` `=` $axes (`keepdim` $keepdim^)? attr-dict `:`
    type($input) `->` type($result)
  }];
}

def Graph_SoftmaxOp : Graph_InferOp<"softmax", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "softmax along one axis";
  let description = [{
    ```mlir
    %p = graph.softmax %x axis = 1 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "$input `axis` `=` $axis attr-dict `:` type($input)";
}

def Graph_LogSoftmaxOp : Graph_InferOp<"log_softmax", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "log of softmax along one axis";
  let description = [{
    ```mlir
    %p = graph.log_softmax %x axis = 1 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "$input `axis` `=` $axis attr-dict `:` type($input)";
}

def Graph_LayerNormOp : Graph_InferOp<"layer_norm", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "layer normalization over the last dimension";
  let description = [{
    ```mlir
    %y = graph.layer_norm %x, %w, %b epsilon = 1.000000e-05
        : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$weight,
                       Graph_FloatTensor:$bias, F64Attr:$epsilon);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `epsilon` `=` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
}

def Graph_RmsNormOp : Graph_InferOp<"rms_norm", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "RMS normalization over the last dimension";
  let description = [{
    ```mlir
    %y = graph.rms_norm %x, %w epsilon = 1.000000e-06
        : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$weight,
                       F64Attr:$epsilon);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `epsilon` `=` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

def Graph_ReshapeOp : Graph_Op<"reshape", [
    Pure, DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "the same elements in row-major order, in another shape";
  let description = [{
    ```mlir
    %y = graph.reshape %x : tensor<4x8xf32> -> tensor<32xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_TransposeOp : Graph_InferOp<"transpose", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "permutes the dimensions: result dim i is input dim permutation[i]";
  let description = [{
    ```mlir
    %y = graph.transpose %x permutation = [1, 0] : tensor<4x8xf32> -> tensor<8x4xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $input `permutation` `=` $permutation attr-dict `:` type($input) `->`
    type($result)
  }];
  let hasFolder = 1;
}

def Graph_SliceOp : Graph_InferOp<"slice", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "the elements with start <= i < end along one axis";
  let description = [{
    ```mlir
    %y = graph.slice %x axis = 1 start = 2 end = 5 : tensor<4x8xf32> -> tensor<4x3xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input, I64Attr:$axis, I64Attr:$start,
                       I64Attr:$end);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $input `axis` `=` $axis `start` `=` $start `end` `=` $end attr-dict `:`
    type($input) `->` type($result)
  }];
  let hasFolder = 1;
}

def Graph_ConcatOp : Graph_InferOp<"concat", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "joins tensors along one axis";
  let description = [{
    ```mlir
    %y = graph.concat %a, %b axis = 1
        : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x10xf32>
    ```
  }];
  let arguments = (ins Variadic<Graph_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $inputs `axis` `=` $axis attr-dict `:` functional-type($inputs, results)
  }];
  let hasFolder = 1;
}

def Graph_GatherOp : Graph_InferOp<"gather", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "rows of a table (embedding lookup)";
  let description = [{
    ```mlir
    %x = graph.gather %wte[%tokens]
        : (tensor<65x64xf32>, tensor<8x64xi32>) -> tensor<8x64x64xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$table, Graph_IntTensor:$indices);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $table `[` $indices `]` attr-dict `:` functional-type(operands, results)
  }];
}

def Graph_IotaOp : Graph_Op<"iota", [
    Pure, DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "0, 1, ..., n-1 as a static 1-D integer tensor";
  let description = [{
    ```mlir
    %i = graph.iota : tensor<8xi32>
    ```
  }];
  let results = (outs Graph_IntTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Graph_OneHotOp : Graph_InferOp<"one_hot", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "f32 one-hot encoding of integer indices";
  let description = [{
    ```mlir
    %y = graph.one_hot %i num_classes = 10 : tensor<32xi32> -> tensor<32x10xf32>
    ```
  }];
  let arguments = (ins Graph_IntTensor:$indices, I64Attr:$num_classes);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $indices `num_classes` `=` $num_classes attr-dict `:` type($indices) `->`
    type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Transformer and mixture-of-experts ops
//===----------------------------------------------------------------------===//

def Graph_RopeOp : Graph_InferOp<"rope", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "rotary position embedding (rotate-half convention)";
  let description = [{
    ```mlir
    %y = graph.rope %x theta = 1.000000e+04 : tensor<2x4x16x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$theta);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "$input `theta` `=` $theta attr-dict `:` type($input)";
}

def Graph_AttentionOp : Graph_InferOp<"attention", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "scaled dot-product attention, optionally causal and grouped-query";
  let description = [{
    ```mlir
    %o = graph.attention %q, %k, %v scale = 1.250000e-01 causal
        : (tensor<2x8x16x64xf32>, tensor<2x2x16x64xf32>, tensor<2x2x16x64xf32>)
        -> tensor<2x8x16x64xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$query, Graph_FloatTensor:$key,
                       Graph_FloatTensor:$value, UnitAttr:$causal,
                       F64Attr:$scale);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `scale` `=` $scale (`causal` $causal^)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Graph_TopKOp : Graph_InferOp<"topk", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "the k largest values along the last axis and their indices";
  let description = [{
    ```mlir
    %v, %i = graph.topk %x k = 2 : tensor<4x8xf32> -> (tensor<4x2xf32>, tensor<4x2xi32>)
    ```
  }];
  let arguments = (ins Graph_Tensor:$input, I64Attr:$k);
  let results = (outs Graph_Tensor:$values, Graph_I32Tensor:$indices);
  let assemblyFormat = [{
    $input `k` `=` $k attr-dict `:` type($input) `->`
    `(` type($values) `,` type($indices) `)`
  }];
}

def Graph_MoeDispatchOp : Graph_InferOp<"moe_dispatch", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "routes tokens to per-expert slots (capacity-limited)";
  let description = [{
    ```mlir
    %d = graph.moe_dispatch %x, %idx num_experts = 8 capacity = 4
        : (tensor<16x32xf32>, tensor<16x2xi32>) -> tensor<8x4x32xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_I32Tensor:$indices,
                       I64Attr:$num_experts, I64Attr:$capacity);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $indices `num_experts` `=` $num_experts `capacity` `=` $capacity
    attr-dict `:` functional-type(operands, results)
  }];
}

def Graph_MoeCombineOp : Graph_InferOp<"moe_combine", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "weighted sum of each token's expert outputs";
  let description = [{
    ```mlir
    %y = graph.moe_combine %e, %idx, %w
        : (tensor<8x4x32xf32>, tensor<16x2xi32>, tensor<16x2xf32>) -> tensor<16x32xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$expert_outputs,
                       Graph_I32Tensor:$indices, Graph_FloatTensor:$weights);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $expert_outputs `,` $indices `,` $weights attr-dict `:`
    functional-type(operands, results)
  }];
}

def Graph_CrossEntropyOp : Graph_InferOp<"cross_entropy", [
    DeclareOpInterfaceMethods<Graph_DifferentiableOpInterface>]> {
  let summary = "mean softmax cross-entropy of logits against integer targets";
  let description = [{
    ```mlir
    %loss = graph.cross_entropy %logits, %targets
        : (tensor<8x64x65xf32>, tensor<8x64xi32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$logits, Graph_IntTensor:$targets);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $logits `,` $targets attr-dict `:` functional-type(operands, results)
  }];
}

include "strata/Dialect/Graph/IR/GraphTrainingOps.td"

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHOPS_TD
