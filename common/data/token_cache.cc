#include "common/data/token_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "common/config/settings.h"
#include "common/file_io.h"
#include "common/tokenize/gpt2_bpe.h"

namespace revsweep {
namespace {

using nlohmann::json;
constexpr const char* kMagic = "RSTK1";

json ItemsToJson(const std::vector<TokEvalSet>& sets) {
  json out = json::array();
  for (const auto& s : sets) {
    json items = json::array();
    for (const auto& it : s.items) items.push_back({it.prompt, it.target, it.group});
    out.push_back({{"cell", s.cell}, {"items", items}});
  }
  return out;
}

std::vector<TokEvalSet> ItemsFromJson(const json& j) {
  std::vector<TokEvalSet> out;
  for (const auto& s : j) {
    TokEvalSet set;
    set.cell = s.at("cell").get<std::string>();
    for (const auto& it : s.at("items")) {
      TokEvalItem item;
      item.prompt = it.at(0).get<TokenIds>();
      item.target = it.at(1).get<std::string>();
      item.group = it.at(2).get<int>();
      set.items.push_back(std::move(item));
    }
    out.push_back(std::move(set));
  }
  return out;
}

}  // namespace

void WriteTokenizedTask(const std::string& path, const TokenizedTask& t) {
  json j;
  j["vocab_size"] = t.vocab_size;
  j["bos_id"] = t.bos_id;
  j["eos_id"] = t.eos_id;
  j["pad_id"] = t.pad_id;
  j["decoder"] = t.decoder;
  j["pieces"] = t.pieces;
  j["key"] = t.key;
  json train = json::array();
  for (const auto& d : t.train) train.push_back({d.prompt, d.completion});
  j["train"] = train;
  j["evals"] = ItemsToJson(t.evals);
  j["chance"] = ItemsToJson(t.chance);
  json lk = json::array();
  for (const auto& l : t.likelihood) {
    lk.push_back({l.prompt, l.correct, l.random, l.group, l.random_person});
  }
  j["likelihood"] = lk;
  j["pieces_per_name"] = t.pieces_per_name;
  std::string body = j.dump();
  std::string header = std::string(kMagic) + " " + Hex64(Fnv1a64(body.data(), body.size())) + "\n";
  WriteFileAtomic(path, header + body);
}

TokenizedTask ReadTokenizedTask(const std::string& path) {
  std::string all, error;
  if (!TryReadFile(path, &all, &error))
    throw std::runtime_error(path + ": cannot read token cache: " + error);
  size_t nl = all.find('\n');
  if (nl == std::string::npos || all.compare(0, 5, kMagic) != 0 || nl != 5 + 1 + 16)
    throw std::runtime_error(path + ": not a revsweep token cache (bad header)");
  std::string want = all.substr(6, 16);
  std::string body = all.substr(nl + 1);
  if (Hex64(Fnv1a64(body.data(), body.size())) != want)
    throw std::runtime_error(path + ": token cache checksum mismatch (truncated or corrupt)");
  json j = json::parse(body);
  TokenizedTask t;
  t.vocab_size = j.at("vocab_size");
  t.bos_id = j.at("bos_id");
  t.eos_id = j.at("eos_id");
  t.pad_id = j.at("pad_id");
  t.decoder = j.at("decoder");
  t.pieces = j.at("pieces").get<std::vector<std::string>>();
  t.key = j.at("key");
  for (const auto& d : j.at("train")) t.train.push_back({d.at(0), d.at(1)});
  t.evals = ItemsFromJson(j.at("evals"));
  t.chance = ItemsFromJson(j.at("chance"));
  t.pieces_per_name = j.at("pieces_per_name").get<double>();
  for (const auto& l : j.at("likelihood")) {
    t.likelihood.push_back({l.at(0), l.at(1), l.at(2), l.at(3).get<int>(), l.at(4)});
  }
  return t;
}

std::string DecodeTokens(const TokenizedTask& task, const TokenIds& ids) {
  std::string joined;
  for (int32_t id : ids) {
    if (id == task.bos_id || id == task.eos_id || id == task.pad_id) continue;
    if (id < 0 || id >= static_cast<int32_t>(task.pieces.size())) continue;
    joined += task.pieces[id];
  }
  std::string out;
  if (task.decoder == "gpt2") return Gpt2PiecesToBytes(joined);
  if (task.decoder == "word") return joined;  // word pieces are the text itself
  // sentencepiece: U+2581 marks a space; <0xNN> pieces are raw bytes.
  for (size_t i = 0; i < joined.size();) {
    if (joined.compare(i, 3, "\xE2\x96\x81") == 0) {
      out.push_back(' ');
      i += 3;
    } else if (joined.compare(i, 3, "<0x") == 0 && i + 6 <= joined.size() && joined[i + 5] == '>') {
      out.push_back(static_cast<char>(std::stoi(joined.substr(i + 3, 2), nullptr, 16)));
      i += 6;
    } else {
      out.push_back(joined[i++]);
    }
  }
  return out;
}

}  // namespace revsweep
