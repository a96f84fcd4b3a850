//===- Data.h - Token files, token sources and the batch loader -*- C++ -*-===//
//
// Training data is a flat stream of token ids. On disk it is a token file in
// the layout that llm.c's data loaders read:
//
//   int32 header[256] (little-endian)  header[0] = 20240520 (magic)
//                                      header[1] = 1 (version: uint16 tokens)
//                                      header[2] = number of tokens N
//   uint16 tokens[N] (little-endian)
//
// so the file is exactly 1024 + 2 * N bytes. The BatchLoader cuts the stream
// into (inputs, targets) batches for next-token prediction. See
// docs/runtime-data.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_DATA_H
#define STRATA_RUNTIME_DATA_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::runtime {

inline constexpr int32_t kTokenFileMagic = 20240520;
inline constexpr int32_t kTokenFileVersion = 1;
inline constexpr size_t kTokenFileHeaderInts = 256;
inline constexpr size_t kTokenFileHeaderBytes = kTokenFileHeaderInts * 4;

/// A finite stream of token ids that can be read at any offset.
class TokenSource {
public:
  virtual ~TokenSource();

  /// What error messages call this source: a file path or a description.
  virtual llvm::StringRef name() const = 0;

  /// The number of tokens.
  virtual uint64_t size() const = 0;

  /// Copies tokens [begin, begin + out.size()) into `out`. The range must lie
  /// within [0, size()).
  virtual void read(uint64_t begin,
                    llvm::MutableArrayRef<int32_t> out) const = 0;
};

/// Tokens held in memory; what the tokenizer and the synthetic source make.
class TokenBuffer final : public TokenSource {
public:
  TokenBuffer(std::string name, std::vector<uint16_t> tokens)
      : sourceName(std::move(name)), tokenIds(std::move(tokens)) {}

  llvm::StringRef name() const override { return sourceName; }
  uint64_t size() const override { return tokenIds.size(); }
  void read(uint64_t begin, llvm::MutableArrayRef<int32_t> out) const override;

  llvm::ArrayRef<uint16_t> tokens() const { return tokenIds; }

private:
  std::string sourceName;
  std::vector<uint16_t> tokenIds;
};

/// A validated token file, memory-mapped (read, for small files) so that a
/// corpus larger than RAM costs only the pages a run touches.
class TokenFile final : public TokenSource {
public:
  /// Opens and validates `path`: magic, version, and that the size is exactly
  /// 1024 + 2 * N bytes. Errors name the file, what was expected and what was
  /// found.
  static llvm::Expected<std::unique_ptr<TokenFile>> open(llvm::StringRef path);

  llvm::StringRef name() const override { return path; }
  uint64_t size() const override { return numTokens; }
  void read(uint64_t begin, llvm::MutableArrayRef<int32_t> out) const override;

private:
  TokenFile(std::string path, std::unique_ptr<llvm::MemoryBuffer> buffer,
            uint64_t numTokens)
      : path(std::move(path)), buffer(std::move(buffer)), numTokens(numTokens) {
  }

  std::string path;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint64_t numTokens;
};

/// Writes `tokens` as a token file at `path`, atomically (see AtomicFile.h):
/// a crash never leaves a partial token file behind.
llvm::Error writeTokenFile(llvm::StringRef path,
                           llvm::ArrayRef<uint16_t> tokens);

/// The byte-level tokenizer: every byte of a text is one token, so the
/// vocabulary is the 256 byte values and any file, text or not, round-trips.
namespace bytes {
inline constexpr uint32_t kVocabSize = 256;

std::vector<uint16_t> encode(llvm::StringRef text);

/// Fails on a token >= 256, naming its position in `tokens`.
llvm::Expected<std::string> decode(llvm::ArrayRef<uint16_t> tokens);

/// Reads every token of `source` and decodes it.
llvm::Expected<std::string> decode(const TokenSource &source);
} // namespace bytes

/// A seeded, reproducible token stream for tests and smoke runs: a Markov
/// chain over [0, vocabSize) built around `next`, a random permutation drawn
/// from the seed that forms one cycle through the whole vocabulary. The first
/// token is uniform; after token `t`, the following one is `next[t]` with
/// probability 1 - noise, and otherwise uniform over the whole vocabulary (so
/// it may still be `next[t]`). A model that learns the bigram table reaches the
/// loss `syntheticTokenEntropy(vocabSize, noise)`; nothing can do better. The
/// stream depends only on the options, on every platform.
struct SyntheticTokenOptions {
  uint64_t seed = 0;
  uint64_t numTokens = 1 << 16;
  uint32_t vocabSize = 256;
  double noise = 0.1;
};

/// Fails when vocabSize is not in [1, 65536] or noise not in [0, 1].
llvm::Expected<TokenBuffer>
makeSyntheticTokens(const SyntheticTokenOptions &options);

/// The entropy, in nats, of one synthetic token given the previous one: the
/// lowest mean cross-entropy loss a model can reach on the synthetic stream.
double syntheticTokenEntropy(uint32_t vocabSize, double noise);

/// One batch: B rows of T token ids each, row-major. targets[b][t] is the token
/// that follows inputs[b][t] in the stream.
struct Batch {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
};

/// Cuts a token source into batches of B rows × T tokens. Each row reads a
/// window of T + 1 consecutive tokens (inputs are its first T, targets its
/// last T); the next row starts T tokens later, so every token is predicted
/// exactly once per pass. A window that would run past the end starts over
/// at token 0 instead. The loader's whole state is `position()`: restoring it
/// in a fresh loader over the same source yields exactly the batches that the
/// first one would have produced next.
class BatchLoader {
public:
  /// Fails when batchSize or seqLen is 0, when the source holds fewer than
  /// seqLen + 1 tokens, or, if `vocabSize` is given, when a token of the
  /// source is >= vocabSize (naming its position). The source must outlive
  /// the loader.
  static llvm::Expected<BatchLoader>
  create(const TokenSource &source, uint32_t batchSize, uint32_t seqLen,
         std::optional<uint32_t> vocabSize = std::nullopt);

  uint32_t batchSize() const { return rows; }
  uint32_t seqLen() const { return cols; }
  const TokenSource &source() const { return *tokens; }

  /// Fills `inputs` and `targets` (each batchSize * seqLen ids) with the next
  /// batch and advances.
  void next(llvm::MutableArrayRef<int32_t> inputs,
            llvm::MutableArrayRef<int32_t> targets);
  Batch next();

  /// The token offset where the next row's window starts (before wrapping):
  /// save it in a checkpoint to resume the data stream.
  uint64_t position() const { return cursor; }

  /// Restores a position saved from `position()`. Fails when it is not below
  /// the size of the source.
  llvm::Error setPosition(uint64_t position);

private:
  BatchLoader(const TokenSource &source, uint32_t batchSize, uint32_t seqLen)
      : tokens(&source), rows(batchSize), cols(seqLen) {}

  const TokenSource *tokens;
  uint32_t rows;
  uint32_t cols;
  uint64_t cursor = 0;
  std::vector<int32_t> window;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_DATA_H
