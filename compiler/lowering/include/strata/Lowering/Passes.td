//===- Passes.td - graph -> exec lowering passes -----------*- tablegen -*-===//

#ifndef STRATA_LOWERING_PASSES_TD
#define STRATA_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToExecPass : Pass<"strata-lower-to-exec", "::mlir::ModuleOp"> {
  let summary = "Lowers graph ops on tensors to exec kernels on buffers";
  let description = [{
    Every `graph.param` and `graph.state` becomes an `exec.global`; in every
    function, each `graph.param_ref` becomes an `exec.global_ref` and every
    other graph op an `exec.kernel` named like the op without `graph.`, whose
    inputs are the op's operands and whose outputs are fresh `exec.alloc`
    buffers, one per result. The state-writing ops (`accumulate`, `zero`,
    `adamw_update`, `sgd_update`) take the buffers of the globals they name
    first and write no outputs. Function arguments and results become memrefs;
    `graph.name` becomes `exec.input`, `graph.step` `exec.step`, `graph.model`
    `exec.model` and the module's `graph.training` `exec.training`. Every
    shape must be static.

    Before:
    ```mlir
    graph.param @w : tensor<4x8xf32> = normal(0.0, 0.02)
    func.func @m(%x: tensor<2x4xf32> {graph.name = "x"}) -> tensor<2x8xf32> {
      %w = graph.param_ref @w : tensor<4x8xf32>
      %y = graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
      %z = graph.relu %y : tensor<2x8xf32>
      return %z : tensor<2x8xf32>
    }
    ```
    After:
    ```mlir
    exec.global @w : memref<4x8xf32> param normal(0.0, 0.02)
    func.func @m(%x: memref<2x4xf32> {exec.input = "x"}) -> memref<2x8xf32> {
      %w = exec.global_ref @w : memref<4x8xf32>
      %0 = exec.alloc : memref<2x8xf32>
      exec.kernel "matmul"(%x, %w) outs(%0)
          : (memref<2x4xf32>, memref<4x8xf32>) -> memref<2x8xf32>
      %1 = exec.alloc : memref<2x8xf32>
      exec.kernel "relu"(%0) outs(%1) : (memref<2x8xf32>) -> memref<2x8xf32>
      return %1 : memref<2x8xf32>
    }
    ```
  }];
  let dependentDialects = ["::strata::exec::ExecDialect",
                           "::mlir::func::FuncDialect"];
}

def MemoryPlanPass : Pass<"strata-memory-plan", "::mlir::ModuleOp"> {
  let summary = "Places every exec.alloc of a function in one arena";
  let description = [{
    Per function: a temporary lives from the kernel that writes it to the last
    kernel that reads it (a returned buffer to the end of the function). The
    planner of compiler/memplan packs the temporaries into one arena, letting
    a kernel write its output over an input that dies at it where the kernel
    allows it (an elementwise kernel over an input of the output's type, a
    reshape over its input, a cross_entropy group's logits gradient over the
    logits); an independent checker then proves that no two buffers live at
    the same time share a byte (a violation fails the pass). Each `exec.alloc`
    gets its byte `offset`, the function `exec.arena_bytes` (the planned
    peak), `exec.lower_bound_bytes` (no plan can use fewer) and
    `exec.naive_bytes` (every buffer in its own slot).

    Before:
    ```mlir
    func.func @m(%x: memref<2x4xf32>) -> memref<2x8xf32> {
      %w = exec.global_ref @w : memref<4x8xf32>
      %0 = exec.alloc : memref<2x8xf32>
      exec.kernel "matmul"(%x, %w) outs(%0) : (memref<2x4xf32>, memref<4x8xf32>) -> memref<2x8xf32>
      %1 = exec.alloc : memref<2x8xf32>
      exec.kernel "relu"(%0) outs(%1) : (memref<2x8xf32>) -> memref<2x8xf32>
      return %1 : memref<2x8xf32>
    }
    ```
    After (relu writes over the matmul's output, which dies at it):
    ```mlir
    func.func @m(%x: memref<2x4xf32>) -> memref<2x8xf32>
        attributes {exec.arena_bytes = 64 : i64,
                    exec.lower_bound_bytes = 64 : i64,
                    exec.naive_bytes = 128 : i64} {
      %w = exec.global_ref @w : memref<4x8xf32>
      %0 = exec.alloc offset = 0 : memref<2x8xf32>
      exec.kernel "matmul"(%x, %w) outs(%0) : (memref<2x4xf32>, memref<4x8xf32>) -> memref<2x8xf32>
      %1 = exec.alloc offset = 0 : memref<2x8xf32>
      exec.kernel "relu"(%0) outs(%1) : (memref<2x8xf32>) -> memref<2x8xf32>
      return %1 : memref<2x8xf32>
    }
    ```
  }];
  let options = [
    Option<"printSummary", "print-summary", "bool", /*default=*/"false",
           "Print one line per function to stderr: planned arena, lower "
           "bound and naive bytes">,
    Option<"alignment", "alignment", "uint64_t", /*default=*/"64",
           "Byte alignment of every temporary's offset (a power of two)">,
    Option<"inPlace", "in-place", "bool", /*default=*/"true",
           "Let kernels write outputs over inputs that die at them (off: "
           "every temporary gets bytes of its own while it lives)">,
  ];
  let dependentDialects = ["::strata::exec::ExecDialect"];
}

#endif // STRATA_LOWERING_PASSES_TD
