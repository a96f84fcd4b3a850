//===- AtomicFile.cpp - Crash-safe replacement of a file ------------------===//

#include "strata/Runtime/AtomicFile.h"

#include "llvm/Support/Path.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

using namespace strata::runtime;

namespace {
/// Large enough that per-call overhead vanishes, small enough to not matter
/// next to the tensors a checkpoint carries.
constexpr size_t kBufferBytes = 1 << 20;

int openRetrying(const char *path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}
} // namespace

AtomicFile::AtomicFile(std::string targetPath, std::string tempPath, int fd)
    : targetPath(std::move(targetPath)), tempPath(std::move(tempPath)), fd(fd) {
  buffer.reserve(kBufferBytes);
}

AtomicFile::AtomicFile(AtomicFile &&other)
    : targetPath(std::move(other.targetPath)),
      tempPath(std::move(other.tempPath)), fd(other.fd),
      buffer(std::move(other.buffer)), failed(other.failed) {
  other.fd = -1;
  other.tempPath.clear();
}

AtomicFile &AtomicFile::operator=(AtomicFile &&other) {
  if (this != &other) {
    discard();
    targetPath = std::move(other.targetPath);
    tempPath = std::move(other.tempPath);
    fd = other.fd;
    buffer = std::move(other.buffer);
    failed = other.failed;
    other.fd = -1;
    other.tempPath.clear();
  }
  return *this;
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
  if (!tempPath.empty())
    ::unlink(tempPath.c_str());
  tempPath.clear();
}

llvm::Error AtomicFile::ioError(const char *what, int errnum) const {
  return llvm::createStringError(
      std::error_code(errnum, std::generic_category()),
      "cannot %s '%s' (writing '%s'): %s", what, tempPath.c_str(),
      targetPath.c_str(), std::strerror(errnum));
}

llvm::Expected<AtomicFile> AtomicFile::create(llvm::StringRef path) {
  std::string target = path.str();
  std::string temp = target + ".tmp." + std::to_string(::getpid());
  int fd = openRetrying(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0666);
  if (fd < 0) {
    int errnum = errno;
    return llvm::createStringError(
        std::error_code(errnum, std::generic_category()),
        "cannot create '%s' (writing '%s'): %s", temp.c_str(), target.c_str(),
        std::strerror(errnum));
  }
  return AtomicFile(std::move(target), std::move(temp), fd);
}

llvm::Error AtomicFile::writeAll(const char *data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      failed = true;
      // write() returning 0 for a non-empty request means no space was made;
      // report it as the disk being full rather than loop forever.
      return ioError("write", n < 0 ? errno : ENOSPC);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return llvm::Error::success();
}

llvm::Error AtomicFile::flushBuffer() {
  llvm::Error err = writeAll(buffer.data(), buffer.size());
  buffer.clear();
  return err;
}

llvm::Error AtomicFile::write(llvm::StringRef bytes) {
  if (fd < 0 || failed)
    return llvm::createStringError(
        "cannot write '%s': the file was already committed or a write failed",
        targetPath.c_str());
  if (buffer.size() + bytes.size() > kBufferBytes)
    if (llvm::Error err = flushBuffer())
      return err;
  // A large tensor goes straight to the file instead of through the buffer.
  if (bytes.size() >= kBufferBytes)
    return writeAll(bytes.data(), bytes.size());
  buffer.insert(buffer.end(), bytes.begin(), bytes.end());
  return llvm::Error::success();
}

llvm::Error AtomicFile::commit() {
  if (fd < 0 || failed)
    return llvm::createStringError(
        "cannot commit '%s': the file was already committed or a write failed",
        targetPath.c_str());
  if (llvm::Error err = flushBuffer())
    return err;
  // Without this fsync the rename could reach the disk before the data, and a
  // crash would leave an empty or partial file under the final name.
  if (::fsync(fd) != 0) {
    failed = true;
    return ioError("fsync", errno);
  }
  int closeResult = ::close(fd);
  fd = -1;
  if (closeResult != 0) {
    failed = true;
    return ioError("close", errno);
  }
  if (::rename(tempPath.c_str(), targetPath.c_str()) != 0) {
    failed = true;
    return ioError("rename", errno);
  }
  tempPath.clear();

  // The rename lives in the directory; fsync it so that the new name survives
  // a power loss, not only a process crash.
  llvm::StringRef parent = llvm::sys::path::parent_path(targetPath);
  std::string dir = parent.empty() ? std::string(".") : parent.str();
  int dirFd = openRetrying(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) {
    int errnum = errno;
    return llvm::createStringError(
        std::error_code(errnum, std::generic_category()),
        "cannot open directory '%s' to make '%s' durable: %s", dir.c_str(),
        targetPath.c_str(), std::strerror(errnum));
  }
  int syncResult = ::fsync(dirFd);
  int errnum = errno;
  ::close(dirFd);
  if (syncResult != 0)
    return llvm::createStringError(
        std::error_code(errnum, std::generic_category()),
        "cannot fsync directory '%s' after writing '%s': %s", dir.c_str(),
        targetPath.c_str(), std::strerror(errnum));
  return llvm::Error::success();
}

llvm::Error strata::runtime::writeFileAtomically(llvm::StringRef path,
                                                 llvm::StringRef contents) {
  llvm::Expected<AtomicFile> file = AtomicFile::create(path);
  if (!file)
    return file.takeError();
  if (llvm::Error err = file->write(contents))
    return err;
  return file->commit();
}
