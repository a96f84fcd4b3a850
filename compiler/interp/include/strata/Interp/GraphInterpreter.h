//===- GraphInterpreter.h - Reference interpreter for strata.graph -*- C++ -*-//
//
// Evaluates a strata.graph function op by op on the host, with the f32 CPU
// reference kernels (strata/Cpu/Kernels.h). It is the numerical oracle that
// autodiff (finite differences) and compiled plans are tested against, so it
// favours clarity and complete error reporting over speed. See
// docs/interpreter.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_INTERP_GRAPHINTERPRETER_H
#define STRATA_INTERP_GRAPHINTERPRETER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace strata::interp {

/// The element type of a host tensor. Float types narrower than f32 are
/// emulated: values are stored as f32 after rounding them to the format (so
/// precision effects are visible); f64 is stored as f32 too. Integers are
/// stored as int64 whatever their width; i1 holds 0 or 1.
enum class DType { F32, F64, F16, BF16, F8E4M3FN, F8E5M2, I1, I32, I64 };

bool isFloat(DType type);
llvm::StringRef dtypeName(DType type);
/// The DType of an MLIR element type; fails for types the interpreter does not
/// model.
llvm::Expected<DType> dtypeFromType(mlir::Type type);
/// Rounds `value` to the format of `type` and back (identity for f32/f64).
float roundToDType(float value, DType type);

/// A dense row-major host tensor.
class Tensor {
public:
  Tensor() = default;
  /// A zero-filled tensor.
  Tensor(DType type, llvm::ArrayRef<int64_t> shape);

  static Tensor fromFloats(llvm::ArrayRef<int64_t> shape,
                           llvm::ArrayRef<float> values,
                           DType type = DType::F32);
  static Tensor fromInts(llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<int64_t> values,
                         DType type = DType::I32);
  static Tensor scalar(float value) { return fromFloats({}, {value}); }

  DType dtype() const { return type; }
  bool isFloat() const { return interp::isFloat(type); }
  llvm::ArrayRef<int64_t> shape() const { return dims; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  int64_t numElements() const;

  /// Storage of a float tensor (empty for integer tensors).
  llvm::ArrayRef<float> floats() const { return floatData; }
  llvm::MutableArrayRef<float> floats() { return floatData; }
  /// Storage of an integer tensor (empty for float tensors).
  llvm::ArrayRef<int64_t> ints() const { return intData; }
  llvm::MutableArrayRef<int64_t> ints() { return intData; }

  /// Rounds every value to the tensor's float format (no-op for f32).
  void roundToFormat();
  /// Relabels a float tensor with another float format and rounds to it.
  void setFloatFormat(DType format);

private:
  DType type = DType::F32;
  llvm::SmallVector<int64_t, 4> dims;
  std::vector<float> floatData;
  std::vector<int64_t> intData;
};

/// Parameter and training-state values by `graph.param` / `graph.state`
/// symbol name.
using ParamMap = llvm::StringMap<Tensor>;

/// Initializes every `graph.param` of `module` with
/// strata::runtime::initializeParameter (seeded by `seed` and the parameter's
/// name), rounded to the parameter's element type, and creates a zero tensor
/// for every `graph.state`.
llvm::Expected<ParamMap> initializeParameters(mlir::ModuleOp module,
                                              uint64_t seed);

/// Evaluates `func` on `inputs` (one per argument, in order) and returns its
/// results. Inputs must match the argument types: same element type and rank,
/// equal static dimensions (a `?` accepts any size). Errors, such as an
/// out-of-range token id or an op the interpreter does not know, name the
/// op's location (`file:line:col: error: ...`). A function that writes
/// training state (graph.accumulate, graph.zero, graph.adamw_update,
/// graph.sgd_update) is rejected: run it with evaluateStep.
llvm::Expected<llvm::SmallVector<Tensor>>
evaluate(mlir::func::FuncOp func, llvm::ArrayRef<Tensor> inputs,
         const ParamMap &params);

/// Runs `func` like evaluate, but ops that write persistent state
/// (graph.accumulate, graph.zero, graph.adamw_update, graph.sgd_update)
/// update `state` (params + states by symbol name) in place, in op order; a
/// graph.param_ref after such an op reads the new value. On error, `state`
/// holds the updates of the ops before the failing one.
llvm::Expected<llvm::SmallVector<Tensor>>
evaluateStep(mlir::func::FuncOp func, llvm::ArrayRef<Tensor> inputs,
             ParamMap &state);

/// `file:line:col` of the first file location inside `loc`, else its printed
/// form.
std::string formatLocation(mlir::Location loc);

} // namespace strata::interp

#endif // STRATA_INTERP_GRAPHINTERPRETER_H
