//===- GraphDialect.h - strata.graph dialect --------------------*- C++ -*-===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHDIALECT_H
#define STRATA_DIALECT_GRAPH_IR_GRAPHDIALECT_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"

#include "strata/Dialect/Graph/IR/GraphDialect.h.inc"
#include "strata/Dialect/Graph/IR/GraphEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "strata/Dialect/Graph/IR/GraphAttrs.h.inc"

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHDIALECT_H
