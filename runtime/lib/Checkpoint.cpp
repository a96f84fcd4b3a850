//===- Checkpoint.cpp - Checkpoints in the safetensors layout -------------===//

#include "strata/Runtime/Checkpoint.h"
#include "strata/Runtime/AtomicFile.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <limits>
#include <tuple>

using namespace strata::runtime;
namespace endian = llvm::support::endian;
namespace json = llvm::json;

namespace {
struct DTypeInfo {
  DType dtype;
  llvm::StringLiteral name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::Bool, "BOOL", 1},       {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},           {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1}, {DType::U16, "U16", 2},
    {DType::I16, "I16", 2},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},         {DType::F32, "F32", 4},
    {DType::U64, "U64", 8},         {DType::I64, "I64", 8},
    {DType::F64, "F64", 8},
};

const DTypeInfo &info(DType dtype) {
  for (const DTypeInfo &entry : kDTypes)
    if (entry.dtype == dtype)
      return entry;
  llvm_unreachable("every DType has a row in kDTypes");
}

/// The safetensors layout pads the header with spaces so that the data
/// section starts 8-byte aligned, which lets a reader map F64/I64 in place.
constexpr size_t kHeaderAlignment = 8;
constexpr llvm::StringLiteral kMetadataKey = "__metadata__";

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// Elements and bytes of a tensor, or std::nullopt when either overflows 64
/// bits (a corrupted shape must not wrap around into a plausible size).
struct Extent {
  uint64_t numElements;
  uint64_t numBytes;
};
std::optional<Extent> extentOf(llvm::ArrayRef<int64_t> shape, DType dtype) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim != 0 &&
        count > std::numeric_limits<uint64_t>::max() / uint64_t(dim))
      return std::nullopt;
    count *= uint64_t(dim);
  }
  uint64_t size = dtypeSize(dtype);
  if (count > std::numeric_limits<uint64_t>::max() / size)
    return std::nullopt;
  return Extent{count, count * size};
}
} // namespace

llvm::StringRef strata::runtime::dtypeName(DType dtype) {
  return info(dtype).name;
}

size_t strata::runtime::dtypeSize(DType dtype) { return info(dtype).size; }

std::optional<DType> strata::runtime::parseDType(llvm::StringRef name) {
  for (const DTypeInfo &entry : kDTypes)
    if (entry.name == name)
      return entry.dtype;
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Metadata
//===----------------------------------------------------------------------===//

void Metadata::set(llvm::StringRef key, llvm::StringRef value) {
  values[key.str()] = value.str();
}

void Metadata::setUInt(llvm::StringRef key, uint64_t value) {
  set(key, std::to_string(value));
}

std::optional<llvm::StringRef> Metadata::get(llvm::StringRef key) const {
  auto it = values.find(key);
  if (it == values.end())
    return std::nullopt;
  return llvm::StringRef(it->second);
}

llvm::Expected<uint64_t> Metadata::getUInt(llvm::StringRef key) const {
  std::string prefix = origin.empty() ? "" : origin + ": ";
  std::optional<llvm::StringRef> text = get(key);
  if (!text)
    return llvm::createStringError(prefix + "metadata has no '" + key +
                                   "' entry");
  uint64_t value;
  // getAsInteger alone would accept "0x10" for radix 0 and is silent about
  // what it rejects; insist on plain decimal digits.
  bool digitsOnly = !text->empty() && llvm::all_of(*text, [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!digitsOnly || text->getAsInteger(10, value))
    return llvm::createStringError(prefix + "metadata '" + key + "' is '" +
                                   *text +
                                   "', not an unsigned 64-bit decimal integer");
  return value;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

llvm::Error strata::runtime::writeCheckpoint(llvm::StringRef path,
                                             llvm::ArrayRef<TensorRef> tensors,
                                             const Metadata &metadata) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError("cannot write checkpoint '" + path +
                                   "': " + message);
  };

  // Everything is checked before the first byte is written, so that a bad
  // call never costs the previous checkpoint or leaves a temporary file.
  llvm::StringSet<> seen;
  for (const TensorRef &tensor : tensors) {
    if (tensor.name.empty())
      return fail("a tensor has an empty name");
    if (tensor.name == kMetadataKey)
      return fail("'__metadata__' is reserved and cannot name a tensor");
    if (!json::isUTF8(tensor.name))
      return fail("tensor name '" + tensor.name + "' is not valid UTF-8");
    if (!seen.insert(tensor.name).second)
      return fail("two tensors are named '" + tensor.name + "'");
    std::optional<Extent> extent = extentOf(tensor.shape, tensor.dtype);
    if (!extent)
      return fail("tensor '" + tensor.name + "' has shape " +
                  formatShape(tensor.shape) +
                  ", which has a negative dimension or overflows 64 bits");
    if (extent->numBytes != tensor.data.size())
      return fail("tensor '" + tensor.name + "' has shape " +
                  formatShape(tensor.shape) + " of " + dtypeName(tensor.dtype) +
                  ", which needs " + llvm::Twine(extent->numBytes) +
                  " bytes, but " + llvm::Twine(tensor.data.size()) +
                  " bytes were given");
  }
  for (const auto &[key, value] : metadata.entries())
    if (!json::isUTF8(key) || !json::isUTF8(value))
      return fail("metadata entry '" + key + "' is not valid UTF-8");

  std::string header;
  {
    llvm::raw_string_ostream os(header);
    json::OStream out(os);
    out.object([&] {
      if (!metadata.empty())
        out.attributeObject(kMetadataKey, [&] {
          for (const auto &[key, value] : metadata.entries())
            out.attribute(key, value);
        });
      uint64_t offset = 0;
      for (const TensorRef &tensor : tensors) {
        uint64_t end = offset + tensor.data.size();
        out.attributeObject(tensor.name, [&] {
          out.attribute("dtype", dtypeName(tensor.dtype));
          out.attributeArray("shape", [&] {
            for (int64_t dim : tensor.shape)
              out.value(dim);
          });
          out.attributeArray("data_offsets", [&] {
            out.value(offset);
            out.value(end);
          });
        });
        offset = end;
      }
    });
  }
  header.append((kHeaderAlignment - header.size() % kHeaderAlignment) %
                    kHeaderAlignment,
                ' ');

  llvm::Expected<AtomicFile> file = AtomicFile::create(path);
  if (!file)
    return file.takeError();
  char length[8];
  endian::write64le(length, header.size());
  if (llvm::Error err = file->write(llvm::StringRef(length, sizeof(length))))
    return err;
  if (llvm::Error err = file->write(header))
    return err;
  for (const TensorRef &tensor : tensors)
    if (llvm::Error err = file->write(
            llvm::StringRef(reinterpret_cast<const char *>(tensor.data.data()),
                            tensor.data.size())))
      return err;
  return file->commit();
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

namespace {
/// Where a tensor's bytes lie, relative to the data section.
struct Span {
  uint64_t begin;
  uint64_t end;
};

std::string formatSpan(Span span) {
  return "[" + std::to_string(span.begin) + ", " + std::to_string(span.end) +
         "]";
}
} // namespace

llvm::Expected<Checkpoint> Checkpoint::open(llvm::StringRef path) {
  std::string where = "checkpoint '" + path.str() + "'";
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(where + ": " + message);
  };

  // Not volatile: the writer replaces checkpoints by rename, never in place,
  // so a mapped checkpoint does not change under us.
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "cannot open %s: %s",
                                   where.c_str(),
                                   buffer.getError().message().c_str());
  llvm::StringRef bytes = (*buffer)->getBuffer();

  if (bytes.size() < 8)
    return fail("the file is " + llvm::Twine(bytes.size()) +
                " bytes, too short for the 8-byte header length");
  uint64_t headerLength = endian::read64le(bytes.data());
  if (headerLength > bytes.size() - 8)
    return fail("the header length is " + llvm::Twine(headerLength) +
                " bytes, but only " + llvm::Twine(bytes.size() - 8) +
                " bytes follow the length field");
  llvm::StringRef headerText = bytes.substr(8, headerLength);
  llvm::StringRef dataSection = bytes.drop_front(8 + headerLength);

  llvm::Expected<json::Value> header = json::parse(headerText);
  if (!header)
    return fail("the header is not valid JSON: " +
                llvm::toString(header.takeError()));
  const json::Object *root = header->getAsObject();
  if (!root)
    return fail("the header is not a JSON object");

  Checkpoint checkpoint;
  checkpoint.meta.setOrigin(where);

  // Walked in name order so that, of several faults, the same one is
  // reported every time.
  std::vector<llvm::StringRef> names;
  for (const auto &member : *root)
    names.push_back(member.first);
  llvm::sort(names);

  std::vector<Span> spans;
  for (llvm::StringRef name : names) {
    const json::Value &value = *root->get(name);
    if (name == kMetadataKey) {
      const json::Object *object = value.getAsObject();
      if (!object)
        return fail("'__metadata__' is not a JSON object");
      for (const auto &[key, entry] : *object) {
        std::optional<llvm::StringRef> text = entry.getAsString();
        if (!text)
          return fail("metadata '" + llvm::StringRef(key) +
                      "' is not a string");
        checkpoint.meta.set(key, *text);
      }
      continue;
    }

    auto failTensor = [&](const llvm::Twine &message) {
      return fail("tensor '" + name + "': " + message);
    };
    const json::Object *object = value.getAsObject();
    if (!object)
      return failTensor("the entry is not a JSON object");

    std::optional<llvm::StringRef> dtypeText = object->getString("dtype");
    if (!dtypeText)
      return failTensor("no string 'dtype'");
    std::optional<DType> dtype = parseDType(*dtypeText);
    if (!dtype)
      return failTensor("unknown dtype '" + *dtypeText + "'");

    const json::Array *shapeArray = object->getArray("shape");
    if (!shapeArray)
      return failTensor("no 'shape' array");
    llvm::SmallVector<int64_t, 4> shape;
    for (size_t i = 0; i < shapeArray->size(); ++i) {
      std::optional<int64_t> dim = (*shapeArray)[i].getAsInteger();
      if (!dim || *dim < 0)
        return failTensor("shape[" + llvm::Twine(i) +
                          "] is not a non-negative integer");
      shape.push_back(*dim);
    }
    std::optional<Extent> extent = extentOf(shape, *dtype);
    if (!extent)
      return failTensor("shape " + formatShape(shape) +
                        " has more elements than fit in 64 bits");

    const json::Array *offsets = object->getArray("data_offsets");
    if (!offsets || offsets->size() != 2)
      return failTensor("'data_offsets' is not an array of two integers");
    std::optional<uint64_t> begin = (*offsets)[0].getAsUINT64();
    std::optional<uint64_t> end = (*offsets)[1].getAsUINT64();
    if (!begin || !end)
      return failTensor("'data_offsets' are not non-negative integers");
    Span span{*begin, *end};
    if (span.end < span.begin)
      return failTensor("data_offsets " + formatSpan(span) +
                        " end before they begin");
    if (span.end - span.begin != extent->numBytes)
      return failTensor("shape " + formatShape(shape) + " of " +
                        dtypeName(*dtype) + " needs " +
                        llvm::Twine(extent->numBytes) +
                        " bytes, but data_offsets " + formatSpan(span) +
                        " span " + llvm::Twine(span.end - span.begin));
    if (span.end > dataSection.size())
      return failTensor("data_offsets " + formatSpan(span) +
                        " run past the end of the data section (" +
                        llvm::Twine(dataSection.size()) + " bytes)");

    TensorEntry entry;
    entry.name = name.str();
    entry.dtype = *dtype;
    entry.shape = std::move(shape);
    entry.numElements = extent->numElements;
    entry.data = llvm::ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t *>(dataSection.data()) + span.begin,
        extent->numBytes);
    checkpoint.entries.push_back(std::move(entry));
    spans.push_back(span);
  }

  // The tensors must tile the data section: a gap or an overlap means a
  // corrupted header, and trailing bytes a file that was appended to.
  std::vector<size_t> order(spans.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  // Ties broken by name order so that the result never depends on the sort.
  llvm::sort(order, [&](size_t a, size_t b) {
    return std::make_tuple(spans[a].begin, spans[a].end, a) <
           std::make_tuple(spans[b].begin, spans[b].end, b);
  });
  uint64_t expected = 0;
  const TensorEntry *previous = nullptr;
  Span previousSpan{0, 0};
  for (size_t index : order) {
    const TensorEntry &entry = checkpoint.entries[index];
    Span span = spans[index];
    if (span.begin < expected)
      return fail("tensor '" + entry.name + "': data_offsets " +
                  formatSpan(span) + " overlap those of tensor '" +
                  previous->name + "' " + formatSpan(previousSpan));
    if (span.begin > expected)
      return fail("tensor '" + entry.name + "': data_offsets " +
                  formatSpan(span) + " leave bytes [" + llvm::Twine(expected) +
                  ", " + llvm::Twine(span.begin) +
                  ") of the data section unused");
    expected = span.end;
    previous = &entry;
    previousSpan = span;
  }
  if (expected != dataSection.size())
    return fail(llvm::Twine(dataSection.size() - expected) +
                " trailing bytes after the last tensor (the tensors end at "
                "data offset " +
                llvm::Twine(expected) + ", the data section is " +
                llvm::Twine(dataSection.size()) + " bytes)");

  std::vector<TensorEntry> sorted;
  sorted.reserve(order.size());
  for (size_t index : order)
    sorted.push_back(std::move(checkpoint.entries[index]));
  checkpoint.entries = std::move(sorted);
  checkpoint.filePath = path.str();
  checkpoint.buffer = std::move(*buffer);
  return std::move(checkpoint);
}

const TensorEntry *Checkpoint::find(llvm::StringRef name) const {
  for (const TensorEntry &entry : entries)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

llvm::Error Checkpoint::read(llvm::StringRef name, DType dtype,
                             llvm::ArrayRef<int64_t> shape,
                             llvm::MutableArrayRef<uint8_t> out) const {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError("checkpoint '" + filePath + "': tensor '" +
                                   name + "': " + message);
  };
  const TensorEntry *entry = find(name);
  if (!entry)
    return fail("not found");
  if (entry->dtype != dtype)
    return fail("is " + dtypeName(entry->dtype) + ", expected " +
                dtypeName(dtype));
  if (llvm::ArrayRef<int64_t>(entry->shape) != shape)
    return fail("has shape " + formatShape(entry->shape) + ", expected " +
                formatShape(shape));
  if (out.size() != entry->data.size())
    return fail("holds " + llvm::Twine(entry->data.size()) +
                " bytes, but the destination holds " + llvm::Twine(out.size()));
  std::copy(entry->data.begin(), entry->data.end(), out.begin());
  return llvm::Error::success();
}
