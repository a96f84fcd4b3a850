//===- SafetensorsInteropTest.cpp - Python's safetensors reads us, and back
//===//
//
// Runs only where `python3 -c "import safetensors"` works; skipped elsewhere.
// The Python side works on raw bytes (safetensors.deserialize/serialize_file),
// so it needs neither torch nor numpy and covers BF16 and FP8 too.
//
//===----------------------------------------------------------------------===//

#include "strata/Runtime/Checkpoint.h"

#include "TestFiles.h"

#include "llvm/Support/Program.h"

using namespace strata::runtime;
using namespace strata::runtime::testing;

namespace {

/// patternBytes must agree with `pattern` in kScript.
/// Tensor k is named "t<k>_<DTYPE>" with shape [2, k + 1]; we write k = 0..14,
/// Python writes k = 100..114, plus an empty tensor each.
constexpr const char *kScript = R"py(
import ctypes, sys
import safetensors

DTYPES = ["BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "U16", "I16", "F16",
          "BF16", "U32", "I32", "F32", "U64", "I64", "F64"]
SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2,
        "I16": 2, "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4,
        "U64": 8, "I64": 8, "F64": 8}

def pattern(dtype, k, n):
    if dtype == "BOOL":
        return bytes(i % 2 for i in range(n))
    return bytes((i * 7 + k * 13) % 251 for i in range(n))

def expected(base):
    out = {}
    for j, dtype in enumerate(DTYPES):
        k = base + j
        shape = [2, k + 1]
        out["t%d_%s" % (k, dtype)] = (dtype, shape,
                                       pattern(dtype, k, 2 * (k + 1) * SIZE[dtype]))
    out["empty"] = ("F32", [0, 3], b"")
    return out

ours, theirs = sys.argv[1], sys.argv[2]

# Read what Strata wrote.
with open(ours, "rb") as f:
    got = dict(safetensors.deserialize(f.read()))
want = expected(0)
assert sorted(got) == sorted(want), (sorted(got), sorted(want))
for name, (dtype, shape, data) in want.items():
    t = got[name]
    assert t["dtype"] == dtype, (name, t["dtype"], dtype)
    assert list(t["shape"]) == shape, (name, t["shape"], shape)
    assert bytes(t["data"]) == data, name
with safetensors.safe_open(ours, framework="np") as f:
    meta = f.metadata()
assert meta == {"strata.step": "42", "strata.data_position": "12345",
                "note": "h\u00e9llo"}, meta

# Write a file for Strata to read.
# safetensors >= 0.8 takes TensorSpec with constructor-style dtype names;
# older versions take dicts with the header's names.
SPEC_NAME = {"BOOL": "bool", "U8": "uint8", "I8": "int8",
             "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
             "U16": "uint16", "I16": "int16", "F16": "float16",
             "BF16": "bfloat16", "U32": "uint32", "I32": "int32",
             "F32": "float32", "U64": "uint64", "I64": "int64",
             "F64": "float64"}
keep = []
def spec(dtype, shape, data):
    if hasattr(safetensors, "TensorSpec"):
        buf = ctypes.create_string_buffer(data, max(len(data), 1))
        keep.append(buf)
        return safetensors.TensorSpec(dtype=SPEC_NAME[dtype], shape=shape,
                                      data_ptr=ctypes.addressof(buf),
                                      data_len=len(data))
    return {"dtype": dtype, "shape": shape, "data": data}
tensors = {name: spec(*value) for name, value in expected(100).items()}
safetensors.serialize_file(tensors, theirs,
                           metadata={"strata.step": "7", "origin": "python"})
print("ok")
)py";

TEST(SafetensorsInteropTest, PythonReadsOursAndWeReadPythons) {
  llvm::ErrorOr<std::string> python = llvm::sys::findProgramByName("python3");
  if (!python)
    GTEST_SKIP() << "python3 not found";
  llvm::StringRef importArgs[] = {*python, "-c", "import safetensors"};
  std::optional<llvm::StringRef> silent[] = {
      llvm::StringRef(""), llvm::StringRef(""), llvm::StringRef("")};
  if (llvm::sys::ExecuteAndWait(*python, importArgs, std::nullopt, silent) != 0)
    GTEST_SKIP() << "the python3 'safetensors' package is not installed";

  ScratchDir dir;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<TensorRef> tensors;
  for (size_t k = 0; k < std::size(kAllDTypes); ++k) {
    DType dtype = kAllDTypes[k];
    storage.push_back(patternBytes(dtype, k, 2 * (k + 1) * dtypeSize(dtype)));
    tensors.push_back(
        TensorRef{"t" + std::to_string(k) + "_" + dtypeName(dtype).str(),
                  dtype,
                  {2, int64_t(k) + 1},
                  storage.back()});
  }
  tensors.push_back(TensorRef{"empty", DType::F32, {0, 3}, {}});
  Metadata metadata;
  metadata.setStep(42);
  metadata.setDataPosition(12345);
  metadata.set("note", "h\xc3\xa9llo");
  std::string ours = dir.file("ours.safetensors");
  ASSERT_EQ(errorMessage(writeCheckpoint(ours, tensors, metadata)), "");

  std::string script = dir.file("interop.py");
  writeFile(script, kScript);
  std::string theirs = dir.file("theirs.safetensors");
  std::string log = dir.file("python.log");
  llvm::StringRef args[] = {*python, script, ours, theirs};
  std::optional<llvm::StringRef> redirects[] = {
      llvm::StringRef(""), llvm::StringRef(log), llvm::StringRef(log)};
  std::string runError;
  int rc = llvm::sys::ExecuteAndWait(*python, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/120, 0, &runError);
  ASSERT_EQ(rc, 0) << runError << "\n" << readFile(log);

  llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(theirs);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->tensors().size(), std::size(kAllDTypes) + 1);
  for (size_t j = 0; j < std::size(kAllDTypes); ++j) {
    DType dtype = kAllDTypes[j];
    size_t k = 100 + j;
    std::string name = "t" + std::to_string(k) + "_" + dtypeName(dtype).str();
    const TensorEntry *entry = checkpoint->find(name);
    ASSERT_NE(entry, nullptr) << name;
    EXPECT_EQ(entry->dtype, dtype);
    EXPECT_EQ(entry->shape, (llvm::SmallVector<int64_t, 4>{2, int64_t(k) + 1}));
    EXPECT_EQ(std::vector<uint8_t>(entry->data.begin(), entry->data.end()),
              patternBytes(dtype, k, 2 * (k + 1) * dtypeSize(dtype)))
        << name;
  }
  const TensorEntry *empty = checkpoint->find("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->numElements, 0u);
  llvm::Expected<uint64_t> step = checkpoint->metadata().step();
  ASSERT_TRUE(bool(step)) << llvm::toString(step.takeError());
  EXPECT_EQ(*step, 7u);
  EXPECT_EQ(checkpoint->metadata().get("origin"), llvm::StringRef("python"));
}

} // namespace
