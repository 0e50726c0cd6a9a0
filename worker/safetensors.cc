#include "worker/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/user_error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error \
    "safetensors.cc reads and writes little-endian data in place: a little-endian host is required"
#endif

namespace revsweep {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Largest header we accept (the reference implementation's limit is 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

// Bytes per element of each safetensors dtype; 0 for an unknown dtype.
int64_t DtypeSize(const std::string& dtype) {
  static const std::map<std::string, int64_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

// The torch dtype Get() reads a supported safetensors dtype as; false when unsupported.
bool TorchDtype(const std::string& dtype, torch::ScalarType* out) {
  if (dtype == "F32") {
    *out = torch::kFloat32;
  } else if (dtype == "F16") {
    *out = torch::kFloat16;
  } else if (dtype == "BF16") {
    *out = torch::kBFloat16;
  } else {
    return false;
  }
  return true;
}

std::string SafetensorsDtypeName(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return "F32";
    case torch::kFloat16:
      return "F16";
    case torch::kBFloat16:
      return "BF16";
    default:
      return "";
  }
}

UserError FileError(const std::string& path, const std::string& key, const std::string& message) {
  return UserError(path, 0, 0, key, message);
}

// Parses one header entry into `e`, checking everything that needs no other entry.
SafetensorsEntry ParseEntry(const std::string& path, const std::string& name, const json& v,
                            uint64_t data_size) {
  if (!v.is_object()) throw FileError(path, name, "bad header: entry is not a JSON object");
  SafetensorsEntry e;
  e.name = name;
  auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string())
    throw FileError(path, name, "bad header: \"dtype\" missing or not a string");
  e.dtype = dtype->get<std::string>();
  const int64_t elem = DtypeSize(e.dtype);
  if (elem == 0) throw FileError(path, name, "bad header: unknown dtype \"" + e.dtype + "\"");

  auto shape = v.find("shape");
  if (shape == v.end() || !shape->is_array())
    throw FileError(path, name, "bad header: \"shape\" missing or not an array");
  // Byte size with overflow checks: every factor is at most kLimit and so is the product.
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  uint64_t bytes = static_cast<uint64_t>(elem);
  for (const json& d : *shape) {
    if (!d.is_number_unsigned())  // the parser types every non-negative integer unsigned
      throw FileError(path, name,
                      "bad header: shape " + shape->dump() + " has a non-integer or negative size");
    const uint64_t n = d.get<uint64_t>();
    if (n > kLimit || (n != 0 && bytes > kLimit / n))
      throw FileError(path, name, "bad header: shape " + shape->dump() + " is too large");
    bytes *= n;
    e.shape.push_back(static_cast<int64_t>(n));
  }

  auto offsets = v.find("data_offsets");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    throw FileError(path, name,
                    "bad header: \"data_offsets\" must be two non-negative integers [begin, end]");
  const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
  if (begin > end)
    throw FileError(path, name,
                    "bad header: data_offsets [" + std::to_string(begin) + ", " +
                        std::to_string(end) + "] end before begin");
  if (end > data_size)
    throw FileError(path, name,
                    "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                        "] reach past the data region (" + std::to_string(data_size) +
                        " bytes): the file is truncated or the header is wrong");
  if (end - begin != bytes)
    throw FileError(path, name,
                    "bad header: shape " + SafetensorsShapeString(e.shape) + " of " + e.dtype +
                        " is " + std::to_string(bytes) + " bytes but data_offsets span " +
                        std::to_string(end - begin));
  e.begin = static_cast<int64_t>(begin);
  e.end = static_cast<int64_t>(end);
  return e;
}

}  // namespace

std::string SafetensorsShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// ---------------------------------------------------------------------------------------------
// SafetensorsFile

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path, "", std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw FileError(path, "", std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(path, "", "not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw FileError(
        path, "",
        "truncated: " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (m == MAP_FAILED)
    throw FileError(path, "", std::string("cannot mmap: ") + std::strerror(map_err));
  map_ = static_cast<const uint8_t*>(m);
  map_size_ = size;

  try {
    uint64_t header_len = 0;
    std::memcpy(&header_len, map_, 8);  // little-endian host (checked at compile time)
    if (header_len > size - 8)
      throw FileError(path, "",
                      "truncated or not a safetensors file: header length " +
                          std::to_string(header_len) + " exceeds the " + std::to_string(size - 8) +
                          " bytes after it");
    if (header_len > kMaxHeaderBytes)
      throw FileError(
          path, "",
          "bad header: header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
    const char* hbegin = reinterpret_cast<const char*>(map_ + 8);
    json header;
    try {
      header = json::parse(hbegin, hbegin + header_len);
    } catch (const json::parse_error& e) {
      throw FileError(path, "",
                      "bad header: not valid JSON (error at byte " + std::to_string(e.byte) +
                          " of the " + std::to_string(header_len) + "-byte header)");
    }
    if (!header.is_object()) throw FileError(path, "", "bad header: not a JSON object");
    data_ = map_ + 8 + header_len;
    const uint64_t data_size = size - 8 - header_len;

    for (const auto& [name, v] : header.items()) {
      if (name == "__metadata__") {
        if (!v.is_object()) throw FileError(path, name, "bad header: not a JSON object");
        for (const auto& [k, mv] : v.items())
          metadata_[k] = mv.is_string() ? mv.get<std::string>() : mv.dump();
        continue;
      }
      entries_.emplace(name, ParseEntry(path, name, v, data_size));
    }

    // No two tensors may share bytes (empty tensors overlap nothing).
    std::vector<const SafetensorsEntry*> by_begin;
    for (const auto& kv : entries_)
      if (kv.second.end > kv.second.begin) by_begin.push_back(&kv.second);
    std::sort(
        by_begin.begin(), by_begin.end(),
        [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < by_begin.size(); ++i) {
      if (by_begin[i]->begin < by_begin[i - 1]->end)
        throw FileError(path, by_begin[i]->name,
                        "bad header: data_offsets overlap those of " + by_begin[i - 1]->name);
    }
  } catch (...) {
    Unmap();
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() { Unmap(); }

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      entries_(std::move(other.entries_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    Unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    data_ = std::exchange(other.data_, nullptr);
    entries_ = std::move(other.entries_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

void SafetensorsFile::Unmap() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
  map_ = nullptr;
  data_ = nullptr;
  map_size_ = 0;
}

std::vector<std::string> SafetensorsFile::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& kv : entries_) names.push_back(kv.first);
  return names;
}

const SafetensorsEntry& SafetensorsFile::Entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw FileError(path_, name, "missing tensor");
  return it->second;
}

torch::Tensor SafetensorsFile::Get(const std::string& name) const {
  const SafetensorsEntry& e = Entry(name);
  torch::ScalarType dtype;
  if (!TorchDtype(e.dtype, &dtype))
    throw FileError(path_, name,
                    "unsupported dtype " + e.dtype + " (a weight must be F32, F16 or BF16)");
  torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(dtype));
  const size_t nbytes = static_cast<size_t>(e.end - e.begin);
  if (nbytes > 0) std::memcpy(t.data_ptr(), data_ + e.begin, nbytes);  // copy out of the map
  return dtype == torch::kFloat32 ? t : t.to(torch::kFloat32);
}

torch::Tensor SafetensorsFile::Get(const std::string& name,
                                   const std::vector<int64_t>& expected_shape) const {
  const SafetensorsEntry& e = Entry(name);
  if (e.shape != expected_shape)
    throw FileError(path_, name,
                    "expected shape " + SafetensorsShapeString(expected_shape) + ", got " +
                        SafetensorsShapeString(e.shape));
  return Get(name);
}

// ---------------------------------------------------------------------------------------------
// SafetensorsCheckpoint

SafetensorsCheckpoint SafetensorsCheckpoint::OpenDir(const std::string& dir) {
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(single, ec)) return OpenFile(single.string());
  if (fs::exists(index, ec)) return OpenFile(index.string());
  if (!fs::is_directory(dir, ec)) throw FileError(dir, "", "no such checkpoint folder");
  throw FileError(dir, "",
                  "no model.safetensors or model.safetensors.index.json in this folder "
                  "(pytorch_model.bin is not read: convert it to safetensors, see docs/GPT2.md)");
}

SafetensorsCheckpoint SafetensorsCheckpoint::OpenFile(const std::string& path) {
  SafetensorsCheckpoint c;
  c.path_ = path;
  const std::string suffix = ".index.json";
  const bool is_index = path.size() >= suffix.size() &&
                        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  if (!is_index) {
    c.files_.push_back(std::make_shared<SafetensorsFile>(path));
    for (const std::string& name : c.files_[0]->Names()) c.where_[name] = 0;
    return c;
  }

  std::ifstream in(path);
  if (!in) throw FileError(path, "", "cannot open the checkpoint index");
  json index;
  try {
    index = json::parse(in);
  } catch (const json::parse_error& e) {
    throw FileError(path, "", "not valid JSON (error at byte " + std::to_string(e.byte) + ")");
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw FileError(path, "weight_map",
                    "missing or not a JSON object of tensor name -> shard file");
  const fs::path base = fs::path(path).parent_path();
  std::map<std::string, size_t> file_index;  // shard file name -> index into files_
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string() || shard.get<std::string>().empty())
      throw FileError(path, "weight_map." + name, "shard file name missing or not a string");
    const std::string file = shard.get<std::string>();
    auto it = file_index.find(file);
    if (it == file_index.end()) {
      const fs::path shard_path = base / file;
      std::error_code ec;
      if (!fs::exists(shard_path, ec))
        throw FileError(path, "weight_map." + name,
                        "shard " + shard_path.string() + " does not exist");
      c.files_.push_back(std::make_shared<SafetensorsFile>(shard_path.string()));
      it = file_index.emplace(file, c.files_.size() - 1).first;
    }
    if (!c.files_[it->second]->Contains(name))
      throw FileError(c.files_[it->second]->path(), name,
                      "missing tensor (the index " + path + " says this shard holds it)");
    c.where_[name] = it->second;
  }
  return c;
}

std::vector<std::string> SafetensorsCheckpoint::Names() const {
  std::vector<std::string> names;
  names.reserve(where_.size());
  for (const auto& kv : where_) names.push_back(kv.first);
  return names;
}

const SafetensorsFile& SafetensorsCheckpoint::FileOf(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw FileError(path_, name, "missing tensor");
  return *files_[it->second];
}

torch::Tensor SafetensorsCheckpoint::Get(const std::string& name) const {
  return FileOf(name).Get(name);
}

torch::Tensor SafetensorsCheckpoint::Get(const std::string& name,
                                         const std::vector<int64_t>& expected_shape) const {
  return FileOf(name).Get(name, expected_shape);
}

// ---------------------------------------------------------------------------------------------
// Writer

void WriteSafetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      torch::ScalarType dtype, const std::map<std::string, std::string>& metadata) {
  const std::string dtype_name = SafetensorsDtypeName(dtype);
  if (dtype_name.empty())
    throw FileError(path, "",
                    std::string("cannot write dtype ") + c10::toString(dtype) +
                        " (supported: float32, float16, bfloat16)");
  std::vector<torch::Tensor> data;
  data.reserve(tensors.size());
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw FileError(path, name, "reserved name, cannot be a tensor");
    if (!t.defined()) throw FileError(path, name, "undefined tensor");
    torch::Tensor c = t.detach().to(torch::kCPU, dtype).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", dtype_name},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(c));
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data region starts 8-byte aligned
  const uint64_t header_len = h.size();

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, "", "cannot create " + tmp + ": " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(&header_len), 8);  // little-endian host
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const torch::Tensor& c : data)
      out.write(static_cast<const char*>(c.data_ptr()),
                static_cast<std::streamsize>(c.numel() * c.element_size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw FileError(path, "", "write failed (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw FileError(path, "", "cannot rename the temporary file into place: " + ec.message());
  }
}

}  // namespace revsweep
