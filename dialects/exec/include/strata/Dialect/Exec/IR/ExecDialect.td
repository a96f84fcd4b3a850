//===- ExecDialect.td - strata.exec dialect ----------------*- tablegen -*-===//

#ifndef STRATA_DIALECT_EXEC_IR_EXECDIALECT_TD
#define STRATA_DIALECT_EXEC_IR_EXECDIALECT_TD

include "mlir/IR/OpBase.td"

def Exec_Dialect : Dialect {
  let name = "exec";
  let cppNamespace = "::strata::exec";
  let summary = "Kernels on memref buffers: the step as the runtime executes it";
  let description = [{
    See docs/exec-dialect.md.
  }];
  // exec.kernel checks its kernel name against the graph ops.
  let dependentDialects = ["::strata::graph::GraphDialect"];
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;

  let extraClassDeclaration = [{
    /// Discardable attributes of the exec dialect (docs/exec-dialect.md,
    /// "Function and module attributes").
    static constexpr ::llvm::StringLiteral kModelAttrName = "exec.model";
    static constexpr ::llvm::StringLiteral kStepAttrName = "exec.step";
    static constexpr ::llvm::StringLiteral kInputAttrName = "exec.input";
    static constexpr ::llvm::StringLiteral kTrainingAttrName = "exec.training";
    static constexpr ::llvm::StringLiteral kArenaBytesAttrName =
        "exec.arena_bytes";
    static constexpr ::llvm::StringLiteral kLowerBoundBytesAttrName =
        "exec.lower_bound_bytes";
    static constexpr ::llvm::StringLiteral kNaiveBytesAttrName =
        "exec.naive_bytes";
  }];
}

class Exec_Op<string mnemonic, list<Trait> traits = []>
    : Op<Exec_Dialect, mnemonic, traits>;

#endif // STRATA_DIALECT_EXEC_IR_EXECDIALECT_TD
