//===- CompileCuda.cpp - NVRTC compile of the emitted kernels -------------===//

#include "strata/Fusion/CompileCuda.h"

#include "llvm/ADT/Twine.h"

#if STRATA_HAVE_NVRTC
#include <nvrtc.h>
#endif

#include <string>
#include <vector>

using namespace strata;
using namespace strata::fusion;

bool strata::fusion::haveNvrtc() { return STRATA_HAVE_NVRTC + 0 != 0; }

#if STRATA_HAVE_NVRTC

namespace {

llvm::Error nvrtcError(nvrtcResult result, const llvm::Twine &what,
                       const std::string &log = "") {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 ("NVRTC: " + what + ": " +
                                  nvrtcGetErrorString(result) +
                                  (log.empty() ? "" : "\n" + log))
                                     .str());
}

/// Destroys the program on every path.
struct Program {
  nvrtcProgram handle = nullptr;
  ~Program() {
    if (handle)
      nvrtcDestroyProgram(&handle);
  }
};

} // namespace

llvm::Expected<CudaBinary> strata::fusion::compileCuda(llvm::StringRef source,
                                                       llvm::StringRef arch,
                                                       llvm::StringRef name) {
  Program program;
  std::string text = source.str(), file = name.str();
  if (nvrtcResult result = nvrtcCreateProgram(
          &program.handle, text.c_str(), file.c_str(), 0, nullptr, nullptr);
      result != NVRTC_SUCCESS)
    return nvrtcError(result, "cannot create the program");
  std::string archOption = ("--gpu-architecture=" + arch).str();
  // cuda_bf16.h comes with NVRTC's built-in headers; the toolkit's include
  // folder is named as well for toolkits that resolve it from there.
  std::vector<const char *> options = {archOption.c_str(), "-std=c++17",
                                       "-default-device",
#ifdef STRATA_CUDA_INCLUDE_DIR
                                       "-I" STRATA_CUDA_INCLUDE_DIR
#endif
  };
  nvrtcResult compiled =
      nvrtcCompileProgram(program.handle, int(options.size()), options.data());
  size_t logSize = 0;
  std::string log;
  if (nvrtcGetProgramLogSize(program.handle, &logSize) == NVRTC_SUCCESS &&
      logSize > 1) {
    log.resize(logSize);
    nvrtcGetProgramLog(program.handle, log.data());
    log.resize(logSize - 1);
  }
  if (compiled != NVRTC_SUCCESS)
    return nvrtcError(compiled, "cannot compile " + name + " for " + arch, log);

  CudaBinary binary;
  size_t cubinSize = 0;
  if (nvrtcResult result = nvrtcGetCUBINSize(program.handle, &cubinSize);
      result != NVRTC_SUCCESS)
    return nvrtcError(result, "no cubin for " + arch);
  binary.cubin.resize(cubinSize);
  if (nvrtcResult result = nvrtcGetCUBIN(program.handle, binary.cubin.data());
      result != NVRTC_SUCCESS)
    return nvrtcError(result, "no cubin for " + arch);
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  binary.compiler =
      "nvrtc " + std::to_string(major) + "." + std::to_string(minor);
  return binary;
}

#else

llvm::Expected<CudaBinary>
strata::fusion::compileCuda(llvm::StringRef, llvm::StringRef, llvm::StringRef) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      "this strata-compile was built without NVRTC (no CUDA toolkit at "
      "configure time); the plan carries CUDA source without a cubin");
}

#endif
