//===- ByteTokenizer.cpp - One token per byte -----------------------------===//

#include "strata/Runtime/Data.h"

using namespace strata::runtime;

std::vector<uint16_t> bytes::encode(llvm::StringRef text) {
  std::vector<uint16_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i)
    tokens[i] = static_cast<unsigned char>(text[i]);
  return tokens;
}

llvm::Expected<std::string> bytes::decode(llvm::ArrayRef<uint16_t> tokens) {
  std::string text(tokens.size(), '\0');
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= kVocabSize)
      return llvm::createStringError(
          "token %u at position %zu is not a byte (the byte tokenizer's "
          "vocabulary is 0..255)",
          unsigned(tokens[i]), i);
    text[i] = static_cast<char>(tokens[i]);
  }
  return text;
}

llvm::Expected<std::string> bytes::decode(const TokenSource &source) {
  std::string text;
  text.reserve(source.size());
  std::vector<int32_t> chunk(1 << 16);
  for (uint64_t begin = 0; begin < source.size(); begin += chunk.size()) {
    size_t count = std::min<uint64_t>(chunk.size(), source.size() - begin);
    source.read(begin, llvm::MutableArrayRef<int32_t>(chunk.data(), count));
    for (size_t i = 0; i < count; ++i) {
      if (uint32_t(chunk[i]) >= kVocabSize)
        return llvm::createStringError(
            "'%s': token %d at position %llu is not a byte (the byte "
            "tokenizer's vocabulary is 0..255)",
            source.name().str().c_str(), chunk[i],
            static_cast<unsigned long long>(begin + i));
      text.push_back(static_cast<char>(chunk[i]));
    }
  }
  return text;
}
