//===- Data.cpp - Token files and the batch loader ------------------------===//

#include "strata/Runtime/Data.h"
#include "strata/Runtime/AtomicFile.h"

#include "llvm/Support/Endian.h"

#include <cassert>
#include <limits>

using namespace strata::runtime;
namespace endian = llvm::support::endian;

TokenSource::~TokenSource() = default;

void TokenBuffer::read(uint64_t begin,
                       llvm::MutableArrayRef<int32_t> out) const {
  assert(begin <= tokenIds.size() && out.size() <= tokenIds.size() - begin &&
         "token range out of bounds");
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = tokenIds[begin + i];
}

llvm::Expected<std::unique_ptr<TokenFile>>
TokenFile::open(llvm::StringRef path) {
  // Not volatile: the atomic writer replaces a file by rename, never in place,
  // so a mapped file does not change under us.
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError(
        buffer.getError(), "cannot open token file '%s': %s",
        path.str().c_str(), buffer.getError().message().c_str());
  llvm::StringRef bytes = (*buffer)->getBuffer();
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError("token file '" + path + "': " + message);
  };
  if (bytes.size() < kTokenFileHeaderBytes)
    return fail("expected a " + llvm::Twine(kTokenFileHeaderBytes) +
                "-byte header, but the file is only " +
                llvm::Twine(bytes.size()) + " bytes");
  auto headerInt = [&](size_t index) {
    return endian::read32le(bytes.data() + 4 * index);
  };
  int32_t magic = static_cast<int32_t>(headerInt(0));
  if (magic != kTokenFileMagic)
    return fail("expected magic number " + llvm::Twine(kTokenFileMagic) +
                " in header[0], found " + llvm::Twine(magic) +
                " (not a token file, or written on a big-endian machine)");
  int32_t version = static_cast<int32_t>(headerInt(1));
  if (version != kTokenFileVersion)
    return fail("expected version " + llvm::Twine(kTokenFileVersion) +
                " (uint16 tokens) in header[1], found " + llvm::Twine(version));
  int32_t count = static_cast<int32_t>(headerInt(2));
  if (count < 0)
    return fail("header[2] holds a negative token count (" +
                llvm::Twine(count) + ")");
  uint64_t expectedSize = kTokenFileHeaderBytes + 2 * uint64_t(count);
  if (bytes.size() != expectedSize)
    return fail("header[2] says " + llvm::Twine(count) +
                " tokens, so the file should be " + llvm::Twine(expectedSize) +
                " bytes, but it is " + llvm::Twine(bytes.size()) + " bytes (" +
                (bytes.size() < expectedSize ? "truncated" : "trailing data") +
                ")");
  return std::unique_ptr<TokenFile>(
      new TokenFile(path.str(), std::move(*buffer), uint64_t(count)));
}

void TokenFile::read(uint64_t begin, llvm::MutableArrayRef<int32_t> out) const {
  assert(begin <= numTokens && out.size() <= numTokens - begin &&
         "token range out of bounds");
  const char *data =
      buffer->getBufferStart() + kTokenFileHeaderBytes + 2 * begin;
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = endian::read16le(data + 2 * i);
}

llvm::Error strata::runtime::writeTokenFile(llvm::StringRef path,
                                            llvm::ArrayRef<uint16_t> tokens) {
  // The header's count is an int32; a larger corpus must be split into shards.
  if (tokens.size() > uint64_t(std::numeric_limits<int32_t>::max()))
    return llvm::createStringError(
        "cannot write token file '%s': %zu tokens exceed the format's limit "
        "of %d per file",
        path.str().c_str(), tokens.size(), std::numeric_limits<int32_t>::max());
  llvm::Expected<AtomicFile> file = AtomicFile::create(path);
  if (!file)
    return file.takeError();

  char header[kTokenFileHeaderBytes] = {};
  endian::write32le(header, kTokenFileMagic);
  endian::write32le(header + 4, kTokenFileVersion);
  endian::write32le(header + 8, static_cast<uint32_t>(tokens.size()));
  if (llvm::Error err = file->write(llvm::StringRef(header, sizeof(header))))
    return err;

  // Converted in chunks so that the host's byte order never reaches the disk.
  char chunk[1 << 16];
  for (size_t begin = 0; begin < tokens.size();) {
    size_t count = std::min(tokens.size() - begin, sizeof(chunk) / 2);
    for (size_t i = 0; i < count; ++i)
      endian::write16le(chunk + 2 * i, tokens[begin + i]);
    if (llvm::Error err = file->write(llvm::StringRef(chunk, 2 * count)))
      return err;
    begin += count;
  }
  return file->commit();
}

llvm::Expected<BatchLoader>
BatchLoader::create(const TokenSource &source, uint32_t batchSize,
                    uint32_t seqLen, std::optional<uint32_t> vocabSize) {
  if (batchSize == 0 || seqLen == 0)
    return llvm::createStringError(
        "batch loader over '%s': batch size (%u) and sequence length (%u) "
        "must be positive",
        source.name().str().c_str(), batchSize, seqLen);
  if (source.size() < uint64_t(seqLen) + 1)
    return llvm::createStringError(
        "batch loader over '%s': a sequence length of %u needs at least %llu "
        "tokens (T + 1), but the source holds %llu",
        source.name().str().c_str(), seqLen,
        static_cast<unsigned long long>(seqLen) + 1,
        static_cast<unsigned long long>(source.size()));

  // Checked once up front: a bad id found mid-run would surface as an
  // out-of-bounds embedding lookup hours later.
  if (vocabSize) {
    std::vector<int32_t> chunk(1 << 16);
    for (uint64_t begin = 0; begin < source.size(); begin += chunk.size()) {
      size_t count = std::min<uint64_t>(chunk.size(), source.size() - begin);
      source.read(begin, llvm::MutableArrayRef<int32_t>(chunk.data(), count));
      for (size_t i = 0; i < count; ++i)
        if (uint32_t(chunk[i]) >= *vocabSize)
          return llvm::createStringError(
              "batch loader over '%s': token %d at position %llu is out of "
              "range for a vocabulary of %u",
              source.name().str().c_str(), chunk[i],
              static_cast<unsigned long long>(begin + i), *vocabSize);
    }
  }
  return BatchLoader(source, batchSize, seqLen);
}

void BatchLoader::next(llvm::MutableArrayRef<int32_t> inputs,
                       llvm::MutableArrayRef<int32_t> targets) {
  size_t rowLen = cols;
  assert(inputs.size() == size_t(rows) * rowLen &&
         targets.size() == size_t(rows) * rowLen &&
         "batch buffers must hold batchSize * seqLen ids");
  window.resize(rowLen + 1);
  for (size_t row = 0; row < rows; ++row) {
    if (cursor + rowLen + 1 > tokens->size())
      cursor = 0;
    tokens->read(cursor, window);
    std::copy(window.begin(), window.end() - 1, inputs.begin() + row * rowLen);
    std::copy(window.begin() + 1, window.end(), targets.begin() + row * rowLen);
    cursor += rowLen;
  }
}

Batch BatchLoader::next() {
  Batch batch;
  batch.inputs.resize(size_t(rows) * cols);
  batch.targets.resize(size_t(rows) * cols);
  next(batch.inputs, batch.targets);
  return batch;
}

llvm::Error BatchLoader::setPosition(uint64_t position) {
  if (position >= tokens->size())
    return llvm::createStringError(
        "batch loader over '%s': cannot resume at position %llu, the source "
        "holds only %llu tokens",
        tokens->name().str().c_str(), static_cast<unsigned long long>(position),
        static_cast<unsigned long long>(tokens->size()));
  cursor = position;
  return llvm::Error::success();
}
