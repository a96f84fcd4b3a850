//===- GraphTrainingOps.td - strata.graph training ops -----*- tablegen -*-===//
//
// The ops strata-autodiff emits: gradient ops that mirror the CPU backward
// kernels, persistent optimizer state, and optimizer updates. Included from
// GraphOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHTRAININGOPS_TD
#define STRATA_DIALECT_GRAPH_IR_GRAPHTRAININGOPS_TD

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHTRAININGOPS_TD
