//===- GraphTrainingOps.td - strata.graph training ops -----*- tablegen -*-===//
//
// The ops strata-autodiff emits: gradient ops that mirror the CPU backward
// kernels, persistent optimizer state, and optimizer updates. Included from
// GraphOps.td. Operands, results and attributes keep the order and names of
// the kernels they lower to (docs/graph-dialect.md, "Training ops").
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHTRAININGOPS_TD
#define STRATA_DIALECT_GRAPH_IR_GRAPHTRAININGOPS_TD

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Graph_BinaryKind : I32Enum<"BinaryKind",
                               "forward op of a graph.binary_grad", [
  I32EnumCase<"add", 0>,
  I32EnumCase<"sub", 1>,
  I32EnumCase<"mul", 2>,
  I32EnumCase<"div", 3>,
  I32EnumCase<"maximum", 4>,
  I32EnumCase<"minimum", 5>,
  I32EnumCase<"pow", 6>
]> {
  let cppNamespace = "::strata::graph";
}

def Graph_UnaryKind : I32Enum<"UnaryKind",
                              "forward op of a graph.unary_grad", [
  I32EnumCase<"neg", 0>,
  I32EnumCase<"exp", 1>,
  I32EnumCase<"log", 2>,
  I32EnumCase<"sqrt", 3>,
  I32EnumCase<"rsqrt", 4>,
  I32EnumCase<"tanh", 5>,
  I32EnumCase<"sigmoid", 6>,
  I32EnumCase<"relu", 7>,
  I32EnumCase<"silu", 8>,
  I32EnumCase<"abs", 9>
]> {
  let cppNamespace = "::strata::graph";
}

def Graph_LrScheduleKind : I32Enum<"LrScheduleKind",
                                   "shape of a graph.lr_schedule", [
  I32EnumCase<"constant", 0>,
  I32EnumCase<"cosine", 1>
]> {
  let cppNamespace = "::strata::graph";
}

def Graph_BinaryKindAttr : Graph_EnumAttr<Graph_BinaryKind, "binary_kind">;
def Graph_UnaryKindAttr : Graph_EnumAttr<Graph_UnaryKind, "unary_kind">;
def Graph_LrScheduleKindAttr
    : Graph_EnumAttr<Graph_LrScheduleKind, "lr_schedule_kind">;

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// The scalar operands of the optimizer ops have one possible type each, so
// the assembly does not spell it.
def Graph_F32Scalar : 0DTensorOf<[F32]> {
  let builderCall = "::mlir::RankedTensorType::get({}, $_builder.getF32Type())";
}
def Graph_I32Scalar : 0DTensorOf<[I32]> {
  let builderCall =
      "::mlir::RankedTensorType::get({}, $_builder.getIntegerType(32))";
}

//===----------------------------------------------------------------------===//
// Gradient ops: d(loss)/d(operands) of one forward op, given d(loss)/d(result)
// as `grad`. Each is a pure function of its operands.
//===----------------------------------------------------------------------===//

def Graph_BinaryGradOp : Graph_InferOp<"binary_grad"> {
  let summary = "gradients of a broadcasting binary op w.r.t. both operands";
  let description = [{
    `grad` has the broadcast shape of `lhs` and `rhs`; each gradient is summed
    over the dimensions its operand was broadcast along. `maximum`/`minimum`
    send the gradient to `lhs` on ties.

    ```mlir
    %da, %db = graph.binary_grad mul %a, %b, %g
        : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>)
        -> (tensor<4x8xf32>, tensor<8xf32>)
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$lhs, Graph_FloatTensor:$rhs,
                       Graph_FloatTensor:$grad, Graph_BinaryKindAttr:$kind);
  let results = (outs Graph_FloatTensor:$lhs_grad,
                      Graph_FloatTensor:$rhs_grad);
  let assemblyFormat = [{
    custom<EnumKeyword>($kind) $lhs `,` $rhs `,` $grad attr-dict `:`
    functional-type(operands, results)
  }];
}

def Graph_UnaryGradOp : Graph_Op<"unary_grad", [Pure,
    AllTypesMatch<["input", "output", "grad", "input_grad"]>]> {
  let summary = "gradient of an elementwise unary op";
  let description = [{
    `output` is the forward op's result (some derivatives read it).

    ```mlir
    %dx = graph.unary_grad tanh %x, %y, %g : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$output,
                       Graph_FloatTensor:$grad, Graph_UnaryKindAttr:$kind);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    custom<EnumKeyword>($kind) $input `,` $output `,` $grad attr-dict `:`
    type($input)
  }];
}

def Graph_GeluGradOp : Graph_Op<"gelu_grad", [Pure,
    AllTypesMatch<["input", "grad", "input_grad"]>]> {
  let summary = "gradient of graph.gelu";
  let description = [{
    ```mlir
    %dx = graph.gelu_grad %x, %g approximate = tanh : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$grad,
                       DefaultValuedAttr<Graph_GeluApproxAttr,
                                         "GeluApprox::none">:$approximate);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $input `,` $grad (`approximate` `=` custom<EnumKeyword>($approximate)^)?
    attr-dict `:` type($input)
  }];
}

def Graph_ReduceGradOp : Graph_InferOp<"reduce_grad"> {
  let summary = "gradient of graph.reduce";
  let description = [{
    `output` and `grad` have the forward result's shape. `max`/`min` send each
    gradient to the first (row-major) position of the extremum.

    ```mlir
    %dx = graph.reduce_grad sum %x, %y, %g axes = [1] keepdim
        : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$output,
                       Graph_FloatTensor:$grad, Graph_ReduceKindAttr:$kind,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keepdim);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    custom<EnumKeyword>($kind) $input `,` $output `,` $grad `axes` `=` $axes
    (`keepdim` $keepdim^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Graph_SoftmaxGradOp : Graph_Op<"softmax_grad", [Pure,
    AllTypesMatch<["output", "grad", "input_grad"]>]> {
  let summary = "gradient of graph.softmax, from its result";
  let description = [{
    ```mlir
    %dx = graph.softmax_grad %y, %g axis = 1 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$output, Graph_FloatTensor:$grad,
                       I64Attr:$axis);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $output `,` $grad `axis` `=` $axis attr-dict `:` type($output)
  }];
  let hasVerifier = 1;
}

def Graph_LogSoftmaxGradOp : Graph_Op<"log_softmax_grad", [Pure,
    AllTypesMatch<["output", "grad", "input_grad"]>]> {
  let summary = "gradient of graph.log_softmax, from its result";
  let description = [{
    ```mlir
    %dx = graph.log_softmax_grad %y, %g axis = 1 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$output, Graph_FloatTensor:$grad,
                       I64Attr:$axis);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $output `,` $grad `axis` `=` $axis attr-dict `:` type($output)
  }];
  let hasVerifier = 1;
}

def Graph_LayerNormGradOp : Graph_InferOp<"layer_norm_grad"> {
  let summary = "gradients of graph.layer_norm w.r.t. input, weight and bias";
  let description = [{
    The bias is not an operand: no gradient depends on it.

    ```mlir
    %dx, %dw, %db = graph.layer_norm_grad %x, %w, %g epsilon = 1.000000e-05
        : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>)
        -> (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>)
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$weight,
                       Graph_FloatTensor:$grad, F64Attr:$epsilon);
  let results = (outs Graph_FloatTensor:$input_grad,
                      Graph_FloatTensor:$weight_grad,
                      Graph_FloatTensor:$bias_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $grad `epsilon` `=` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
}

def Graph_RmsNormGradOp : Graph_InferOp<"rms_norm_grad"> {
  let summary = "gradients of graph.rms_norm w.r.t. input and weight";
  let description = [{
    ```mlir
    %dx, %dw = graph.rms_norm_grad %x, %w, %g epsilon = 1.000000e-05
        : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>)
        -> (tensor<4x8xf32>, tensor<8xf32>)
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$weight,
                       Graph_FloatTensor:$grad, F64Attr:$epsilon);
  let results = (outs Graph_FloatTensor:$input_grad,
                      Graph_FloatTensor:$weight_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $grad `epsilon` `=` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
}

def Graph_AttentionGradOp : Graph_InferOp<"attention_grad"> {
  let summary = "gradients of graph.attention w.r.t. query, key and value";
  let description = [{
    ```mlir
    %dq, %dk, %dv = graph.attention_grad %q, %k, %v, %g scale = 1.250000e-01 causal
        : (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>,
           tensor<2x4x8x16xf32>)
        -> (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>)
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$query, Graph_FloatTensor:$key,
                       Graph_FloatTensor:$value, Graph_FloatTensor:$grad,
                       F64Attr:$scale, UnitAttr:$causal);
  let results = (outs Graph_FloatTensor:$query_grad,
                      Graph_FloatTensor:$key_grad,
                      Graph_FloatTensor:$value_grad);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $grad `scale` `=` $scale
    (`causal` $causal^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Graph_RopeGradOp : Graph_InferOp<"rope_grad"> {
  let summary = "gradient of graph.rope (the inverse rotation)";
  let description = [{
    ```mlir
    %dx = graph.rope_grad %g theta = 1.000000e+04 : tensor<2x4x16x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$grad, F64Attr:$theta);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = "$grad `theta` `=` $theta attr-dict `:` type($grad)";
}

def Graph_GatherGradOp : Graph_Op<"gather_grad", [Pure]> {
  let summary = "gradient of graph.gather w.r.t. the table (scatter-add)";
  let description = [{
    The result has the table's type, which nothing else determines, so it is
    written. Rows never gathered get zero.

    ```mlir
    %dt = graph.gather_grad %g[%tokens]
        : (tensor<8x64x64xf32>, tensor<8x64xi32>) -> tensor<65x64xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$grad, Graph_IntTensor:$indices);
  let results = (outs Graph_FloatTensor:$table_grad);
  let assemblyFormat = [{
    $grad `[` $indices `]` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Graph_SliceGradOp : Graph_Op<"slice_grad", [Pure]> {
  let summary = "gradient of graph.slice: grad placed in zeros of the input's type";
  let description = [{
    ```mlir
    %dx = graph.slice_grad %g axis = 1 start = 2 end = 5
        : tensor<4x3xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$grad, I64Attr:$axis, I64Attr:$start,
                       I64Attr:$end);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $grad `axis` `=` $axis `start` `=` $start `end` `=` $end attr-dict `:`
    type($grad) `->` type($input_grad)
  }];
  let hasVerifier = 1;
}

def Graph_CrossEntropyGradOp : Graph_InferOp<"cross_entropy_grad"> {
  let summary = "gradient of graph.cross_entropy w.r.t. the logits";
  let description = [{
    `grad` is d(loss)/d(cross_entropy), a scalar.

    ```mlir
    %dl = graph.cross_entropy_grad %logits, %targets, %g
        : (tensor<8x65xf32>, tensor<8xi32>, tensor<f32>) -> tensor<8x65xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$logits, Graph_IntTensor:$targets,
                       Graph_F32Scalar:$grad);
  let results = (outs Graph_FloatTensor:$logits_grad);
  let assemblyFormat = [{
    $logits `,` $targets `,` $grad attr-dict `:`
    functional-type(operands, results)
  }];
}

def Graph_MoeDispatchGradOp : Graph_Op<"moe_dispatch_grad", [Pure]> {
  let summary = "gradient of graph.moe_dispatch w.r.t. its input";
  let description = [{
    `grad` is `[E, C, D]`, `indices` `[N, k]`; the result `[N, D]` is written
    (N and D must agree with them).

    ```mlir
    %dx = graph.moe_dispatch_grad %g, %idx
        : (tensor<8x4x32xf32>, tensor<16x2xi32>) -> tensor<16x32xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$grad, Graph_I32Tensor:$indices);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $grad `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Graph_MoeCombineGradOp : Graph_InferOp<"moe_combine_grad"> {
  let summary = "gradients of graph.moe_combine w.r.t. expert outputs and weights";
  let description = [{
    ```mlir
    %de, %dw = graph.moe_combine_grad %e, %idx, %w, %g
        : (tensor<8x4x32xf32>, tensor<16x2xi32>, tensor<16x2xf32>, tensor<16x32xf32>)
        -> (tensor<8x4x32xf32>, tensor<16x2xf32>)
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$expert_outputs,
                       Graph_I32Tensor:$indices, Graph_FloatTensor:$weights,
                       Graph_FloatTensor:$grad);
  let results = (outs Graph_FloatTensor:$expert_outputs_grad,
                      Graph_FloatTensor:$weights_grad);
  let assemblyFormat = [{
    $expert_outputs `,` $indices `,` $weights `,` $grad attr-dict `:`
    functional-type(operands, results)
  }];
}

def Graph_TopKGradOp : Graph_Op<"topk_grad", [Pure]> {
  let summary = "gradient of graph.topk's values w.r.t. its input";
  let description = [{
    `grad` and `indices` have the shape of topk's results `[..., k]`; the
    result `[..., N]` (the input's type) is written.

    ```mlir
    %dx = graph.topk_grad %g, %i
        : (tensor<4x2xf32>, tensor<4x2xi32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$grad, Graph_I32Tensor:$indices);
  let results = (outs Graph_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $grad `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Training state
//===----------------------------------------------------------------------===//

def Graph_StateOp : Graph_Op<"state", [
    Symbol, HasParent<"::mlir::ModuleOp">,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "persistent training state of a parameter (gradient, moments)";
  let description = [{
    A module-level tensor that lives across steps: zero-initialized, saved in
    checkpoints, read with `graph.param_ref` and written only by the optimizer
    ops. `kind` is `grad`, `momentum`, `adam_m` or `adam_v`; `state_of` names
    the graph.param it belongs to, whose shape it has.

    ```mlir
    graph.state @w.grad : tensor<64x256xf32> {kind = "grad", state_of = @w}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<AnyRankedTensor>:$type,
                       FlatSymbolRefAttr:$state_of, StrAttr:$kind);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
  }];
}

// The ops that write state are ordered against each other and are never dead:
// they report a read and/or write of each symbol they name.

def Graph_AccumulateOp : Graph_Op<"accumulate", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "adds a value to a graph.state in place";
  let description = [{
    ```mlir
    graph.accumulate @w.grad, %dw : tensor<64x256xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$target, Graph_FloatTensor:$value);
  let assemblyFormat = "$target `,` $value attr-dict `:` type($value)";
}

def Graph_ZeroOp : Graph_Op<"zero", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "sets a graph.state to zero";
  let description = [{
    ```mlir
    graph.zero @w.grad
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$target);
  let assemblyFormat = "$target attr-dict";
}

def Graph_GlobalNormOp : Graph_Op<"global_norm", [Pure]> {
  let summary = "the L2 norm of all elements of all operands together";
  let description = [{
    ```mlir
    %n = graph.global_norm %dw, %db : tensor<64x256xf32>, tensor<256xf32>
    ```
  }];
  let arguments = (ins Variadic<Graph_FloatTensor>:$inputs);
  let results = (outs Graph_F32Scalar:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs)";
  let hasVerifier = 1;
}

def Graph_LrScheduleOp : Graph_Op<"lr_schedule", [Pure]> {
  let summary = "the learning rate at a (1-based) step";
  let description = [{
    Linear warmup over `warmup_steps`, then `constant` (`base_lr`) or `cosine`
    decay from `base_lr` to `min_lr` at `total_steps`.

    ```mlir
    %lr = graph.lr_schedule cosine %step base_lr = 1.000000e-03
        warmup_steps = 100 total_steps = 5000 min_lr = 1.000000e-04
    ```
  }];
  let arguments = (ins Graph_I32Scalar:$step, Graph_LrScheduleKindAttr:$kind,
                       F64Attr:$base_lr,
                       DefaultValuedAttr<I64Attr, "0">:$warmup_steps,
                       DefaultValuedAttr<I64Attr, "0">:$total_steps,
                       DefaultValuedAttr<F64Attr, "0.0">:$min_lr);
  let results = (outs Graph_F32Scalar:$result);
  let assemblyFormat = [{
    custom<EnumKeyword>($kind) $step `base_lr` `=` $base_lr
    (`warmup_steps` `=` $warmup_steps^)? (`total_steps` `=` $total_steps^)?
    (`min_lr` `=` $min_lr^)? attr-dict
  }];
  let hasVerifier = 1;
}

def Graph_AdamWUpdateOp : Graph_Op<"adamw_update", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "one AdamW step on a parameter and its moments, in place";
  let description = [{
    With g = grad * scale: param *= 1 - lr * weight_decay; m = beta1 m +
    (1 - beta1) g; v = beta2 v + (1 - beta2) g²; param -= lr * m̂ / (sqrt(v̂) +
    epsilon) with the bias corrections of the 1-based `step` (PyTorch AdamW).

    ```mlir
    graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %scale, %step
        beta1 = 9.000000e-01 beta2 = 9.990000e-01 epsilon = 1.000000e-08
        weight_decay = 1.000000e-01
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$param, FlatSymbolRefAttr:$grad,
                       FlatSymbolRefAttr:$m, FlatSymbolRefAttr:$v,
                       Graph_F32Scalar:$lr, Graph_F32Scalar:$scale,
                       Graph_I32Scalar:$step, F64Attr:$beta1, F64Attr:$beta2,
                       F64Attr:$epsilon, F64Attr:$weight_decay);
  let assemblyFormat = [{
    $param `,` $grad `,` $m `,` $v `,` $lr `,` $scale `,` $step
    `beta1` `=` $beta1 `beta2` `=` $beta2 `epsilon` `=` $epsilon
    `weight_decay` `=` $weight_decay attr-dict
  }];
  let hasVerifier = 1;
}

def Graph_SgdUpdateOp : Graph_Op<"sgd_update", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "one SGD step (with momentum) on a parameter, in place";
  let description = [{
    With g = grad * scale + weight_decay * param: buf = momentum * buf + g;
    param -= lr * buf (PyTorch SGD, dampening 0). The momentum buffer is
    present exactly when momentum != 0.

    ```mlir
    graph.sgd_update @w, @w.grad, @w.momentum, %lr, %scale
        momentum = 9.000000e-01 weight_decay = 0.000000e+00
    graph.sgd_update @b, @b.grad, %lr, %scale
        momentum = 0.000000e+00 weight_decay = 0.000000e+00
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$param, FlatSymbolRefAttr:$grad,
                       OptionalAttr<FlatSymbolRefAttr>:$momentum_buffer,
                       Graph_F32Scalar:$lr, Graph_F32Scalar:$scale,
                       F64Attr:$momentum, F64Attr:$weight_decay);
  let assemblyFormat = [{
    $param `,` $grad `,` ($momentum_buffer^ `,`)? $lr `,` $scale
    `momentum` `=` $momentum `weight_decay` `=` $weight_decay attr-dict
  }];
  let hasVerifier = 1;
}

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHTRAININGOPS_TD
