//===- DataTest.cpp - Token files, tokenizer, synthetic data, loader ------===//

#include "strata/Runtime/Data.h"

#include "TestFiles.h"

#include "llvm/Support/Endian.h"

#include <cmath>
#include <numeric>
#include <unistd.h>

using namespace strata::runtime;
using namespace strata::runtime::testing;

namespace {

std::vector<uint16_t> iota(size_t count) {
  std::vector<uint16_t> tokens(count);
  for (size_t i = 0; i < count; ++i)
    tokens[i] = static_cast<uint16_t>(i);
  return tokens;
}

std::vector<int32_t> readAll(const TokenSource &source) {
  std::vector<int32_t> out(source.size());
  source.read(0, out);
  return out;
}

std::unique_ptr<TokenFile> openOrFail(const std::string &path) {
  llvm::Expected<std::unique_ptr<TokenFile>> file = TokenFile::open(path);
  EXPECT_TRUE(bool(file)) << llvm::toString(file.takeError());
  return file ? std::move(*file) : nullptr;
}

std::string openError(const std::string &path) {
  llvm::Expected<std::unique_ptr<TokenFile>> file = TokenFile::open(path);
  return file ? "" : llvm::toString(file.takeError());
}

//===----------------------------------------------------------------------===//
// Token files
//===----------------------------------------------------------------------===//

TEST(TokenFileTest, RoundTrip) {
  ScratchDir dir;
  std::string path = dir.file("tokens.bin");
  std::vector<uint16_t> tokens = {0, 1, 255, 256, 65535, 42, 7};
  ASSERT_EQ(errorMessage(writeTokenFile(path, tokens)), "");

  std::string bytes = readFile(path);
  ASSERT_EQ(bytes.size(), 1024 + 2 * tokens.size());
  EXPECT_EQ(llvm::support::endian::read32le(bytes.data()), 20240520u);
  EXPECT_EQ(llvm::support::endian::read32le(bytes.data() + 4), 1u);
  EXPECT_EQ(llvm::support::endian::read32le(bytes.data() + 8), 7u);
  for (size_t i = 3; i < 256; ++i)
    EXPECT_EQ(llvm::support::endian::read32le(bytes.data() + 4 * i), 0u);
  // Little-endian on disk, whatever the host.
  EXPECT_EQ(uint8_t(bytes[1024 + 2 * 3]), 0x00);
  EXPECT_EQ(uint8_t(bytes[1024 + 2 * 3 + 1]), 0x01);

  std::unique_ptr<TokenFile> file = openOrFail(path);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->name(), path);
  ASSERT_EQ(file->size(), tokens.size());
  EXPECT_EQ(readAll(*file), std::vector<int32_t>(tokens.begin(), tokens.end()));
  std::vector<int32_t> middle(3);
  file->read(2, middle);
  EXPECT_EQ(middle, (std::vector<int32_t>{255, 256, 65535}));
  EXPECT_EQ(dir.list(), std::vector<std::string>{"tokens.bin"});
}

TEST(TokenFileTest, EmptyAndLargeFiles) {
  ScratchDir dir;
  ASSERT_EQ(errorMessage(writeTokenFile(dir.file("empty.bin"), {})), "");
  std::unique_ptr<TokenFile> empty = openOrFail(dir.file("empty.bin"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 0u);

  // Larger than the writer's conversion chunk and the file's write buffer.
  std::vector<uint16_t> tokens(1'500'000);
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<uint16_t>(i * 2654435761u >> 16);
  ASSERT_EQ(errorMessage(writeTokenFile(dir.file("big.bin"), tokens)), "");
  std::unique_ptr<TokenFile> big = openOrFail(dir.file("big.bin"));
  ASSERT_TRUE(big);
  EXPECT_EQ(readAll(*big), std::vector<int32_t>(tokens.begin(), tokens.end()));
}

TEST(TokenFileTest, TruncationAtEveryOffsetIsReported) {
  ScratchDir dir;
  std::string good = dir.file("good.bin");
  ASSERT_EQ(errorMessage(writeTokenFile(good, iota(20))), "");
  std::string bytes = readFile(good);
  std::string path = dir.file("cut.bin");
  for (size_t size = 0; size < bytes.size(); ++size) {
    writeFile(path, bytes.substr(0, size));
    std::string message = openError(path);
    if (size < 1024)
      expectMessage(message,
                    {"token file '" + path + "'", "expected a 1024-byte header",
                     "only " + std::to_string(size) + " bytes"});
    else
      expectMessage(message,
                    {"token file '" + path + "'", "20 tokens",
                     "should be 1064 bytes",
                     "it is " + std::to_string(size) + " bytes", "truncated"});
  }
}

TEST(TokenFileTest, TrailingGarbageIsReported) {
  ScratchDir dir;
  std::string path = dir.file("tokens.bin");
  ASSERT_EQ(errorMessage(writeTokenFile(path, iota(20))), "");
  writeFile(path, readFile(path) + "x");
  expectMessage(openError(path), {path, "should be 1064 bytes",
                                  "it is 1065 bytes", "trailing data"});
}

TEST(TokenFileTest, BadHeaderFieldsAreReported) {
  ScratchDir dir;
  std::string path = dir.file("tokens.bin");
  ASSERT_EQ(errorMessage(writeTokenFile(path, iota(4))), "");
  std::string bytes = readFile(path);

  auto withInt = [&](size_t index, uint32_t value) {
    std::string copy = bytes;
    llvm::support::endian::write32le(&copy[4 * index], value);
    writeFile(path, copy);
    return openError(path);
  };
  expectMessage(withInt(0, 20240521),
                {path, "expected magic number 20240520", "found 20240521"});
  // The magic read with the wrong byte order.
  expectMessage(withInt(0, 0x58d13401), {"expected magic number"});
  expectMessage(withInt(1, 2), {path, "expected version 1", "found 2"});
  expectMessage(withInt(2, 5), {path, "5 tokens", "should be 1034 bytes",
                                "it is 1032 bytes", "truncated"});
  expectMessage(withInt(2, 3), {"trailing data"});
  expectMessage(withInt(2, 0xffffffff), {path, "negative token count (-1)"});

  // Every single-byte corruption of the three fields is caught.
  for (size_t offset = 0; offset < 12; ++offset) {
    std::string copy = bytes;
    copy[offset] ^= 0x5a;
    writeFile(path, copy);
    EXPECT_NE(openError(path), "") << "flipped byte " << offset;
  }
}

TEST(TokenFileTest, MissingFileIsReported) {
  ScratchDir dir;
  std::string path = dir.file("absent.bin");
  expectMessage(openError(path), {"cannot open token file", path});
}

TEST(TokenFileTest, FailedWriteKeepsTheOldFile) {
  ScratchDir dir;
  std::string path = dir.file("sub");
  // The directory of the target is missing: nothing is created anywhere.
  expectMessage(errorMessage(writeTokenFile(path + "/x/tokens.bin", iota(3))),
                {"cannot create", "tokens.bin"});
  std::string target = dir.file("tokens.bin");
  ASSERT_EQ(errorMessage(writeTokenFile(target, iota(3))), "");
  // The temporary name the writer would use is a directory: the write fails
  // before the rename and the previous file survives.
  std::string temp = target + ".tmp." + std::to_string(::getpid());
  ASSERT_FALSE(llvm::sys::fs::create_directory(temp));
  EXPECT_NE(errorMessage(writeTokenFile(target, iota(10))), "");
  std::unique_ptr<TokenFile> file = openOrFail(target);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->size(), 3u);
}

//===----------------------------------------------------------------------===//
// Byte tokenizer
//===----------------------------------------------------------------------===//

TEST(ByteTokenizerTest, EveryByteRoundTrips) {
  std::string text;
  for (int repeat = 0; repeat < 3; ++repeat)
    for (int byte = 0; byte < 256; ++byte)
      text.push_back(static_cast<char>(byte));
  std::vector<uint16_t> tokens = bytes::encode(text);
  ASSERT_EQ(tokens.size(), text.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    EXPECT_EQ(tokens[i], i % 256);
  llvm::Expected<std::string> back = bytes::decode(tokens);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(*back, text);
}

TEST(ByteTokenizerTest, ArbitraryBytesRoundTripThroughATokenFile) {
  ScratchDir dir;
  std::string text;
  uint32_t state = 12345;
  for (int i = 0; i < 100000; ++i) {
    state = state * 1664525u + 1013904223u;
    text.push_back(static_cast<char>(state >> 24));
  }
  std::string path = dir.file("bytes.bin");
  ASSERT_EQ(errorMessage(writeTokenFile(path, bytes::encode(text))), "");
  std::unique_ptr<TokenFile> file = openOrFail(path);
  ASSERT_TRUE(file);
  llvm::Expected<std::string> back = bytes::decode(*file);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(*back, text);
  EXPECT_TRUE(bytes::encode("").empty());
}

TEST(ByteTokenizerTest, DecodeRejectsNonBytes) {
  std::vector<uint16_t> tokens = {104, 105, 256, 0};
  llvm::Expected<std::string> text = bytes::decode(tokens);
  ASSERT_FALSE(bool(text));
  expectMessage(llvm::toString(text.takeError()),
                {"token 256 at position 2", "0..255"});
  TokenBuffer source("buffer", {1, 2, 3, 300});
  llvm::Expected<std::string> fromSource = bytes::decode(source);
  ASSERT_FALSE(bool(fromSource));
  expectMessage(llvm::toString(fromSource.takeError()),
                {"'buffer'", "token 300 at position 3"});
}

//===----------------------------------------------------------------------===//
// Synthetic tokens
//===----------------------------------------------------------------------===//

TEST(SyntheticTokensTest, SeedDeterminesTheStream) {
  SyntheticTokenOptions options;
  options.seed = 7;
  options.numTokens = 5000;
  options.vocabSize = 50;
  llvm::Expected<TokenBuffer> a = makeSyntheticTokens(options);
  llvm::Expected<TokenBuffer> b = makeSyntheticTokens(options);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->tokens(), b->tokens());
  options.seed = 8;
  llvm::Expected<TokenBuffer> c = makeSyntheticTokens(options);
  ASSERT_TRUE(bool(c));
  EXPECT_NE(a->tokens(), c->tokens());
  for (uint16_t token : a->tokens())
    EXPECT_LT(token, 50u);
  // Pinned so that a change of generator, which would silently change every
  // test and smoke run built on it, is noticed.
  std::vector<uint16_t> head(a->tokens().begin(), a->tokens().begin() + 8);
  EXPECT_EQ(head, (std::vector<uint16_t>{32, 44, 10, 12, 46, 26, 11, 28}));
}

TEST(SyntheticTokensTest, FollowsTheDocumentedDistribution) {
  SyntheticTokenOptions options;
  options.seed = 3;
  options.numTokens = 200000;
  options.vocabSize = 64;
  options.noise = 0.25;
  llvm::Expected<TokenBuffer> source = makeSyntheticTokens(options);
  ASSERT_TRUE(bool(source));
  llvm::ArrayRef<uint16_t> tokens = source->tokens();

  // The most frequent successor of each token is its permutation image; it
  // must be hit with probability 1 - noise + noise / V, and form a bijection.
  std::vector<std::vector<uint32_t>> counts(64, std::vector<uint32_t>(64));
  for (size_t i = 1; i < tokens.size(); ++i)
    ++counts[tokens[i - 1]][tokens[i]];
  std::vector<bool> used(64);
  uint64_t hits = 0;
  for (size_t t = 0; t < 64; ++t) {
    size_t best = std::max_element(counts[t].begin(), counts[t].end()) -
                  counts[t].begin();
    EXPECT_FALSE(used[best]) << "two tokens share a successor";
    used[best] = true;
    hits += counts[t][best];
  }
  double expected = 1 - 0.25 + 0.25 / 64;
  EXPECT_NEAR(double(hits) / (tokens.size() - 1), expected, 0.01);

  // The empirical conditional entropy matches the closed form.
  double entropy = 0;
  for (size_t t = 0; t < 64; ++t) {
    double total = std::accumulate(counts[t].begin(), counts[t].end(), 0.0);
    for (uint32_t count : counts[t])
      if (count)
        entropy -= count / double(tokens.size() - 1) * std::log(count / total);
  }
  EXPECT_NEAR(entropy, syntheticTokenEntropy(64, 0.25), 0.02);
}

TEST(SyntheticTokensTest, NoiselessStreamCyclesThroughTheVocabulary) {
  SyntheticTokenOptions options;
  options.seed = 9;
  options.numTokens = 2 * 97 + 1;
  options.vocabSize = 97;
  options.noise = 0.0;
  llvm::Expected<TokenBuffer> source = makeSyntheticTokens(options);
  ASSERT_TRUE(bool(source));
  llvm::ArrayRef<uint16_t> tokens = source->tokens();
  std::vector<uint16_t> firstCycle(tokens.begin(), tokens.begin() + 97);
  std::sort(firstCycle.begin(), firstCycle.end());
  EXPECT_EQ(firstCycle, iota(97));
  for (size_t i = 97; i < tokens.size(); ++i)
    EXPECT_EQ(tokens[i], tokens[i - 97]);
}

TEST(SyntheticTokensTest, EntropyAtTheExtremes) {
  EXPECT_DOUBLE_EQ(syntheticTokenEntropy(256, 0.0), 0.0);
  EXPECT_NEAR(syntheticTokenEntropy(256, 1.0), std::log(256.0), 1e-12);
}

TEST(SyntheticTokensTest, BadOptionsAreReported) {
  SyntheticTokenOptions options;
  options.vocabSize = 0;
  expectMessage(errorMessage(makeSyntheticTokens(options).takeError()),
                {"vocabulary size 0"});
  options.vocabSize = 65537;
  expectMessage(errorMessage(makeSyntheticTokens(options).takeError()),
                {"vocabulary size 65537"});
  options.vocabSize = 10;
  options.noise = 1.5;
  expectMessage(errorMessage(makeSyntheticTokens(options).takeError()),
                {"noise 1.5"});
  options.noise = std::nan("");
  EXPECT_NE(errorMessage(makeSyntheticTokens(options).takeError()), "");
}

//===----------------------------------------------------------------------===//
// Batch loader
//===----------------------------------------------------------------------===//

BatchLoader makeLoader(const TokenSource &source, uint32_t batchSize,
                       uint32_t seqLen) {
  llvm::Expected<BatchLoader> loader =
      BatchLoader::create(source, batchSize, seqLen);
  EXPECT_TRUE(bool(loader)) << llvm::toString(loader.takeError());
  return std::move(*loader);
}

TEST(BatchLoaderTest, TargetsAreInputsShiftedByOne) {
  TokenBuffer source("iota", iota(100));
  BatchLoader loader = makeLoader(source, 2, 5);
  Batch batch = loader.next();
  EXPECT_EQ(batch.inputs, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(batch.targets,
            (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(loader.position(), 10u);
  batch = loader.next();
  EXPECT_EQ(batch.inputs[0], 10);
  EXPECT_EQ(batch.targets[9], 20);
}

TEST(BatchLoaderTest, WrapsToTheStartWhenAWindowDoesNotFit) {
  // 10 tokens, windows of 5: rows start at 0, 4, then 8 + 5 > 10 wraps to 0.
  TokenBuffer source("iota", iota(10));
  BatchLoader loader = makeLoader(source, 3, 4);
  Batch batch = loader.next();
  EXPECT_EQ(batch.inputs,
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3}));
  EXPECT_EQ(batch.targets,
            (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4}));
  EXPECT_EQ(loader.position(), 4u);
  // The source is exactly T + 1 tokens long: every row is the whole source.
  TokenBuffer tight("tight", iota(5));
  BatchLoader tightLoader = makeLoader(tight, 2, 4);
  for (int step = 0; step < 3; ++step) {
    Batch b = tightLoader.next();
    EXPECT_EQ(b.inputs, (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 3}));
    EXPECT_EQ(b.targets, (std::vector<int32_t>{1, 2, 3, 4, 1, 2, 3, 4}));
  }
}

TEST(BatchLoaderTest, DeterministicOverAFile) {
  ScratchDir dir;
  SyntheticTokenOptions options;
  options.seed = 11;
  options.numTokens = 3001;
  llvm::Expected<TokenBuffer> synthetic = makeSyntheticTokens(options);
  ASSERT_TRUE(bool(synthetic));
  std::string path = dir.file("synthetic.bin");
  ASSERT_EQ(errorMessage(writeTokenFile(path, synthetic->tokens())), "");
  std::unique_ptr<TokenFile> file = openOrFail(path);
  ASSERT_TRUE(file);

  // The file and the in-memory stream it was written from give equal batches.
  BatchLoader fromFile = makeLoader(*file, 4, 64);
  BatchLoader fromMemory = makeLoader(*synthetic, 4, 64);
  for (int step = 0; step < 50; ++step) {
    Batch a = fromFile.next();
    Batch b = fromMemory.next();
    ASSERT_EQ(a.inputs, b.inputs) << "step " << step;
    ASSERT_EQ(a.targets, b.targets) << "step " << step;
  }
}

TEST(BatchLoaderTest, ResumedRunSeesTheSameBatches) {
  SyntheticTokenOptions options;
  options.seed = 5;
  options.numTokens = 1000;
  llvm::Expected<TokenBuffer> source = makeSyntheticTokens(options);
  ASSERT_TRUE(bool(source));
  // Uneven sizes, so that wraps land at different phases of the batch.
  constexpr int kSteps = 40;
  BatchLoader uninterrupted = makeLoader(*source, 3, 37);
  std::vector<Batch> reference;
  std::vector<uint64_t> positions;
  for (int step = 0; step < kSteps; ++step) {
    positions.push_back(uninterrupted.position());
    reference.push_back(uninterrupted.next());
  }
  for (int stop = 0; stop < kSteps; ++stop) {
    BatchLoader resumed = makeLoader(*source, 3, 37);
    ASSERT_EQ(errorMessage(resumed.setPosition(positions[stop])), "");
    for (int step = stop; step < kSteps; ++step) {
      Batch batch = resumed.next();
      ASSERT_EQ(batch.inputs, reference[step].inputs)
          << "resumed at " << stop << ", step " << step;
      ASSERT_EQ(batch.targets, reference[step].targets);
    }
  }
}

TEST(BatchLoaderTest, ErrorsAreReported) {
  TokenBuffer source("tiny", iota(8));
  auto createError = [&](uint32_t b, uint32_t t,
                         std::optional<uint32_t> vocab = std::nullopt) {
    return errorMessage(BatchLoader::create(source, b, t, vocab).takeError());
  };
  expectMessage(createError(1, 8), {"'tiny'", "sequence length of 8",
                                    "at least 9 tokens", "holds 8"});
  EXPECT_EQ(createError(1, 7), "");
  expectMessage(createError(0, 4), {"batch size (0)", "must be positive"});
  expectMessage(createError(2, 0), {"sequence length (0)"});
  expectMessage(createError(1, 4, 5),
                {"'tiny'", "token 5 at position 5", "vocabulary of 5"});
  EXPECT_EQ(createError(1, 4, 8), "");

  BatchLoader loader = makeLoader(source, 1, 4);
  expectMessage(errorMessage(loader.setPosition(8)),
                {"'tiny'", "position 8", "only 8 tokens"});
  EXPECT_EQ(errorMessage(loader.setPosition(7)), "");
  // Position 7 cannot hold a window; the next row wraps to the start.
  EXPECT_EQ(loader.next().inputs, (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST(BatchLoaderTest, VocabularyCheckNamesThePositionInAFile) {
  ScratchDir dir;
  std::vector<uint16_t> tokens(100000, 3);
  tokens[77777] = 50257;
  std::string path = dir.file("tokens.bin");
  ASSERT_EQ(errorMessage(writeTokenFile(path, tokens)), "");
  std::unique_ptr<TokenFile> file = openOrFail(path);
  ASSERT_TRUE(file);
  expectMessage(
      errorMessage(BatchLoader::create(*file, 4, 16, 50257).takeError()),
      {path, "token 50257 at position 77777", "vocabulary of 50257"});
}

} // namespace
