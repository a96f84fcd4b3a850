//===- PlanFile.cpp - Reading, writing and validating plan files ----------===//

#include "strata/Runtime/PlanFile.h"

#include "strata/Runtime/AtomicFile.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <climits>

using namespace strata;
using namespace strata::runtime;
using llvm::Twine;

namespace {

llvm::Error fail(llvm::StringRef origin, const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 origin + ": " + message);
}

std::string hex32(uint32_t value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::format_hex(value, 10);
  return text;
}

/// The bytes of a wrong magic, printable: "PK\x03\x04...".
std::string escaped(llvm::StringRef bytes) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '"';
  llvm::printEscapedString(bytes, os);
  os << '"';
  return text;
}

std::string shapeString(const google::protobuf::RepeatedField<int64_t> &shape) {
  return strata::runtime::planShapeString({shape.data(), size_t(shape.size())});
}

/// a + b, or nullopt on overflow.
std::optional<uint64_t> checkedAdd(uint64_t a, uint64_t b) {
  uint64_t sum;
  if (__builtin_add_overflow(a, b, &sum))
    return std::nullopt;
  return sum;
}

} // namespace

std::optional<uint64_t> strata::runtime::planDTypeSize(plan::DType dtype) {
  switch (dtype) {
  case plan::F32:
  case plan::I32:
    return 4;
  case plan::BF16:
  case plan::F16:
    return 2;
  default:
    return std::nullopt;
  }
}

std::string strata::runtime::planDTypeName(plan::DType dtype) {
  switch (dtype) {
  case plan::F32:
    return "f32";
  case plan::I32:
    return "i32";
  case plan::BF16:
    return "bf16";
  case plan::F16:
    return "f16";
  default:
    return "dtype " + std::to_string(int(dtype));
  }
}

std::string strata::runtime::planShapeString(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string strata::runtime::planRoleName(plan::BufferRole role) {
  switch (role) {
  case plan::PARAM:
    return "param";
  case plan::STATE:
    return "state";
  case plan::INPUT:
    return "input";
  case plan::TEMP:
    return "temp";
  case plan::LOCAL:
    return "local";
  default:
    return "role " + std::to_string(int(role));
  }
}

//===----------------------------------------------------------------------===//
// The file format
//===----------------------------------------------------------------------===//

llvm::Expected<std::string>
strata::runtime::encodePlan(const plan::Plan &plan) {
  // Deterministic, so that one model compiles to one byte-identical file
  // (protobuf maps otherwise serialize in a per-process order).
  std::string payload;
  bool serialized;
  {
    google::protobuf::io::StringOutputStream raw(&payload);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.SetSerializationDeterministic(true);
    serialized = plan.SerializeToCodedStream(&out) && !out.HadError();
  }
  if (!serialized)
    return llvm::createStringError("cannot serialize the plan of model '" +
                                   plan.model() + "'");
  std::string bytes(kPlanHeaderBytes, '\0');
  std::copy(kPlanMagic.begin(), kPlanMagic.end(), bytes.begin());
  llvm::support::endian::write32le(&bytes[8], plan.version());
  llvm::support::endian::write64le(&bytes[12], payload.size());
  llvm::support::endian::write32le(
      &bytes[20], llvm::crc32(llvm::arrayRefFromStringRef(payload)));
  bytes += payload;
  return bytes;
}

llvm::Expected<plan::Plan> strata::runtime::decodePlan(llvm::StringRef bytes,
                                                       llvm::StringRef origin) {
  if (bytes.size() < kPlanHeaderBytes)
    return fail(origin, "the file is " + Twine(bytes.size()) +
                            " bytes, too short for the " +
                            Twine(kPlanHeaderBytes) +
                            "-byte plan header (truncated or not a plan)");
  llvm::StringRef magic = bytes.take_front(kPlanMagic.size());
  if (magic != kPlanMagic)
    return fail(origin, "bad magic: expected \"" + kPlanMagic + "\", found " +
                            escaped(magic) + " (not a plan file)");
  uint32_t version = llvm::support::endian::read32le(bytes.data() + 8);
  if (version < kMinPlanVersion || version > kPlanVersion)
    return fail(origin, "plan format version " + Twine(version) +
                            ", but this runtime reads versions " +
                            Twine(kMinPlanVersion) + " to " +
                            Twine(kPlanVersion) +
                            " (recompile the model with this strata-compile)");
  uint64_t length = llvm::support::endian::read64le(bytes.data() + 12);
  uint64_t available = bytes.size() - kPlanHeaderBytes;
  if (length != available)
    return fail(origin,
                "the header says the payload is " + Twine(length) +
                    " bytes, but the file holds " + Twine(available) +
                    " bytes after the header (" +
                    (length > available ? "truncated" : "trailing bytes") +
                    ")");
  llvm::StringRef payload = bytes.drop_front(kPlanHeaderBytes);
  uint32_t expectedCrc = llvm::support::endian::read32le(bytes.data() + 20);
  uint32_t actualCrc = llvm::crc32(llvm::arrayRefFromStringRef(payload));
  if (expectedCrc != actualCrc)
    return fail(origin, "CRC-32 mismatch: the header says " +
                            hex32(expectedCrc) + ", the payload has " +
                            hex32(actualCrc) + " (the file is corrupted)");
  if (payload.size() > size_t(INT_MAX))
    return fail(origin, "the payload is " + Twine(payload.size()) +
                            " bytes, more than protobuf can parse");
  plan::Plan plan;
  if (!plan.ParseFromArray(payload.data(), int(payload.size())))
    return fail(origin, "the payload is not a valid Plan message (protobuf "
                        "parsing failed)");
  if (plan.version() != version)
    return fail(origin, "the header says version " + Twine(version) +
                            " but the plan says version " +
                            Twine(plan.version()));
  return plan;
}

llvm::Expected<plan::Plan> strata::runtime::readPlanFile(llvm::StringRef path) {
  std::string origin = ("plan file '" + path + "'").str();
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(origin, "cannot read it: " + buffer.getError().message());
  llvm::Expected<plan::Plan> plan = decodePlan((*buffer)->getBuffer(), origin);
  if (!plan)
    return plan.takeError();
  if (llvm::Error err = validatePlan(*plan, origin))
    return std::move(err);
  return plan;
}

llvm::Error strata::runtime::writePlanFile(llvm::StringRef path,
                                           const plan::Plan &plan) {
  llvm::Expected<std::string> bytes = encodePlan(plan);
  if (!bytes)
    return bytes.takeError();
  return writeFileAtomically(path, *bytes);
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

namespace {

/// One validation run: `origin` and the plan, and the facts collected about
/// buffers while checking them, which the kernel checks use.
class PlanValidator {
public:
  PlanValidator(const plan::Plan &plan, llvm::StringRef origin,
                KernelCheck checkKernel)
      : plan(plan), origin(origin), checkKernel(checkKernel) {}

  llvm::Error run();

private:
  llvm::Error checkBuffer(const plan::Buffer &buffer, int index);
  llvm::Error checkRegion(llvm::ArrayRef<plan::BufferRole> roles,
                          llvm::StringRef region, uint64_t regionBytes);
  llvm::Error checkProgram(const plan::Program &program, llvm::StringRef field);
  llvm::Error checkFused(const plan::Kernel &kernel,
                         const std::string &kernelName);
  std::string bufferName(int id) const;
  llvm::Error error(const Twine &message) const {
    return fail(origin, message);
  }

  const plan::Plan &plan;
  llvm::StringRef origin;
  KernelCheck checkKernel;
  /// LOCAL buffers some fused kernel lists, and which.
  llvm::DenseMap<int, std::string> localOwners;
};

std::string PlanValidator::bufferName(int id) const {
  const plan::Buffer &buffer = plan.buffers(id);
  return planRoleName(buffer.role()) + " buffer " + std::to_string(id) + " '" +
         buffer.name() + "'";
}

llvm::Error PlanValidator::checkBuffer(const plan::Buffer &buffer, int index) {
  std::string what =
      "buffer " + std::to_string(index) + " '" + buffer.name() + "'";
  if (buffer.id() != index)
    return error(what + " has id " + Twine(buffer.id()) +
                 "; a buffer's id must equal its index in Plan.buffers");
  if (buffer.name().empty())
    return error(what + " has no name");
  switch (buffer.role()) {
  case plan::PARAM:
  case plan::STATE:
  case plan::INPUT:
  case plan::TEMP:
    break;
  case plan::LOCAL:
    if (plan.version() < 2)
      return error(what + " is a LOCAL buffer, which a version " +
                   Twine(plan.version()) + " plan cannot have");
    break;
  default:
    return error(what + " has no valid role (" + planRoleName(buffer.role()) +
                 ")");
  }
  std::optional<uint64_t> elementSize = planDTypeSize(buffer.dtype());
  if (!elementSize)
    return error(what + " has no valid dtype (" +
                 planDTypeName(buffer.dtype()) + ")");
  uint64_t bytes = *elementSize;
  for (int64_t dim : buffer.shape()) {
    if (dim < 0)
      return error(what + " has a negative dimension in shape " +
                   shapeString(buffer.shape()));
    if (dim != 0 && bytes > UINT64_MAX / uint64_t(dim))
      return error(what + " of shape " + shapeString(buffer.shape()) +
                   " is too large");
    bytes *= uint64_t(dim);
  }
  if (bytes != buffer.size_bytes())
    return error(what + ": shape " + shapeString(buffer.shape()) + " of " +
                 planDTypeName(buffer.dtype()) + " needs " + Twine(bytes) +
                 " bytes, but size_bytes is " + Twine(buffer.size_bytes()));
  if (buffer.offset() % *elementSize != 0)
    return error(what + " has offset " + Twine(buffer.offset()) +
                 ", not a multiple of its element size " + Twine(*elementSize));
  if (!checkedAdd(buffer.offset(), buffer.size_bytes()))
    return error(what + " ends past 2^64 bytes");

  bool isFloat = buffer.dtype() != plan::I32;
  if (buffer.role() == plan::PARAM) {
    if (!isFloat)
      return error(what + " is a parameter of type " +
                   planDTypeName(buffer.dtype()) + "; parameters are floats");
    size_t expectedArgs;
    switch (buffer.init()) {
    case plan::ZEROS:
    case plan::ONES:
      expectedArgs = 0;
      break;
    case plan::CONSTANT:
      expectedArgs = 1;
      break;
    case plan::NORMAL:
    case plan::UNIFORM:
      expectedArgs = 2;
      break;
    default:
      return error(what + " has no valid initializer (init " +
                   Twine(int(buffer.init())) + ")");
    }
    if (size_t(buffer.init_args_size()) != expectedArgs)
      return error(what + " has " + Twine(buffer.init_args_size()) +
                   " initializer arguments, expected " + Twine(expectedArgs));
  }
  if (buffer.role() == plan::INPUT) {
    if (buffer.index_bound() < 0)
      return error(what + " has a negative index_bound " +
                   Twine(buffer.index_bound()));
    if (buffer.index_bound() > 0 && isFloat)
      return error(what + " is a float input with an index_bound");
  }
  return llvm::Error::success();
}

/// Buffers of `roles` lie inside [0, regionBytes) without overlapping.
llvm::Error PlanValidator::checkRegion(llvm::ArrayRef<plan::BufferRole> roles,
                                       llvm::StringRef region,
                                       uint64_t regionBytes) {
  llvm::SmallVector<int> ids;
  for (const plan::Buffer &buffer : plan.buffers()) {
    if (!llvm::is_contained(roles, buffer.role()))
      continue;
    if (buffer.offset() + buffer.size_bytes() > regionBytes)
      return error(bufferName(buffer.id()) + " occupies bytes [" +
                   Twine(buffer.offset()) + ", " +
                   Twine(buffer.offset() + buffer.size_bytes()) +
                   "), outside the " + region + " of " + Twine(regionBytes) +
                   " bytes");
    if (buffer.size_bytes() > 0)
      ids.push_back(buffer.id());
  }
  llvm::sort(ids, [&](int a, int b) {
    return plan.buffers(a).offset() < plan.buffers(b).offset();
  });
  for (size_t i = 1; i < ids.size(); ++i) {
    const plan::Buffer &previous = plan.buffers(ids[i - 1]);
    const plan::Buffer &current = plan.buffers(ids[i]);
    if (previous.offset() + previous.size_bytes() > current.offset())
      return error(bufferName(previous.id()) + " and " +
                   bufferName(current.id()) + " overlap in the " + region);
  }
  return llvm::Error::success();
}

llvm::Error PlanValidator::checkProgram(const plan::Program &program,
                                        llvm::StringRef field) {
  std::string what = ("program '" + field + "'").str();
  int numBuffers = plan.buffers_size();
  if (program.arena_bytes() > plan.arena_bytes())
    return error(what + " needs an arena of " + Twine(program.arena_bytes()) +
                 " bytes, more than the plan's arena_bytes " +
                 Twine(plan.arena_bytes()));
  for (int id : program.inputs()) {
    if (id < 0 || id >= numBuffers)
      return error(what + " has input " + Twine(id) +
                   ", which is not a buffer id (the plan has " +
                   Twine(numBuffers) + " buffers)");
    if (plan.buffers(id).role() != plan::INPUT)
      return error(what + " has input " + bufferName(id) +
                   ", which is not an INPUT buffer");
  }
  llvm::DenseSet<int> written;
  for (int k = 0; k < program.kernels_size(); ++k) {
    const plan::Kernel &kernel = program.kernels(k);
    std::string kernelName =
        what + ", kernel " + std::to_string(k) + " '" + kernel.op() + "'" +
        (kernel.location().empty() ? std::string()
                                   : " at " + kernel.location());
    if (kernel.op().empty())
      return error(kernelName + " has no op name");
    auto checkId = [&](int id, const char *kind, int position) -> llvm::Error {
      if (id < 0 || id >= numBuffers)
        return error(kernelName + ": " + kind + " " + Twine(position) +
                     " is buffer " + Twine(id) +
                     ", which does not exist (the plan has " +
                     Twine(numBuffers) + " buffers)");
      const plan::Buffer &buffer = plan.buffers(id);
      if (buffer.role() == plan::LOCAL)
        return error(kernelName + ": " + kind + " " + Twine(position) + " " +
                     bufferName(id) +
                     " is a LOCAL buffer; only the body of a fused kernel "
                     "uses those");
      if (buffer.role() == plan::TEMP &&
          buffer.offset() + buffer.size_bytes() > program.arena_bytes())
        return error(kernelName + ": " + kind + " " + Twine(position) + " " +
                     bufferName(id) + " lies outside the program's arena of " +
                     Twine(program.arena_bytes()) + " bytes");
      return llvm::Error::success();
    };
    for (int i = 0; i < kernel.inputs_size(); ++i) {
      int id = kernel.inputs(i);
      if (llvm::Error err = checkId(id, "input", i))
        return err;
      if (plan.buffers(id).role() == plan::TEMP && !written.contains(id))
        return error(kernelName + " reads " + bufferName(id) +
                     " before any kernel of the program writes it");
    }
    for (int i = 0; i < kernel.outputs_size(); ++i) {
      int id = kernel.outputs(i);
      if (llvm::Error err = checkId(id, "output", i))
        return err;
      if (plan.buffers(id).role() != plan::TEMP)
        return error(kernelName + " writes " + bufferName(id) +
                     "; kernel outputs must be temporaries (stateful kernels "
                     "update their inputs in place)");
      written.insert(id);
    }
    if (kernel.op() == "fused") {
      if (llvm::Error err = checkFused(kernel, kernelName))
        return err;
      continue;
    }
    if (kernel.body_size() || kernel.locals_size())
      return error(kernelName + " has a body or locals, but only a fused "
                                "kernel (op \"fused\") has those");
    if (checkKernel)
      if (llvm::Error err = checkKernel(kernel))
        return error(kernelName + ": " + llvm::toString(std::move(err)));
  }
  for (int id : program.outputs()) {
    if (id < 0 || id >= numBuffers)
      return error(what + " has output " + Twine(id) +
                   ", which is not a buffer id (the plan has " +
                   Twine(numBuffers) + " buffers)");
    if (plan.buffers(id).role() == plan::TEMP && !written.contains(id))
      return error(what + " returns " + bufferName(id) +
                   ", which none of its kernels writes");
  }
  return llvm::Error::success();
}

/// The group kinds of fused kernels (docs/plan-format.md, "Fused kernels").
bool isFusedKind(llvm::StringRef kind) {
  return llvm::is_contained({"elementwise", "matmul_bias", "matmul_bias_gelu",
                             "matmul_accumulate", "adamw", "cross_entropy"},
                            kind);
}

llvm::Error PlanValidator::checkFused(const plan::Kernel &kernel,
                                      const std::string &kernelName) {
  if (plan.version() < 2)
    return error(kernelName + " is a fused kernel, which a version " +
                 Twine(plan.version()) + " plan cannot have");
  if (kernel.body_size() == 0)
    return error(kernelName + " has an empty body");
  auto attr = [&](const char *name) -> const plan::Attribute * {
    auto it = kernel.attrs().find(name);
    return it == kernel.attrs().end() ? nullptr : &it->second;
  };
  const plan::Attribute *kind = attr("kind");
  if (!kind || !kind->has_s())
    return error(kernelName + " has no 'kind' (a string attribute)");
  if (!isFusedKind(kind->s()))
    return error(kernelName + " has unknown kind '" + kind->s() +
                 "' (elementwise, matmul_bias, matmul_bias_gelu, "
                 "matmul_accumulate, adamw, cross_entropy)");
  if (kind->s() == "elementwise") {
    const plan::Attribute *function = attr("function");
    const plan::Attribute *elements = attr("elements");
    if (!function || !function->has_s() || function->s().empty())
      return error(kernelName + ": an elementwise fused kernel needs "
                                "'function' (the emitted kernel's name)");
    if (!elements || !elements->has_i() || elements->i() < 0)
      return error(kernelName + ": an elementwise fused kernel needs "
                                "'elements' (a non-negative integer)");
    if (!plan.has_cuda() ||
        !llvm::StringRef(plan.cuda().source()).contains(function->s()))
      return error(kernelName + " runs function '" + function->s() +
                   "', which the plan's CUDA source does not define");
  }

  int numBuffers = plan.buffers_size();
  llvm::DenseSet<int> allowed, locals;
  for (int id : kernel.inputs())
    allowed.insert(id);
  for (int id : kernel.outputs())
    allowed.insert(id);
  for (int i = 0; i < kernel.locals_size(); ++i) {
    int id = kernel.locals(i);
    if (id < 0 || id >= numBuffers)
      return error(kernelName + ": local " + Twine(i) + " is buffer " +
                   Twine(id) + ", which does not exist (the plan has " +
                   Twine(numBuffers) + " buffers)");
    if (plan.buffers(id).role() != plan::LOCAL)
      return error(kernelName + ": local " + Twine(i) + " " + bufferName(id) +
                   " is not a LOCAL buffer");
    auto [it, inserted] = localOwners.try_emplace(id, kernelName);
    if (!inserted)
      return error(kernelName + ": local " + Twine(i) + " " + bufferName(id) +
                   " is also a local of " + it->second);
    allowed.insert(id);
    locals.insert(id);
  }

  llvm::DenseSet<int> written;
  for (int b = 0; b < kernel.body_size(); ++b) {
    const plan::Kernel &inner = kernel.body(b);
    std::string innerName = kernelName + ", body kernel " + std::to_string(b) +
                            " '" + inner.op() + "'";
    if (inner.op().empty())
      return error(innerName + " has no op name");
    if (inner.op() == "fused" || inner.body_size() || inner.locals_size())
      return error(innerName + " is itself fused; fused kernels do not nest");
    auto checkId = [&](int id, const char *what, int position) -> llvm::Error {
      if (!allowed.contains(id))
        return error(innerName + ": " + what + " " + Twine(position) +
                     " is buffer " + Twine(id) +
                     ", which is neither an input, an output nor a local of "
                     "the fused kernel");
      return llvm::Error::success();
    };
    for (int i = 0; i < inner.inputs_size(); ++i) {
      int id = inner.inputs(i);
      if (llvm::Error err = checkId(id, "input", i))
        return err;
      if (locals.contains(id) && !written.contains(id))
        return error(innerName + " reads " + bufferName(id) +
                     " before a kernel of the body writes it");
    }
    for (int i = 0; i < inner.outputs_size(); ++i) {
      int id = inner.outputs(i);
      if (llvm::Error err = checkId(id, "output", i))
        return err;
      if (!locals.contains(id) && !llvm::is_contained(kernel.outputs(), id))
        return error(innerName + " writes " + bufferName(id) +
                     ", an input of the fused kernel; body kernels write its "
                     "outputs and locals");
      written.insert(id);
    }
    if (checkKernel)
      if (llvm::Error err = checkKernel(inner))
        return error(innerName + ": " + llvm::toString(std::move(err)));
  }
  for (int i = 0; i < kernel.outputs_size(); ++i)
    if (!written.contains(kernel.outputs(i)))
      return error(kernelName + ": output " + Twine(i) + " " +
                   bufferName(kernel.outputs(i)) +
                   " is written by no kernel of its body");
  return llvm::Error::success();
}

llvm::Error PlanValidator::run() {
  if (plan.version() < kMinPlanVersion || plan.version() > kPlanVersion)
    return error("plan version " + Twine(plan.version()) +
                 ", but this runtime reads versions " + Twine(kMinPlanVersion) +
                 " to " + Twine(kPlanVersion));
  llvm::StringMap<int> names;
  for (int i = 0; i < plan.buffers_size(); ++i) {
    const plan::Buffer &buffer = plan.buffers(i);
    if (llvm::Error err = checkBuffer(buffer, i))
      return err;
    if (buffer.role() == plan::LOCAL &&
        buffer.offset() + buffer.size_bytes() > plan.local_bytes())
      return error(bufferName(i) + " occupies bytes [" +
                   Twine(buffer.offset()) + ", " +
                   Twine(buffer.offset() + buffer.size_bytes()) +
                   "), outside the local scratch region of " +
                   Twine(plan.local_bytes()) + " bytes");
    if (buffer.role() == plan::TEMP || buffer.role() == plan::LOCAL)
      continue;
    auto [it, inserted] = names.try_emplace(buffer.name(), i);
    if (!inserted)
      return error(bufferName(i) + " has the same name as " +
                   bufferName(it->second));
  }
  for (const plan::Buffer &buffer : plan.buffers()) {
    if (buffer.role() != plan::STATE || buffer.state_of().empty())
      continue;
    auto it = names.find(buffer.state_of());
    if (it == names.end() || plan.buffers(it->second).role() != plan::PARAM)
      return error(bufferName(buffer.id()) + " belongs to '" +
                   buffer.state_of() + "', which is not a parameter");
  }
  if (llvm::Error err =
          checkRegion({plan::PARAM, plan::STATE}, "persistent region",
                      plan.persistent_bytes()))
    return err;
  if (llvm::Error err =
          checkRegion({plan::INPUT}, "input region", plan.input_bytes()))
    return err;

  bool training = plan.has_grad() || plan.has_apply();
  if (training) {
    if (!plan.has_grad() || !plan.has_apply())
      return error("a training plan needs both a 'grad' and an 'apply' "
                   "program");
    if (plan.accumulate() < 1)
      return error("accumulate is " + Twine(plan.accumulate()) +
                   "; a training plan runs 'grad' at least once a step");
    const plan::Program &grad = plan.grad();
    if (grad.outputs_size() != 1)
      return error("program 'grad' returns " + Twine(grad.outputs_size()) +
                   " buffers; it must return the loss alone");
  } else if (!plan.has_forward()) {
    return error("the plan has no program (neither grad/apply nor forward)");
  }
  if (plan.default_steps() < 0 || plan.batch_size() < 0 || plan.seq_len() < 0)
    return error("default_steps, batch_size and seq_len must not be negative");
  if (plan.version() < 2 && (plan.has_cuda() || plan.local_bytes() != 0))
    return error("a version " + Twine(plan.version()) +
                 " plan has no CUDA code and no local scratch region");

  if (plan.has_grad())
    if (llvm::Error err = checkProgram(plan.grad(), "grad"))
      return err;
  if (plan.has_apply())
    if (llvm::Error err = checkProgram(plan.apply(), "apply"))
      return err;
  if (plan.has_forward())
    if (llvm::Error err = checkProgram(plan.forward(), "forward"))
      return err;
  if (training) {
    int loss = plan.grad().outputs(0);
    const plan::Buffer &buffer = plan.buffers(loss);
    if (buffer.dtype() != plan::F32 || buffer.size_bytes() != 4)
      return error("program 'grad' returns " + bufferName(loss) + " of type " +
                   planDTypeName(buffer.dtype()) + " and shape " +
                   shapeString(buffer.shape()) +
                   "; the loss must be one f32 value");
  }
  return llvm::Error::success();
}

} // namespace

llvm::Error strata::runtime::validatePlan(const plan::Plan &plan,
                                          llvm::StringRef origin,
                                          KernelCheck checkKernel) {
  return PlanValidator(plan, origin, checkKernel).run();
}
