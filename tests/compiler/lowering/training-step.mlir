// The training step of every example: strata-autodiff, then lowering and
// the memory plan. Each program's plan stays within 5% of its lower bound
// (checked in tests/unit/lowering; the summary is printed here).
// RUN: strata-opt %examples/mlp.sg --sg-model=mnist_mlp --strata-autodiff --strata-lower-to-exec --strata-memory-plan | FileCheck %s
// RUN: strata-opt %examples/mlp.sg --sg-model=mnist_mlp --strata-autodiff --strata-lower-to-exec --strata-memory-plan=print-summary 2>&1 >/dev/null | FileCheck %s --check-prefix=SUMMARY
// RUN: strata-opt %examples/gpt2.sg --sg-model=gpt2_tiny --strata-autodiff --strata-lower-to-exec --strata-memory-plan=print-summary 2>&1 >/dev/null | FileCheck %s --check-prefix=GPT2
// RUN: strata-opt %examples/llama.sg --sg-model=llama_tiny --strata-autodiff --strata-lower-to-exec --strata-memory-plan=print-summary 2>&1 >/dev/null | FileCheck %s --check-prefix=LLAMA
// RUN: strata-opt %examples/moe.sg --sg-model=moe_tiny --strata-autodiff --strata-lower-to-exec --strata-memory-plan=print-summary 2>&1 >/dev/null | FileCheck %s --check-prefix=MOE

// CHECK: module attributes {exec.training = {{{.*}}optimizer = "adamw"
// CHECK: exec.global @fc1.w : memref<784x256xf32> param normal
// CHECK: exec.global @fc1.w.grad : memref<784x256xf32> state grad of @fc1.w
// CHECK: exec.global @fc1.w.m : memref<784x256xf32> state adam_m of @fc1.w
// CHECK: exec.global @fc1.w.v : memref<784x256xf32> state adam_v of @fc1.w

// CHECK-LABEL: func.func @mnist_mlp.grad
// CHECK-SAME: {exec.input = "x"}
// CHECK-SAME: exec.step = "grad"
// CHECK: exec.kernel "cross_entropy_grad"
// CHECK: %[[G:.*]] = exec.global_ref @fc1.w.grad : memref<784x256xf32>
// CHECK-NEXT: exec.kernel "accumulate"(%[[G]], %{{.*}}) : (memref<784x256xf32>, memref<784x256xf32>) -> ()

// CHECK-LABEL: func.func @mnist_mlp.apply
// CHECK-SAME: (%[[STEP:.*]]: memref<i32> {exec.input = "step"})
// CHECK-SAME: exec.step = "apply"
// CHECK: %[[P:.*]] = exec.global_ref @fc1.w :
// CHECK-NEXT: %[[PG:.*]] = exec.global_ref @fc1.w.grad :
// CHECK-NEXT: %[[M:.*]] = exec.global_ref @fc1.w.m :
// CHECK-NEXT: %[[V:.*]] = exec.global_ref @fc1.w.v :
// CHECK-NEXT: exec.kernel "adamw_update"(%[[P]], %[[PG]], %[[M]], %[[V]], %{{.*}}, %{{.*}}, %[[STEP]])
// CHECK: exec.kernel "zero"

// SUMMARY: function
// SUMMARY: mnist_mlp {{.*}} 1.000
// SUMMARY: mnist_mlp.grad {{.*}} 1.0{{[0-4]}}
// GPT2: gpt2_tiny.grad {{.*}} 1.0{{[0-4]}}
// LLAMA: llama_tiny.grad {{.*}} 1.0{{[0-4]}}
// MOE: moe_tiny.grad {{.*}} 1.0{{[0-4]}}
