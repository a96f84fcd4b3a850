//===- CheckpointTest.cpp - safetensors checkpoints -----------------------===//

#include "strata/Runtime/Checkpoint.h"

#include "TestFiles.h"

#include "llvm/Support/Endian.h"

using namespace strata::runtime;
using namespace strata::runtime::testing;

namespace {

std::string checkpointError(const std::string &path) {
  llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
  return checkpoint ? "" : llvm::toString(checkpoint.takeError());
}

/// A safetensors file with the given header text and data section.
std::string safetensorsFile(const std::string &header,
                            const std::string &data = "") {
  std::string bytes(8, '\0');
  llvm::support::endian::write64le(&bytes[0], header.size());
  return bytes + header + data;
}

TEST(DTypeTest, NamesAndSizes) {
  EXPECT_EQ(dtypeName(DType::F8_E4M3), "F8_E4M3");
  EXPECT_EQ(dtypeName(DType::BF16), "BF16");
  EXPECT_EQ(dtypeSize(DType::F8_E5M2), 1u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  for (DType dtype : kAllDTypes)
    EXPECT_EQ(parseDType(dtypeName(dtype)), dtype);
  EXPECT_EQ(parseDType("f32"), std::nullopt);
  EXPECT_EQ(parseDType("F4"), std::nullopt);
}

TEST(MetadataTest, TypedGettersValidate) {
  Metadata metadata;
  metadata.setStep(1234);
  metadata.setDataPosition(18446744073709551615ull);
  metadata.set("bad", "12a");
  metadata.set("negative", "-1");
  metadata.set("hex", "0x10");
  metadata.set("huge", "18446744073709551616");
  metadata.set("empty", "");
  EXPECT_EQ(metadata.get(kStepKey), llvm::StringRef("1234"));
  llvm::Expected<uint64_t> step = metadata.step();
  ASSERT_TRUE(bool(step));
  EXPECT_EQ(*step, 1234u);
  llvm::Expected<uint64_t> position = metadata.dataPosition();
  ASSERT_TRUE(bool(position));
  EXPECT_EQ(*position, 18446744073709551615ull);
  for (const char *key : {"bad", "negative", "hex", "huge", "empty"})
    expectMessage(errorMessage(metadata.getUInt(key).takeError()),
                  {"metadata '" + std::string(key) + "'",
                   "not an unsigned 64-bit decimal integer"});
  expectMessage(errorMessage(metadata.getUInt("absent").takeError()),
                {"no 'absent' entry"});
}

TEST(CheckpointTest, RoundTripsEveryDTypeAndTheMetadata) {
  ScratchDir dir;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<TensorRef> tensors;
  size_t k = 0;
  for (DType dtype : kAllDTypes) {
    TensorRef tensor;
    tensor.name = "layer." + dtypeName(dtype).lower() + ".weight";
    tensor.dtype = dtype;
    tensor.shape = {2, int64_t(k) + 1, 3};
    storage.push_back(patternBytes(dtype, k, 6 * (k + 1) * dtypeSize(dtype)));
    tensors.push_back(std::move(tensor));
    ++k;
  }
  TensorRef scalar{"scalar", DType::F32, {}, {}};
  storage.push_back(patternBytes(DType::U8, 99, 4));
  tensors.push_back(scalar);
  TensorRef empty{"empty", DType::BF16, {0, 5}, {}};
  storage.push_back({});
  tensors.push_back(empty);
  for (size_t i = 0; i < tensors.size(); ++i)
    tensors[i].data = storage[i];

  Metadata metadata;
  metadata.setStep(42);
  metadata.setDataPosition(123456789012ull);
  metadata.set("format", "pt");
  metadata.set("note", "h\xc3\xa9llo \"quoted\"\n");

  std::string path = dir.file("ckpt.safetensors");
  ASSERT_EQ(errorMessage(writeCheckpoint(path, tensors, metadata)), "");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"ckpt.safetensors"});

  std::string bytes = readFile(path);
  uint64_t headerLength = llvm::support::endian::read64le(bytes.data());
  EXPECT_EQ(headerLength % 8, 0u) << "data section should be 8-byte aligned";
  EXPECT_EQ(bytes[8], '{');

  llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->path(), path);
  ASSERT_EQ(checkpoint->tensors().size(), tensors.size());
  // In offset order, which is the order they were written in.
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry &entry = checkpoint->tensors()[i];
    EXPECT_EQ(entry.name, tensors[i].name);
    EXPECT_EQ(entry.dtype, tensors[i].dtype);
    EXPECT_EQ(entry.shape, tensors[i].shape);
    EXPECT_EQ(entry.data, llvm::ArrayRef<uint8_t>(storage[i])) << entry.name;
  }
  EXPECT_EQ(checkpoint->find("scalar")->numElements, 1u);
  EXPECT_EQ(checkpoint->find("empty")->numElements, 0u);
  EXPECT_EQ(checkpoint->find("absent"), nullptr);

  const Metadata &read = checkpoint->metadata();
  EXPECT_EQ(read.entries(), metadata.entries());
  llvm::Expected<uint64_t> step = read.step();
  ASSERT_TRUE(bool(step));
  EXPECT_EQ(*step, 42u);
  llvm::Expected<uint64_t> position = read.dataPosition();
  ASSERT_TRUE(bool(position));
  EXPECT_EQ(*position, 123456789012ull);
  // A typed getter's error names the file it came from.
  expectMessage(errorMessage(read.getUInt("format").takeError()),
                {"checkpoint '" + path + "'", "metadata 'format' is 'pt'"});
}

TEST(CheckpointTest, ReadIntoABufferChecksTypeAndShape) {
  ScratchDir dir;
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 5.0f, 6.0f};
  TensorRef tensor{"w",
                   DType::F32,
                   {2, 3},
                   {reinterpret_cast<const uint8_t *>(values.data()),
                    values.size() * sizeof(float)}};
  std::string path = dir.file("ckpt.safetensors");
  ASSERT_EQ(errorMessage(writeCheckpoint(path, {tensor}, Metadata())), "");
  llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_TRUE(checkpoint->metadata().empty());

  std::vector<float> out(6, -1.0f);
  llvm::MutableArrayRef<uint8_t> outBytes(
      reinterpret_cast<uint8_t *>(out.data()), out.size() * sizeof(float));
  ASSERT_EQ(errorMessage(checkpoint->read("w", DType::F32, {2, 3}, outBytes)),
            "");
  EXPECT_EQ(out, values);
  expectMessage(
      errorMessage(checkpoint->read("v", DType::F32, {2, 3}, outBytes)),
      {path, "tensor 'v'", "not found"});
  expectMessage(
      errorMessage(checkpoint->read("w", DType::BF16, {2, 3}, outBytes)),
      {"tensor 'w'", "is F32, expected BF16"});
  expectMessage(
      errorMessage(checkpoint->read("w", DType::F32, {3, 2}, outBytes)),
      {"has shape [2, 3], expected [3, 2]"});
  expectMessage(errorMessage(checkpoint->read("w", DType::F32, {2, 3},
                                              outBytes.drop_back(4))),
                {"holds 24 bytes, but the destination holds 20"});
}

TEST(CheckpointTest, WriterRejectsBadTensorsBeforeTouchingTheDisk) {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  std::vector<uint8_t> bytes(24);
  auto writeError = [&](std::vector<TensorRef> tensors,
                        const Metadata &metadata = Metadata()) {
    return errorMessage(writeCheckpoint(path, tensors, metadata));
  };
  TensorRef good{"a", DType::F32, {2, 3}, bytes};
  expectMessage(
      writeError({good, good}),
      {"cannot write checkpoint '" + path + "'", "two tensors are named 'a'"});
  TensorRef unnamed = good;
  unnamed.name = "";
  expectMessage(writeError({unnamed}), {"empty name"});
  TensorRef reserved = good;
  reserved.name = "__metadata__";
  expectMessage(writeError({reserved}), {"'__metadata__' is reserved"});
  TensorRef badUtf8 = good;
  badUtf8.name = "w\xff";
  expectMessage(writeError({badUtf8}), {"not valid UTF-8"});
  TensorRef wrongSize = good;
  wrongSize.dtype = DType::F16;
  expectMessage(writeError({wrongSize}),
                {"tensor 'a'", "shape [2, 3] of F16", "needs 12 bytes",
                 "24 bytes were given"});
  TensorRef negative = good;
  negative.shape = {-2, -3};
  expectMessage(writeError({negative}), {"negative dimension"});
  TensorRef overflow = good;
  overflow.shape = {int64_t(1) << 40, int64_t(1) << 40};
  expectMessage(writeError({overflow}), {"overflows 64 bits"});
  Metadata badMetadata;
  badMetadata.set("key", "\xc3");
  expectMessage(writeError({good}, badMetadata),
                {"metadata entry 'key'", "not valid UTF-8"});
  EXPECT_TRUE(dir.list().empty());
}

TEST(CheckpointTest, FailedWriteKeepsThePreviousCheckpoint) {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  std::vector<uint8_t> small = patternBytes(DType::U8, 1, 64);
  Metadata metadata;
  metadata.setStep(100);
  ASSERT_EQ(errorMessage(writeCheckpoint(
                path, {TensorRef{"w", DType::U8, {64}, small}}, metadata)),
            "");
  std::string before = readFile(path);

  std::vector<uint8_t> large = patternBytes(DType::U8, 2, 8 << 20);
  metadata.setStep(200);
  std::string message;
  {
    FileSizeLimit limit(1 << 20);
    message = errorMessage(writeCheckpoint(
        path, {TensorRef{"w", DType::U8, {8 << 20}, large}}, metadata));
  }
  expectMessage(message, {"cannot write", path, "File too large"});
  EXPECT_EQ(readFile(path), before);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"ckpt.safetensors"});
  llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  llvm::Expected<uint64_t> step = checkpoint->metadata().step();
  ASSERT_TRUE(bool(step));
  EXPECT_EQ(*step, 100u);
}

//===----------------------------------------------------------------------===//
// Reader validation
//===----------------------------------------------------------------------===//

class CheckpointValidationTest : public ::testing::Test {
protected:
  void SetUp() override {
    path = dir.file("ckpt.safetensors");
    std::vector<uint8_t> a = patternBytes(DType::U8, 1, 24),
                         b = patternBytes(DType::U8, 2, 8);
    Metadata metadata;
    metadata.setStep(7);
    ASSERT_EQ(
        errorMessage(writeCheckpoint(path,
                                     {TensorRef{"a", DType::F32, {2, 3}, a},
                                      TensorRef{"b", DType::I64, {1}, b}},
                                     metadata)),
        "");
    good = readFile(path);
  }

  /// The error of opening `bytes` written to the checkpoint path.
  std::string errorFor(const std::string &bytes) {
    writeFile(path, bytes);
    return checkpointError(path);
  }

  ScratchDir dir;
  std::string path;
  std::string good;
};

TEST_F(CheckpointValidationTest, TruncationAtEveryOffsetIsReported) {
  uint64_t headerLength = llvm::support::endian::read64le(good.data());
  for (size_t size = 0; size < good.size(); ++size) {
    std::string message = errorFor(good.substr(0, size));
    std::string where = "checkpoint '" + path + "'";
    if (size < 8)
      expectMessage(message, {where, "too short for the 8-byte header length"});
    else if (size < 8 + headerLength)
      expectMessage(
          message, {where, "header length is " + std::to_string(headerLength)});
    else
      expectMessage(message, {where, "run past the end of the data section"});
  }
}

TEST_F(CheckpointValidationTest, TrailingBytesAreReported) {
  expectMessage(errorFor(good + "xyz"),
                {path, "3 trailing bytes after the last tensor"});
}

TEST_F(CheckpointValidationTest, CorruptHeaderLengthIsReported) {
  for (size_t byte = 0; byte < 8; ++byte)
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string bytes = good;
      bytes[byte] ^= flip;
      EXPECT_NE(errorFor(bytes), "") << "byte " << byte << " ^ " << int(flip);
    }
  std::string bytes = good;
  llvm::support::endian::write64le(&bytes[0], ~uint64_t(0));
  expectMessage(errorFor(bytes),
                {"header length is 18446744073709551615 bytes"});
}

TEST_F(CheckpointValidationTest, AnySingleByteCorruptionIsHandled) {
  // Flipping a byte of the JSON may or may not leave a valid checkpoint (a
  // renamed tensor is still valid); it must never crash or over-read.
  size_t headerEnd = 8 + llvm::support::endian::read64le(good.data());
  for (size_t byte = 8; byte < headerEnd; ++byte)
    for (uint8_t flip : {0x01, 0x20, 0x80}) {
      std::string bytes = good;
      bytes[byte] ^= flip;
      writeFile(path, bytes);
      llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
      if (checkpoint) {
        for (const TensorEntry &entry : checkpoint->tensors())
          EXPECT_LE(entry.data.end(), checkpoint->tensors().back().data.end());
      } else {
        expectMessage(llvm::toString(checkpoint.takeError()), {path});
      }
    }
}

TEST_F(CheckpointValidationTest, HeaderFaultsAreReported) {
  std::string data(32, '\0');
  auto entry = [](const char *name, const char *dtype, const char *shape,
                  const char *offsets) {
    return std::string("\"") + name + "\":{\"dtype\":\"" + dtype +
           "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
  };
  std::string a = entry("a", "F32", "[2,3]", "[0,24]");
  std::string b = entry("b", "I64", "[1]", "[24,32]");
  // Sanity: the handmade header is valid.
  EXPECT_EQ(errorFor(safetensorsFile("{" + a + "," + b + "}", data)), "");

  struct Case {
    std::string header;
    std::vector<std::string> parts;
  };
  std::vector<Case> cases = {
      {"{" + a + "," + b, {"not valid JSON"}},
      {"", {"not valid JSON"}},
      {"[1,2]", {"not a JSON object"}},
      {"{\"a\":5}", {"tensor 'a'", "not a JSON object"}},
      {"{" + a + ",\"b\":{\"shape\":[1],\"data_offsets\":[24,32]}}",
       {"tensor 'b'", "no string 'dtype'"}},
      {"{" + a + "," + entry("b", "F4", "[1]", "[24,32]") + "}",
       {"tensor 'b'", "unknown dtype 'F4'"}},
      {"{" + a + ",\"b\":{\"dtype\":\"I64\",\"data_offsets\":[24,32]}}",
       {"tensor 'b'", "no 'shape' array"}},
      {"{" + a + "," + entry("b", "I64", "[-1]", "[24,32]") + "}",
       {"tensor 'b'", "shape[0] is not a non-negative integer"}},
      {"{" + a + "," + entry("b", "I64", "[\"1\"]", "[24,32]") + "}",
       {"shape[0] is not a non-negative integer"}},
      {"{" + a + "," + entry("b", "I64", "[4294967296,4294967296]", "[24,32]") +
           "}",
       {"tensor 'b'", "more elements than fit in 64 bits"}},
      {"{" + a + "," + entry("b", "I64", "[1]", "[24]") + "}",
       {"tensor 'b'", "not an array of two integers"}},
      {"{" + a + "," + entry("b", "I64", "[1]", "[-8,0]") + "}",
       {"tensor 'b'", "not non-negative integers"}},
      {"{" + a + "," + entry("b", "I64", "[1]", "[32,24]") + "}",
       {"tensor 'b'", "[32, 24] end before they begin"}},
      {"{" + a + "," + entry("b", "I64", "[2]", "[24,32]") + "}",
       {"tensor 'b'", "shape [2] of I64 needs 16 bytes",
        "data_offsets [24, 32] span 8"}},
      {"{" + a + "," + entry("b", "I64", "[1]", "[32,40]") + "}",
       {"tensor 'b'", "[32, 40] run past the end of the data section (32 "
                      "bytes)"}},
      {"{" + a + "," + entry("b", "I64", "[1]", "[16,24]") + "}",
       {"tensor 'b'", "[16, 24] overlap those of tensor 'a' [0, 24]"}},
      {"{" + entry("a", "F32", "[2,3]", "[8,32]") + "," +
           entry("b", "I64", "[1]", "[0,8]") + "," +
           entry("c", "U8", "[8]", "[0,8]") + "}",
       {"tensor 'c'", "[0, 8] overlap those of tensor 'b' [0, 8]"}},
      {"{" + entry("a", "F32", "[2,3]", "[8,32]") + "}",
       {"tensor 'a'", "leave bytes [0, 8) of the data section unused"}},
      {"{" + a + "}", {"8 trailing bytes after the last tensor"}},
      {"{}", {"32 trailing bytes"}},
      {"{\"__metadata__\":[1]," + a + "," + b + "}",
       {"'__metadata__' is not a JSON object"}},
      {"{\"__metadata__\":{\"strata.step\":7}," + a + "," + b + "}",
       {"metadata 'strata.step' is not a string"}},
  };
  for (const Case &c : cases) {
    std::string message = errorFor(safetensorsFile(c.header, data));
    SCOPED_TRACE(c.header);
    expectMessage(message, {"checkpoint '" + path + "'"});
    for (const std::string &part : c.parts)
      expectMessage(message, {part});
  }
}

TEST_F(CheckpointValidationTest, ForeignLayoutsAreAccepted) {
  // Other writers order entries differently, pad with spaces, and may put
  // tensors in an order other than the header's.
  std::string header =
      "{\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
      "\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}   ";
  std::string data(32, '\x01');
  ASSERT_EQ(errorFor(safetensorsFile(header, data)), "");
  llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  ASSERT_EQ(checkpoint->tensors().size(), 2u);
  EXPECT_EQ(checkpoint->tensors()[0].name, "b");
  EXPECT_EQ(checkpoint->tensors()[1].name, "a");
  EXPECT_EQ(checkpoint->metadata().get("format"), llvm::StringRef("pt"));
  // No step was stored: the typed getter says so instead of returning 0.
  expectMessage(errorMessage(checkpoint->metadata().step().takeError()),
                {path, "no 'strata.step' entry"});
}

TEST_F(CheckpointValidationTest, MissingFileIsReported) {
  std::string absent = dir.file("absent.safetensors");
  expectMessage(checkpointError(absent),
                {"cannot open checkpoint '" + absent + "'"});
}

} // namespace
