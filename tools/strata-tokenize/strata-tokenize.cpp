//===- strata-tokenize.cpp - Text to token files and back -----------------===//
//
//   strata-tokenize input.txt -o tokens.bin          one token per byte
//   strata-tokenize --decode tokens.bin -o out.txt   the bytes back
//
// `-` names standard input or output. See docs/runtime-data.md.
//
//===----------------------------------------------------------------------===//

#include "strata/Runtime/Data.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace strata::runtime;

namespace {
llvm::cl::OptionCategory category("strata-tokenize options");

llvm::cl::opt<std::string> inputPath(llvm::cl::Positional,
                                     llvm::cl::desc("<input>"),
                                     llvm::cl::Required,
                                     llvm::cl::cat(category));
llvm::cl::opt<std::string>
    outputPath("o", llvm::cl::desc("Output file ('-' for standard output)"),
               llvm::cl::value_desc("path"), llvm::cl::cat(category));
llvm::cl::opt<bool>
    decodeMode("decode",
               llvm::cl::desc("Read a token file and write the bytes it "
                              "encodes, instead of the other way round"),
               llvm::cl::cat(category));

int fail(llvm::Error err) {
  llvm::WithColor::error(llvm::errs(), "strata-tokenize")
      << llvm::toString(std::move(err)) << "\n";
  return 1;
}

int encodeFile() {
  if (outputPath.empty() || outputPath == "-")
    return fail(llvm::createStringError(
        "a token file is binary: name it with -o <path>"));
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> input =
      llvm::MemoryBuffer::getFileOrSTDIN(inputPath, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!input)
    return fail(llvm::createStringError(
        input.getError(), "cannot read '%s': %s", inputPath.c_str(),
        input.getError().message().c_str()));
  std::vector<uint16_t> tokens = bytes::encode((*input)->getBuffer());
  if (llvm::Error err = writeTokenFile(outputPath, tokens))
    return fail(std::move(err));
  llvm::errs() << "wrote " << tokens.size() << " tokens (vocabulary "
               << bytes::kVocabSize << ") to " << outputPath << "\n";
  return 0;
}

int decodeFile() {
  llvm::Expected<std::unique_ptr<TokenFile>> tokens =
      TokenFile::open(inputPath);
  if (!tokens)
    return fail(tokens.takeError());
  llvm::Expected<std::string> text = bytes::decode(**tokens);
  if (!text)
    return fail(text.takeError());
  std::string path = outputPath.empty() ? "-" : outputPath.getValue();
  std::error_code ec;
  llvm::ToolOutputFile output(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return fail(llvm::createStringError(ec, "cannot write '%s': %s",
                                        path.c_str(), ec.message().c_str()));
  output.os() << *text;
  output.os().flush();
  if (output.os().has_error()) {
    std::error_code writeError = output.os().error();
    output.os().clear_error();
    return fail(llvm::createStringError(writeError, "cannot write '%s': %s",
                                        path.c_str(),
                                        writeError.message().c_str()));
  }
  output.keep();
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "Strata byte-level tokenizer: text to llm.c-style token files and "
      "back\n");
  return decodeMode ? decodeFile() : encodeFile();
}
