//===- ExecDialect.h - strata.exec dialect ----------------------*- C++ -*-===//

#ifndef STRATA_DIALECT_EXEC_IR_EXECDIALECT_H
#define STRATA_DIALECT_EXEC_IR_EXECDIALECT_H

#include "mlir/IR/Dialect.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"

#include "strata/Dialect/Exec/IR/ExecDialect.h.inc"

#endif // STRATA_DIALECT_EXEC_IR_EXECDIALECT_H
