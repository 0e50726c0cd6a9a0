// Reading and writing the safetensors format (Hugging Face's checkpoint format): an 8-byte
// little-endian header length N, N bytes of JSON header ({name: {"dtype", "shape",
// "data_offsets": [begin, end]}, "__metadata__": {...}}), then the raw little-endian tensor
// bytes, offsets relative to the start of that data region.
//
// The reader memory-maps the file read-only, validates the whole header when it opens the
// file, and copies one tensor at a time out of the map (converted to float32), so a loader's
// extra memory is one tensor, not the checkpoint. A sharded checkpoint
// (model.safetensors.index.json + shards) is read through SafetensorsCheckpoint.
//
// Every error is a UserError whose file is the path read and whose key is the tensor name.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace revsweep {

// One tensor's header entry.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // as in the header: "F32", "F16", "BF16", "I32", ...
  std::vector<int64_t> shape;  // empty for a scalar
  int64_t begin = 0, end = 0;  // byte offsets into the data region, begin <= end
};

// A validated, memory-mapped safetensors file. Movable, not copyable; unmaps on destruction.
class SafetensorsFile {
 public:
  // Maps `path` and validates the header: an 8-byte length within the file, a JSON object,
  // every entry with a known safetensors dtype, a non-negative shape whose byte size equals
  // its data_offsets span, offsets inside the data region and no two tensors overlapping.
  // "__metadata__" is kept as strings, never read as a tensor. Throws UserError naming the
  // file (and the tensor) on a missing/unreadable file, a truncated file or a bad header.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Tensor names in the file, sorted.
  std::vector<std::string> Names() const;
  bool Contains(const std::string& name) const { return entries_.count(name) > 0; }
  // Throws UserError (key = name) when the file has no such tensor.
  const SafetensorsEntry& Entry(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor as a new float32 CPU tensor (a copy: it outlives this object). Supported
  // dtypes are F32, F16 and BF16; any other dtype is a UserError naming the tensor and its
  // dtype. Throws UserError when the tensor is missing.
  torch::Tensor Get(const std::string& name) const;
  // As Get, and also throws UserError "expected shape [..], got [..]" unless the stored
  // shape equals `expected_shape`.
  torch::Tensor Get(const std::string& name, const std::vector<int64_t>& expected_shape) const;

 private:
  void Unmap();

  std::string path_;
  const uint8_t* map_ = nullptr;  // whole file, PROT_READ
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data region inside map_
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint folder's weights: `model.safetensors`, or `model.safetensors.index.json`
// ({"weight_map": {name: shard file}}) and the shards it names, each mapped and validated
// once when the index is opened. Only the names in weight_map are visible.
class SafetensorsCheckpoint {
 public:
  // Opens `dir`/model.safetensors when present, else the index. Throws UserError when the
  // folder has neither, the index is malformed or names a shard that is missing or does not
  // hold the tensor the index says it does.
  static SafetensorsCheckpoint OpenDir(const std::string& dir);
  // Opens one file: a .safetensors file or a .safetensors.index.json index.
  static SafetensorsCheckpoint OpenFile(const std::string& path);

  // What was opened (the single file or the index), for messages.
  const std::string& path() const { return path_; }
  // All tensor names, sorted.
  std::vector<std::string> Names() const;
  bool Contains(const std::string& name) const { return where_.count(name) > 0; }
  // The file holding `name`; throws UserError when no file has it.
  const SafetensorsFile& FileOf(const std::string& name) const;
  // As SafetensorsFile::Get on the file holding `name`.
  torch::Tensor Get(const std::string& name) const;
  torch::Tensor Get(const std::string& name, const std::vector<int64_t>& expected_shape) const;

 private:
  std::string path_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

// Writes `tensors` (any float dtype, any device; made contiguous and moved to the CPU) to
// `path` as safetensors with every tensor stored as `dtype` (torch::kFloat32, kFloat16 or
// kBFloat16), entries in name order, the header padded with spaces to a multiple of 8 bytes.
// `metadata` goes under "__metadata__" when non-empty. Writes a temporary file and renames
// it over `path`. Throws UserError on an unsupported dtype or an I/O failure.
void WriteSafetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      torch::ScalarType dtype = torch::kFloat32,
                      const std::map<std::string, std::string>& metadata = {});

// "[768, 2304]": a shape as messages print it.
std::string SafetensorsShapeString(const std::vector<int64_t>& shape);

}  // namespace revsweep
