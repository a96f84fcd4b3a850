//===- AtomicFile.h - Crash-safe replacement of a file ----------*- C++ -*-===//
//
// Writes a file so that a reader, or a run resumed after a crash, sees either
// the old contents or the complete new contents, never a mixture: the bytes go
// to a temporary file beside the target, which is fsynced and then renamed
// over the target; the directory is fsynced so that the rename is durable.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_ATOMICFILE_H
#define STRATA_RUNTIME_ATOMICFILE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace strata::runtime {

/// A file being written. Bytes appended with `write` land in
/// `<path>.tmp.<pid>`; `commit` makes them appear at `path` at once. A file
/// destroyed without a successful commit removes its temporary file and
/// leaves whatever was at `path` untouched.
class AtomicFile {
public:
  /// Opens the temporary file beside `path`. Fails when the directory is not
  /// writable or does not exist.
  static llvm::Expected<AtomicFile> create(llvm::StringRef path);

  AtomicFile(AtomicFile &&other);
  AtomicFile &operator=(AtomicFile &&other);
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;
  ~AtomicFile();

  /// Appends `bytes`. After a failure the file can only be discarded.
  llvm::Error write(llvm::StringRef bytes);

  /// Flushes, fsyncs, renames the temporary file over the target and fsyncs
  /// the directory. On failure the target keeps its previous contents.
  llvm::Error commit();

  const std::string &path() const { return targetPath; }
  const std::string &temporaryPath() const { return tempPath; }

private:
  AtomicFile(std::string targetPath, std::string tempPath, int fd);
  llvm::Error writeAll(const char *data, size_t size);
  llvm::Error flushBuffer();
  llvm::Error ioError(const char *what, int errnum) const;
  void discard();

  std::string targetPath;
  std::string tempPath;
  int fd = -1;
  /// Small writes are gathered here so that a header written field by field
  /// does not cost one system call per field.
  std::vector<char> buffer;
  bool failed = false;
};

/// Writes `contents` to `path` through an AtomicFile.
llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef contents);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_ATOMICFILE_H
