//===- TestFiles.h - Scratch files, fault injection, test tensors ---------===//

#ifndef STRATA_TESTS_UNIT_RUNTIME_TESTFILES_H
#define STRATA_TESTS_UNIT_RUNTIME_TESTFILES_H

#include "strata/Runtime/Checkpoint.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <csignal>
#include <fstream>
#include <initializer_list>
#include <string>
#include <sys/resource.h>

namespace strata::runtime::testing {

/// A fresh directory, removed with its contents when the test ends.
class ScratchDir {
public:
  ScratchDir() {
    llvm::SmallString<128> path;
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("strata-runtime-test", path);
    EXPECT_FALSE(ec) << ec.message();
    dir = std::string(path);
  }
  ~ScratchDir() { llvm::sys::fs::remove_directories(dir); }

  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> path(dir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  }
  const std::string &path() const { return dir; }

  /// Names of the entries in the directory, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      names.push_back(std::string(llvm::sys::path::filename(it->path())));
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  std::string dir;
};

inline std::string readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  EXPECT_TRUE(bool(buffer)) << path;
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

inline void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

/// The message of `err`, or "" when it is success; consumes it either way.
inline std::string errorMessage(llvm::Error err) {
  if (!err)
    return "";
  return llvm::toString(std::move(err));
}

/// Checks that `message` is an error message holding each of `parts`.
inline void expectMessage(const std::string &message,
                          std::initializer_list<llvm::StringRef> parts) {
  EXPECT_FALSE(message.empty()) << "expected an error";
  for (llvm::StringRef part : parts)
    EXPECT_NE(message.find(part.str()), std::string::npos)
        << "message: " << message << "\nlacks: " << part.str();
}

/// Makes writes past `limit` bytes fail with EFBIG, as a full disk would, for
/// as long as it lives. Works for root, unlike a read-only directory.
class FileSizeLimit {
public:
  explicit FileSizeLimit(rlim_t limit) {
    previousHandler = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &previous);
    struct rlimit lowered = previous;
    lowered.rlim_cur = limit;
    setrlimit(RLIMIT_FSIZE, &lowered);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &previous);
    std::signal(SIGXFSZ, previousHandler);
  }

private:
  struct rlimit previous;
  void (*previousHandler)(int);
};

/// Deterministic, distinct bytes for the k-th tensor (0/1 for BOOL).
inline std::vector<uint8_t> patternBytes(DType dtype, size_t k, size_t count) {
  std::vector<uint8_t> bytes(count);
  for (size_t i = 0; i < count; ++i)
    bytes[i] =
        dtype == DType::Bool ? uint8_t(i % 2) : uint8_t((i * 7 + k * 13) % 251);
  return bytes;
}

inline constexpr DType kAllDTypes[] = {
    DType::Bool, DType::U8,  DType::I8,  DType::F8_E4M3, DType::F8_E5M2,
    DType::U16,  DType::I16, DType::F16, DType::BF16,    DType::U32,
    DType::I32,  DType::F32, DType::U64, DType::I64,     DType::F64};

} // namespace strata::runtime::testing

#endif // STRATA_TESTS_UNIT_RUNTIME_TESTFILES_H
