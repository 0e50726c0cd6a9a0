// The safetensors reader and writer: round trips in each dtype, header validation on files
// crafted byte by byte, sharded checkpoints. (Parity with an independent writer, Python's,
// is in gpt2_import_test.cc.)
#include "worker/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  testutil::TempDir tmp_{"revsweep_safetensors"};
  fs::path dir_ = tmp_.path();

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A file made byte by byte: 8-byte little-endian header length (the header's own length
  // unless `header_len` is given), the header text, then `data`.
  std::string WriteRaw(const std::string& name, const std::string& header, const std::string& data,
                       std::optional<uint64_t> header_len = std::nullopt) {
    const std::string path = Path(name);
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = header_len.value_or(header.size());
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
    return path;
  }
};

// The message of the UserError `f` throws ("" and a test failure when it throws none).
template <typename F>
std::string ErrorOf(F f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UserError";
  return "";
}

std::string Floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

TEST_F(SafetensorsTest, RoundTripsEveryDtype) {
  torch::manual_seed(0);
  std::map<std::string, torch::Tensor> tensors = {
      {"a.weight", torch::randn({3, 5})},    {"b", torch::randn({7})},
      {"scalar", torch::tensor(2.5f)},       {"empty", torch::zeros({0, 4})},
      {"strided", torch::randn({4, 6}).t()},  // non-contiguous input
  };
  for (auto dtype : {torch::kFloat32, torch::kFloat16, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const std::string path = Path("rt.safetensors");
    WriteSafetensors(path, tensors, dtype, {{"format", "pt"}});
    SafetensorsFile f(path);
    EXPECT_EQ(f.Names(), (std::vector<std::string>{"a.weight", "b", "empty", "scalar", "strided"}));
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_FALSE(f.Contains("__metadata__"));
    for (const auto& [name, t] : tensors) {
      torch::Tensor got = f.Get(name);
      EXPECT_EQ(got.scalar_type(), torch::kFloat32) << name;
      EXPECT_EQ(got.sizes(), t.sizes()) << name;
      EXPECT_TRUE(torch::equal(got, t.to(dtype).to(torch::kFloat32))) << name;
    }
    EXPECT_EQ(f.Entry("a.weight").dtype, dtype == torch::kFloat32   ? "F32"
                                         : dtype == torch::kFloat16 ? "F16"
                                                                    : "BF16");
  }
}

TEST_F(SafetensorsTest, HeaderIsPaddedAndDataAligned) {
  const std::string path = Path("pad.safetensors");
  WriteSafetensors(path, {{"x", torch::ones({3})}});
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST_F(SafetensorsTest, TensorsOutliveTheFileAndMovesKeepTheMapping) {
  const std::string path = Path("m.safetensors");
  WriteSafetensors(path, {{"x", torch::arange(6, torch::kFloat32).view({2, 3})}});
  torch::Tensor t;
  {
    SafetensorsFile a(path);
    SafetensorsFile b(std::move(a));
    SafetensorsFile c(path);
    c = std::move(b);
    t = c.Get("x");
  }
  fs::remove(path);
  EXPECT_TRUE(torch::equal(t, torch::arange(6, torch::kFloat32).view({2, 3})));
}

TEST_F(SafetensorsTest, ReadsUnalignedData) {
  // Pad the header so the data starts at an odd byte: its floats are not 4-byte aligned.
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while ((8 + header.size()) % 4 != 1) header += ' ';
  const std::string path = WriteRaw("u.safetensors", header, Floats({1.5f, -2.25f}));
  ASSERT_NE((8 + header.size()) % 4, 0u);
  SafetensorsFile f(path);
  EXPECT_TRUE(torch::equal(f.Get("x"), torch::tensor({1.5f, -2.25f})));
}

TEST_F(SafetensorsTest, ErrorsNameTheFileAndTheTensor) {
  const std::string path = Path("e.safetensors");
  WriteSafetensors(path, {{"w", torch::zeros({2, 3})}});
  SafetensorsFile f(path);
  try {
    f.Get("nope");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.key(), "nope");
    EXPECT_EQ(std::string(e.what()), path + ": nope: missing tensor");
  }
  EXPECT_EQ(ErrorOf([&] { f.Get("w", {3, 2}); }), path + ": w: expected shape [3, 2], got [2, 3]");
  EXPECT_EQ(f.Get("w", {2, 3}).sizes(), (std::vector<int64_t>{2, 3}));
}

TEST_F(SafetensorsTest, RejectsTruncatedFiles) {
  {
    std::ofstream(Path("tiny"), std::ios::binary) << "abc";
    const std::string msg = ErrorOf([&] { SafetensorsFile f(Path("tiny")); });
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
  {
    // The header length says more than the file holds.
    const std::string path = WriteRaw("hl", "{}", "", 4096);
    const std::string msg = ErrorOf([&] { SafetensorsFile f(path); });
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    EXPECT_NE(msg.find("4096"), std::string::npos) << msg;
  }
  {
    // A written file cut short: the last tensor's bytes are gone.
    const std::string path = Path("cut.safetensors");
    WriteSafetensors(path, {{"a", torch::ones({10})}, {"b", torch::ones({10})}});
    fs::resize_file(path, fs::file_size(path) - 12);
    const std::string msg = ErrorOf([&] { SafetensorsFile f(path); });
    EXPECT_NE(msg.find(path + ": b: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
  {
    const std::string msg = ErrorOf([&] { SafetensorsFile f(Path("absent")); });
    EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
  }
}

TEST_F(SafetensorsTest, RejectsBadHeaders) {
  struct Case {
    std::string header, data, expect;
  };
  const std::vector<Case> cases = {
      {"{\"x\": [", "", "not valid JSON"},
      {"[1, 2]", "", "not a JSON object"},
      {R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", "x",
       "x: bad header: unknown dtype \"Q4\""},
      {R"({"x":{"shape":[1],"data_offsets":[0,4]}})", Floats({1}), "x: bad header: \"dtype\""},
      {R"({"x":{"dtype":"F32","data_offsets":[0,4]}})", Floats({1}), "x: bad header: \"shape\""},
      {R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", Floats({1}), "negative"},
      {R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", Floats({1}), "non-integer"},
      {R"({"x":{"dtype":"F32","shape":[1]}})", Floats({1}), "x: bad header: \"data_offsets\""},
      {R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", Floats({1}),
       "end before begin"},
      {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", Floats({1}),
       "x: bad header: shape [2] of F32 is 8 bytes but data_offsets span 4"},
      {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", Floats({1}),
       "x: data_offsets [0, 8] reach past the data region (4 bytes)"},
      {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       Floats({1, 2}), "y: bad header: data_offsets overlap those of x"},
      {R"({"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", Floats({1}),
       "too large"},
      {R"({"__metadata__":[1],"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", Floats({1}),
       "__metadata__: bad header"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string path = WriteRaw("bad" + std::to_string(i++), c.header, c.data);
    const std::string msg = ErrorOf([&] { SafetensorsFile f(path); });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.header << "\n -> " << msg;
    EXPECT_EQ(msg.rfind(path, 0), 0u) << msg;
  }
}

TEST_F(SafetensorsTest, OtherDtypesOpenButOnlyFloatsRead) {
  // An I32 tensor is a valid safetensors entry (Get refuses it by name); a BOOL mask next
  // to weights does not stop the file from opening.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
      R"("mask":{"dtype":"BOOL","shape":[4],"data_offsets":[8,12]},"w":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})";
  const std::string path =
      WriteRaw("i32", header, std::string(8, '\1') + std::string(4, '\0') + Floats({3.0f}));
  SafetensorsFile f(path);
  EXPECT_EQ(f.Names(), (std::vector<std::string>{"ids", "mask", "w"}));
  EXPECT_EQ(ErrorOf([&] { f.Get("ids"); }),
            path + ": ids: unsupported dtype I32 (a weight must be F32, F16 or BF16)");
  EXPECT_FLOAT_EQ(f.Get("w").item<float>(), 3.0f);
}

TEST_F(SafetensorsTest, WriterRefusesOtherDtypes) {
  const std::string msg = ErrorOf([&] {
    WriteSafetensors(Path("w"), {{"x", torch::ones({1})}}, torch::kInt32);
  });
  EXPECT_NE(msg.find("cannot write dtype Int"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(Path("w")));
}

TEST_F(SafetensorsTest, ShardedCheckpoints) {
  WriteSafetensors(Path("model-00001-of-00002.safetensors"), {{"a", torch::ones({2})}});
  WriteSafetensors(Path("model-00002-of-00002.safetensors"),
                   {{"b", torch::full({3}, 2.0f)}, {"c", torch::zeros({1})}});
  std::ofstream(Path("model.safetensors.index.json"))
      << R"({"metadata":{"total_size":24},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
         R"("b":"model-00002-of-00002.safetensors"}})";
  SafetensorsCheckpoint c = SafetensorsCheckpoint::OpenDir(dir_.string());
  EXPECT_EQ(c.path(), Path("model.safetensors.index.json"));
  EXPECT_EQ(c.Names(), (std::vector<std::string>{"a", "b"}));  // only the index's names
  EXPECT_TRUE(torch::equal(c.Get("a"), torch::ones({2})));
  EXPECT_TRUE(torch::equal(c.Get("b", {3}), torch::full({3}, 2.0f)));
  EXPECT_EQ(c.FileOf("b").path(), Path("model-00002-of-00002.safetensors"));
  EXPECT_NE(ErrorOf([&] { c.Get("c"); }).find("c: missing tensor"), std::string::npos);

  // The single file wins when both are present.
  WriteSafetensors(Path("model.safetensors"), {{"z", torch::ones({1})}});
  EXPECT_EQ(SafetensorsCheckpoint::OpenDir(dir_.string()).Names(), std::vector<std::string>{"z"});
  fs::remove(Path("model.safetensors"));

  std::ofstream(Path("model.safetensors.index.json"))
      << R"({"weight_map":{"a":"model-00003-of-00002.safetensors"}})";
  std::string msg = ErrorOf([&] { SafetensorsCheckpoint::OpenDir(dir_.string()); });
  EXPECT_NE(msg.find("weight_map.a: shard"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;

  std::ofstream(Path("model.safetensors.index.json"))
      << R"({"weight_map":{"a":"model-00002-of-00002.safetensors"}})";
  msg = ErrorOf([&] { SafetensorsCheckpoint::OpenDir(dir_.string()); });
  EXPECT_EQ(msg, Path("model-00002-of-00002.safetensors") + ": a: missing tensor (the index " +
                     Path("model.safetensors.index.json") + " says this shard holds it)");

  std::ofstream(Path("model.safetensors.index.json")) << R"({"weights":{}})";
  msg = ErrorOf([&] { SafetensorsCheckpoint::OpenDir(dir_.string()); });
  EXPECT_NE(msg.find("weight_map: missing"), std::string::npos) << msg;

  fs::remove(Path("model.safetensors.index.json"));
  msg = ErrorOf([&] { SafetensorsCheckpoint::OpenDir(dir_.string()); });
  EXPECT_NE(msg.find("no model.safetensors or model.safetensors.index.json"), std::string::npos)
      << msg;
}

}  // namespace
}  // namespace revsweep
