//===- Passes.td - strata-fuse -----------------------------*- tablegen -*-===//

#ifndef STRATA_FUSION_PASSES_TD
#define STRATA_FUSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def FusePass : Pass<"strata-fuse", "::mlir::ModuleOp"> {
  let summary = "Groups exec kernels into exec.fused ops that a backend runs "
                "as one kernel";
  let description = [{
    Runs on lowered exec IR before strata-memory-plan, so that the
    intermediates of a group (values no kernel outside it reads) become
    locals of the group and take no arena memory. In each function it forms,
    in this order:

    - `cross_entropy`: a `cross_entropy` and a later `cross_entropy_grad` of
      the same logits and targets (the backend reads the logits once);
    - `matmul_bias_gelu` / `matmul_bias`: a `matmul` whose result only an
      `add` of a rank-1 bias of the last dimension reads, optionally followed
      by a tanh `gelu` of the sum (the sum stays an output of the group when
      other kernels read it: the gelu gradient does);
    - `matmul_accumulate`: a `matmul` whose result, cast to f32 (bf16 plans)
      or already f32, only an `accumulate` into a global reads (a weight
      gradient; the global is an input of the group, written in place as an
      `adamw` group writes its state);
    - `adamw`: the `adamw_update` kernels of a function (the apply program),
      as one group, else each run of consecutive ones;
    - `elementwise`: chains of elementwise kernels (`exec::isElementwiseKernel`,
      `cast`, `reshape` as a view) on f32/bf16 buffers that write the same
      number of elements (one iteration space); only inputs of the group may
      broadcast. A chain grows through consumers and producers of its values;
      a value read outside the group becomes an output of the group.

    A group needs two kernels or more. Its kernels move to one place: the
    last kernel's position (the others sink) or the first's (the others
    rise). That is legal when no kernel they move past reads or writes a
    buffer they write, or writes a buffer they read (state kernels write
    their global inputs in place; globals are compared by symbol). Groups
    that can be placed neither way are not formed.

    Before:
    ```mlir
    %0 = exec.alloc : memref<4x8xf32>
    exec.kernel "matmul"(%x, %w) outs(%0) : (memref<4x16xf32>, memref<16x8xf32>) -> memref<4x8xf32>
    %1 = exec.alloc : memref<4x8xf32>
    exec.kernel "add"(%0, %b) outs(%1) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
    %2 = exec.alloc : memref<4x8xf32>
    exec.kernel "gelu"(%1) outs(%2) attrs {approximate = #graph.gelu_approx<tanh>} : (memref<4x8xf32>) -> memref<4x8xf32>
    ```
    After:
    ```mlir
    %2 = exec.alloc : memref<4x8xf32>
    exec.fused "matmul_bias_gelu" ins(%a = %x, %c = %w, %d = %b) outs(%e = %2)
        : (memref<4x16xf32>, memref<16x8xf32>, memref<8xf32>) -> memref<4x8xf32> {
      %3 = exec.alloc : memref<4x8xf32>
      exec.kernel "matmul"(%a, %c) outs(%3) : (memref<4x16xf32>, memref<16x8xf32>) -> memref<4x8xf32>
      %4 = exec.alloc : memref<4x8xf32>
      exec.kernel "add"(%3, %d) outs(%4) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
      exec.kernel "gelu"(%4) outs(%e) attrs {approximate = #graph.gelu_approx<tanh>} : (memref<4x8xf32>) -> memref<4x8xf32>
    }
    ```
  }];
  let options = [
    ListOption<"kinds", "kinds", "std::string",
               "Group kinds to form (default: all of elementwise, "
               "matmul_bias, matmul_bias_gelu, matmul_accumulate, adamw, "
               "cross_entropy)">,
    Option<"printSummary", "print-summary", "bool", /*default=*/"false",
           "Print the number of groups of each kind per function to stderr">,
  ];
  let dependentDialects = ["::strata::exec::ExecDialect"];
}

#endif // STRATA_FUSION_PASSES_TD
