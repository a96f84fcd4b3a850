//===- ExecDialect.cpp - strata.exec dialect ------------------------------===//
//
// The dialect and the checks of its discardable attributes
// (docs/exec-dialect.md, "Function and module attributes").
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Exec/IR/ExecDialect.h"
#include "strata/Dialect/Exec/IR/ExecOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace strata::exec;

#include "strata/Dialect/Exec/IR/ExecDialect.cpp.inc"

void ExecDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "strata/Dialect/Exec/IR/ExecOps.cpp.inc"
      >();
}

LogicalResult ExecDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  Attribute value = attr.getValue();
  if (name == kTrainingAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitOpError("'") << name << "' is only valid on a module";
    if (!isa<DictionaryAttr>(value))
      return op->emitOpError("expects '") << name << "' to be a dictionary";
    return success();
  }

  if (!isa<FunctionOpInterface>(op))
    return op->emitOpError("'") << name << "' is only valid on a function";
  if (name == kModelAttrName) {
    if (!isa<UnitAttr>(value))
      return op->emitOpError("expects '") << name << "' to be a unit attribute";
    return success();
  }
  if (name == kStepAttrName) {
    auto text = dyn_cast<StringAttr>(value);
    if (!text || !llvm::is_contained({"grad", "apply"}, text.getValue()))
      return op->emitOpError("expects '")
             << name << "' to be \"grad\" or \"apply\", got " << value;
    return success();
  }
  if (name == kArenaBytesAttrName || name == kLowerBoundBytesAttrName ||
      name == kNaiveBytesAttrName) {
    auto bytes = dyn_cast<IntegerAttr>(value);
    if (!bytes || !bytes.getType().isInteger(64) || bytes.getInt() < 0)
      return op->emitOpError("expects '")
             << name << "' to be a non-negative i64, got " << value;
    return success();
  }
  return op->emitOpError("unknown attribute '") << name << "'";
}

LogicalResult ExecDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name != kInputAttrName)
    return op->emitOpError("unknown argument attribute '")
           << name << "' on argument #" << argIndex;
  auto text = dyn_cast<StringAttr>(attr.getValue());
  if (!text || text.getValue().empty())
    return op->emitOpError("expects '") << name << "' of argument #" << argIndex
                                        << " to be a non-empty string";
  if (!isa<FunctionOpInterface>(op) || regionIndex != 0)
    return op->emitOpError("'") << name << "' is only valid on function "
                                << "arguments";
  return success();
}
