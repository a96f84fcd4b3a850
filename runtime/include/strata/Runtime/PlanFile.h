//===- PlanFile.h - Reading, writing and validating plan files --*- C++ -*-===//
//
// A plan file is the header of runtime/plan/plan.proto followed by one
// serialized strata::plan::Plan:
//
//   bytes 0-7   magic "STRATAPL"
//   bytes 8-11  format version, uint32 little-endian (== Plan.version)
//   bytes 12-19 payload length in bytes, uint64 little-endian
//   bytes 20-23 CRC-32 (IEEE) of the payload, uint32 little-endian
//   bytes 24-   payload
//
// The header lets a reader reject a truncated, padded or corrupted file
// before protobuf parses it; validatePlan then rejects a plan that parses but
// contradicts itself (a buffer outside its region, a kernel naming a buffer
// that does not exist), so that the executor never indexes out of bounds.
// See docs/plan-format.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_PLANFILE_H
#define STRATA_RUNTIME_PLANFILE_H

#include "plan.pb.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace strata::runtime {

inline constexpr llvm::StringLiteral kPlanMagic = "STRATAPL";
/// The plan format version this runtime writes, and the newest it reads.
inline constexpr uint32_t kPlanVersion = 2;
/// The oldest plan format version this runtime reads.
inline constexpr uint32_t kMinPlanVersion = 1;
inline constexpr size_t kPlanHeaderBytes = 24;

/// Bytes per element of `dtype`; nullopt for DTYPE_UNSPECIFIED and values
/// outside the enum.
std::optional<uint64_t> planDTypeSize(plan::DType dtype);
/// "f32", "i32", "bf16", "f16", or "dtype <n>" for anything else.
std::string planDTypeName(plan::DType dtype);
/// "param", "state", "input", "temp", "local", or "role <n>".
std::string planRoleName(plan::BufferRole role);
/// "[2, 3]": how plan and runtime messages print a shape.
std::string planShapeString(llvm::ArrayRef<int64_t> shape);

/// The header and payload of `plan`. Fails when the plan does not serialize.
llvm::Expected<std::string> encodePlan(const plan::Plan &plan);

/// Parses bytes produced by encodePlan. `origin` (e.g. "plan file 'x.plan'")
/// starts every error message. Checks the header and the Plan.version field,
/// not the plan's consistency (see validatePlan).
llvm::Expected<plan::Plan> decodePlan(llvm::StringRef bytes,
                                      llvm::StringRef origin);

/// Reads `path`, checks its header and CRC, parses it and runs validatePlan
/// without a backend check. Each error names the file and the fault.
llvm::Expected<plan::Plan> readPlanFile(llvm::StringRef path);

/// Writes `plan` to `path` atomically (AtomicFile.h): a crash leaves either
/// the previous file or the complete new one.
llvm::Error writePlanFile(llvm::StringRef path, const plan::Plan &plan);

/// Checks whether a backend can run one kernel (e.g. exec::checkCpuKernel
/// with the kernel's input and output counts).
using KernelCheck = llvm::function_ref<llvm::Error(const plan::Kernel &)>;

/// Checks that `plan` is consistent, so that an executor can trust it: the
/// version; buffer ids equal to their index, names present and unique among
/// params, states and inputs; known roles and dtypes; non-negative shapes
/// whose size × dtype equals size_bytes; offsets aligned to the element size;
/// params and states inside persistent_bytes and inputs inside input_bytes,
/// without overlapping one another; temporaries inside the arena of every
/// program that uses them; param initializers with the right number of
/// arguments; states belonging to existing params; kernels naming existing
/// buffers, writing only temporaries and reading no temporary before a kernel
/// of the same program wrote it; programs' inputs being INPUT buffers; a
/// training plan having `grad` (returning one f32 scalar) and `apply`, and
/// accumulate >= 1. Version 2: LOCAL buffers inside local_bytes; fused
/// kernels (op "fused") with a known `kind`, a body of non-fused kernels that
/// use only the fused kernel's inputs, outputs and locals (LOCAL buffers no
/// other kernel uses, written in the body before they are read), and for
/// kind "elementwise" `function` and `elements` attributes and Plan.cuda
/// source defining the function; no other kernel has a body or locals.
/// `checkKernel`, when given, runs on every kernel outside fused kernels and
/// on every body kernel (a backend can always run a body kernel by kernel).
/// Errors start with `origin` and name the buffer, program or kernel.
llvm::Error validatePlan(const plan::Plan &plan, llvm::StringRef origin,
                         KernelCheck checkKernel = nullptr);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_PLANFILE_H
