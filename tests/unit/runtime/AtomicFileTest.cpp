//===- AtomicFileTest.cpp - Crash-safe file replacement -------------------===//

#include "strata/Runtime/AtomicFile.h"

#include "TestFiles.h"

using namespace strata::runtime;
using namespace strata::runtime::testing;

namespace {

TEST(AtomicFileTest, CommitReplacesTheFile) {
  ScratchDir dir;
  std::string path = dir.file("out.bin");
  writeFile(path, "old contents");
  llvm::Expected<AtomicFile> file = AtomicFile::create(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->temporaryPath().rfind(path + ".tmp.", 0), 0u);
  ASSERT_FALSE(errorMessage(file->write("new ")).size());
  ASSERT_FALSE(errorMessage(file->write(std::string(3 << 20, 'x'))).size());
  ASSERT_FALSE(errorMessage(file->write(" end")).size());
  // Until the commit, readers still see the old file.
  EXPECT_EQ(readFile(path), "old contents");
  ASSERT_EQ(errorMessage(file->commit()), "");
  EXPECT_EQ(readFile(path), "new " + std::string(3 << 20, 'x') + " end");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, AbandonedWriteLeavesTheOldFileAndNoTemporary) {
  ScratchDir dir;
  std::string path = dir.file("out.bin");
  writeFile(path, "old contents");
  {
    llvm::Expected<AtomicFile> file = AtomicFile::create(path);
    ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
    ASSERT_EQ(errorMessage(file->write(std::string(5 << 20, 'y'))), "");
    EXPECT_EQ(dir.list().size(), 2u);
    // Destroyed without commit: what a failure between write and rename does.
  }
  EXPECT_EQ(readFile(path), "old contents");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, MissingDirectoryIsAnError) {
  ScratchDir dir;
  std::string path = dir.file("no/such/dir/out.bin");
  expectMessage(errorMessage(writeFileAtomically(path, "x")),
                {"cannot create", path, "No such file or directory"});
}

TEST(AtomicFileTest, RenameFailureKeepsTheTarget) {
  ScratchDir dir;
  // A non-empty directory cannot be replaced by a file.
  std::string path = dir.file("target");
  ASSERT_FALSE(llvm::sys::fs::create_directory(path));
  writeFile(path + "/keep", "kept");
  expectMessage(errorMessage(writeFileAtomically(path, "data")),
                {"cannot rename", path});
  EXPECT_EQ(readFile(path + "/keep"), "kept");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"target"});
}

TEST(AtomicFileTest, WriteFailureKeepsTheOldFile) {
  ScratchDir dir;
  std::string path = dir.file("out.bin");
  writeFile(path, "old contents");
  std::string message;
  {
    FileSizeLimit limit(1 << 16);
    message =
        errorMessage(writeFileAtomically(path, std::string(4 << 20, 'z')));
  }
  expectMessage(message, {"cannot write", path, "File too large"});
  EXPECT_EQ(readFile(path), "old contents");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, UseAfterFailureIsAnError) {
  ScratchDir dir;
  std::string path = dir.file("out.bin");
  llvm::Expected<AtomicFile> file = AtomicFile::create(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  ASSERT_EQ(errorMessage(file->commit()), "");
  expectMessage(errorMessage(file->write("more")), {"already committed"});
  expectMessage(errorMessage(file->commit()), {"already committed"});
  EXPECT_EQ(readFile(path), "");
}

} // namespace
