//===- ExecOps.td - strata.exec ops ------------------------*- tablegen -*-===//
//
// Buffers are builtin memrefs with a static shape and the identity layout:
// persistent globals (parameters and optimizer state), function arguments
// (inputs the runtime writes) and exec.alloc temporaries, which
// strata-memory-plan places in one arena.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_EXEC_IR_EXECOPS_TD
#define STRATA_DIALECT_EXEC_IR_EXECOPS_TD

include "strata/Dialect/Exec/IR/ExecDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Exec_Buffer : MemRefOf<[AnyType]>;

def Exec_GlobalOp : Exec_Op<"global", [
    Symbol, HasParent<"::mlir::ModuleOp">,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "a persistent buffer: a parameter or optimizer state";
  let description = [{
    A module-level buffer that lives for the whole run and is saved in
    checkpoints. A parameter (`param`) names its initializer and the
    initializer's numbers (`init_args`: none for `zeros` and `ones`, `[v]` for
    `constant`, `[mean, std]` for `normal`, `[low, high]` for `uniform`). A
    state buffer (`state`) is zero-initialized and names its kind and the
    parameter it belongs to.

    ```mlir
    exec.global @fc1.w : memref<784x256xf32> param normal(0.0, 0.02)
    exec.global @fc1.b : memref<256xf32> param zeros
    exec.global @fc1.w.grad : memref<784x256xf32> state grad of @fc1.w
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Exec_Buffer>:$type,
                       StrAttr:$role,
                       OptionalAttr<StrAttr>:$init,
                       OptionalAttr<DenseF64ArrayAttr>:$init_args,
                       OptionalAttr<FlatSymbolRefAttr>:$state_of,
                       OptionalAttr<StrAttr>:$kind);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MemRefType getMemRefType() {
      return ::llvm::cast<::mlir::MemRefType>(getType());
    }
    bool isParam() { return getRole() == "param"; }
    bool isState() { return getRole() == "state"; }
  }];
}

def Exec_GlobalRefOp : Exec_Op<"global_ref", [
    Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the buffer of an exec.global";
  let description = [{
    ```mlir
    %w = exec.global_ref @fc1.w : memref<784x256xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Exec_Buffer:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Exec_AllocOp : Exec_Op<"alloc", [
    MemoryEffects<[MemAlloc<DefaultResource>]>]> {
  let summary = "a temporary buffer, placed in the arena by strata-memory-plan";
  let description = [{
    Before strata-memory-plan a temporary has no place; the pass adds its
    byte offset in the step's arena.

    ```mlir
    %0 = exec.alloc : memref<32x256xf32>
    %1 = exec.alloc offset = 32768 : memref<32x256xf32>
    ```
  }];
  let arguments = (ins OptionalAttr<ConfinedAttr<I64Attr,
                                                 [IntNonNegative]>>:$offset);
  let results = (outs Exec_Buffer:$result);
  let assemblyFormat = [{
    (`offset` `=` $offset^)? attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MemRefType getMemRefType() { return getResult().getType(); }
  }];
}

def Exec_KernelOp : Exec_Op<"kernel", [AttrSizedOperandSegments]> {
  let summary = "runs one graph op's kernel on buffers";
  let description = [{
    `kernel` is the graph op's name without `graph.`. `inputs` are the graph
    op's operands in order; state-writing ops (accumulate, zero, adamw_update,
    sgd_update) first take the buffers of the globals they name. `outputs` are
    exec.alloc buffers the kernel writes, one per result of the graph op
    (inside an exec.fused, also the block arguments of the group's outputs).
    `attrs` holds the graph op's inherent attributes.

    ```mlir
    exec.kernel "matmul"(%x, %w) outs(%h) attrs {transpose_b}
        : (memref<32x784xf32>, memref<256x784xf32>) -> memref<32x256xf32>
    exec.kernel "zero"(%g) : (memref<784x256xf32>) -> ()
    ```
  }];
  let arguments = (ins StrAttr:$kernel, Variadic<Exec_Buffer>:$inputs,
                       Variadic<Exec_Buffer>:$outputs,
                       DefaultValuedAttr<DictionaryAttr, "{}">:$attrs);
  let assemblyFormat = [{
    $kernel `(` $inputs `)` (`outs` `(` $outputs^ `)`)?
    (`attrs` $attrs^)? attr-dict `:` functional-type($inputs, $outputs)
  }];
  let hasVerifier = 1;
}

def Exec_FusedOp : Exec_Op<"fused", [
    AttrSizedOperandSegments, IsolatedFromAbove, SingleBlock, NoTerminator]> {
  let summary = "a group of kernels that a backend may run as one kernel";
  let description = [{
    The body holds the group's kernels in order. Its block arguments stand
    for `inputs` then `outputs`; the kernels use only those and the
    `exec.alloc` buffers of the body (the group's locals: intermediates that
    no kernel outside the group reads, so they need no arena memory). `kind`
    says how a backend may run the whole group as one kernel:

    - `elementwise`: elementwise kernels over one iteration space
      (`function` names the emitted CUDA kernel once it exists);
    - `matmul_bias`: `matmul`, then `add` of a bias over the last dimension;
    - `matmul_bias_gelu`: the same followed by `gelu` (tanh);
    - `matmul_accumulate`: `matmul`, optionally `cast` of its result to f32,
      then `accumulate` of that into an f32 input of the group (a weight
      gradient, written in place);
    - `adamw`: several `adamw_update` kernels;
    - `cross_entropy`: `cross_entropy` then `cross_entropy_grad` of the same
      logits and targets.

    Any backend may instead run the body kernel by kernel.

    ```mlir
    exec.fused "elementwise" ins(%a = %x, %b = %bias) outs(%o = %y)
        : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32> {
      %0 = exec.alloc : memref<4x8xf32>
      exec.kernel "add"(%a, %b) outs(%0) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
      exec.kernel "relu"(%0) outs(%o) : (memref<4x8xf32>) -> memref<4x8xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$kind, Variadic<Exec_Buffer>:$inputs,
                       Variadic<Exec_Buffer>:$outputs,
                       OptionalAttr<StrAttr>:$function);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The body's block argument that stands for input `i`.
    ::mlir::BlockArgument getInputArgument(unsigned i) {
      return getBody().front().getArgument(i);
    }
    /// The body's block argument that stands for output `i`.
    ::mlir::BlockArgument getOutputArgument(unsigned i) {
      return getBody().front().getArgument(getInputs().size() + i);
    }
    /// The operand that block argument `arg` of the body stands for.
    ::mlir::Value getOperandOf(::mlir::BlockArgument arg) {
      return getOperation()->getOperand(arg.getArgNumber());
    }
    /// Whether `arg` stands for one of the outputs.
    bool isOutputArgument(::mlir::BlockArgument arg) {
      return arg.getOwner() == &getBody().front() &&
             arg.getArgNumber() >= getInputs().size();
    }
    /// The body's kernels in order.
    auto getKernels() { return getBody().front().getOps<KernelOp>(); }
    /// The body's exec.alloc buffers: the group's locals.
    auto getLocals() { return getBody().front().getOps<AllocOp>(); }
  }];
}

#endif // STRATA_DIALECT_EXEC_IR_EXECOPS_TD
