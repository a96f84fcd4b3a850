//===- Checkpoint.h - Checkpoints in the safetensors layout -----*- C++ -*-===//
//
// A checkpoint is one safetensors file:
//
//   uint64 N (little-endian)   length of the JSON header
//   N bytes of JSON            {"<tensor>": {"dtype": "F32", "shape": [..],
//                                            "data_offsets": [begin, end]},
//                               ..., "__metadata__": {"key": "value", ...}}
//   tensor bytes               little-endian, offsets relative to the byte
//                              after the header, contiguous in offset order
//
// so that PyTorch, JAX and the safetensors tools read Strata's checkpoints
// and Strata reads theirs. The training state beyond tensors (step, data
// position) lives in `__metadata__` as decimal strings. See
// docs/runtime-data.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_CHECKPOINT_H
#define STRATA_RUNTIME_CHECKPOINT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::runtime {

/// Element types, named as in the safetensors header. Values are stored as
/// raw little-endian bytes; the checkpoint code never converts them.
enum class DType : uint8_t {
  Bool,
  U8,
  I8,
  F8_E4M3,
  F8_E5M2,
  U16,
  I16,
  F16,
  BF16,
  U32,
  I32,
  F32,
  U64,
  I64,
  F64,
};

/// The header spelling: "F32", "BF16", "F8_E4M3", ...
llvm::StringRef dtypeName(DType dtype);
std::optional<DType> parseDType(llvm::StringRef name);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// Metadata keys the training loop stores; values are decimal strings.
inline constexpr llvm::StringLiteral kStepKey = "strata.step";
inline constexpr llvm::StringLiteral kDataPositionKey = "strata.data_position";

/// The string-to-string `__metadata__` map, with typed accessors for the
/// integers that a resumed run needs.
class Metadata {
public:
  void set(llvm::StringRef key, llvm::StringRef value);
  void setUInt(llvm::StringRef key, uint64_t value);
  std::optional<llvm::StringRef> get(llvm::StringRef key) const;
  /// Fails when `key` is missing or its value is not a decimal uint64.
  llvm::Expected<uint64_t> getUInt(llvm::StringRef key) const;

  /// The number of optimizer steps taken when the checkpoint was written.
  void setStep(uint64_t step) { setUInt(kStepKey, step); }
  llvm::Expected<uint64_t> step() const { return getUInt(kStepKey); }

  /// BatchLoader::position() when the checkpoint was written.
  void setDataPosition(uint64_t position) {
    setUInt(kDataPositionKey, position);
  }
  llvm::Expected<uint64_t> dataPosition() const {
    return getUInt(kDataPositionKey);
  }

  const std::map<std::string, std::string, std::less<>> &entries() const {
    return values;
  }
  bool empty() const { return values.empty(); }

  /// Prefixed to error messages, e.g. "checkpoint 'ckpt/step100.safetensors'".
  void setOrigin(std::string origin) { this->origin = std::move(origin); }

private:
  std::map<std::string, std::string, std::less<>> values;
  std::string origin;
};

/// A tensor to write: a name, a type, a shape and its bytes (not owned).
struct TensorRef {
  std::string name;
  DType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  llvm::ArrayRef<uint8_t> data;
};

/// Writes `tensors`, in the given order, and `metadata` to `path` atomically:
/// the bytes go to a temporary file in the same directory, which is fsynced
/// and renamed over `path`; a crash at any point leaves the previous
/// checkpoint intact. Fails, before touching the disk, on an empty or
/// duplicate name, the reserved name `__metadata__`, a name or metadata
/// string that is not UTF-8, a negative dimension, or data whose size is not
/// shape × dtype size.
llvm::Error writeCheckpoint(llvm::StringRef path,
                            llvm::ArrayRef<TensorRef> tensors,
                            const Metadata &metadata);

/// One tensor of a checkpoint that was read.
struct TensorEntry {
  std::string name;
  DType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  uint64_t numElements;
  /// The tensor's bytes inside the mapped file; not necessarily aligned.
  llvm::ArrayRef<uint8_t> data;
};

/// A validated checkpoint, memory-mapped.
class Checkpoint {
public:
  /// Opens and validates `path`: the header length lies within the file, the
  /// header is a JSON object, each entry has a known dtype, a shape of
  /// non-negative integers and data_offsets whose span is shape × dtype size,
  /// and the tensors tile the data section exactly (no gap, overlap or
  /// trailing byte). Each error names the file, the tensor and the fault;
  /// no input makes it crash or read outside the file.
  static llvm::Expected<Checkpoint> open(llvm::StringRef path);

  const std::string &path() const { return filePath; }
  /// Every tensor, in offset order.
  llvm::ArrayRef<TensorEntry> tensors() const { return entries; }
  const TensorEntry *find(llvm::StringRef name) const;
  const Metadata &metadata() const { return meta; }

  /// Copies tensor `name` into `out` after checking that it exists and has
  /// this dtype and shape: the way a run restores a parameter into a buffer
  /// it has already allocated.
  llvm::Error read(llvm::StringRef name, DType dtype,
                   llvm::ArrayRef<int64_t> shape,
                   llvm::MutableArrayRef<uint8_t> out) const;

private:
  Checkpoint() = default;

  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorEntry> entries;
  Metadata meta;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_CHECKPOINT_H
