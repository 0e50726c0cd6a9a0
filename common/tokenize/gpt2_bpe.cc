#include "common/tokenize/gpt2_bpe.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "common/file_io.h"
#include "common/user_error.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A code point that is no code point: an invalid UTF-8 byte (class "other").
constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decodes the UTF-8 sequence at s[i]; sets *len to its byte length (1 for an invalid byte).
char32_t DecodeUtf8(std::string_view s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  *len = 1;
  if (c < 0x80) return c;
  size_t n;
  char32_t cp, min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return kInvalid;
  }
  if (i + n > s.size()) return kInvalid;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return kInvalid;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalid;
  *len = n;
  return cp;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// bytes_to_unicode() and its inverse.
struct ByteTable {
  std::array<char32_t, 256> to_cp;
  std::unordered_map<char32_t, uint8_t> to_byte;
  ByteTable() {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      to_byte[to_cp[b]] = static_cast<uint8_t>(b);
    }
  }
};

const ByteTable& Bytes() {
  static const ByteTable table;
  return table;
}

enum class Cls { kLetter, kNumber, kSpace, kOther };

Cls Classify(char32_t c) {
  if (c == kInvalid) return Cls::kOther;
  if (Gpt2IsLetter(c)) return Cls::kLetter;
  if (Gpt2IsNumber(c)) return Cls::kNumber;
  if (Gpt2IsWhitespace(c)) return Cls::kSpace;
  return Cls::kOther;
}

std::string ReadUserFile(const std::string& path) {
  std::string text, error;
  if (!TryReadFile(path, &text, &error)) throw UserError(path, 0, 0, "", "cannot open: " + error);
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Byte table and classes

char32_t Gpt2ByteToCodePoint(uint8_t b) { return Bytes().to_cp[b]; }

std::string Gpt2BytesToPieces(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) AppendUtf8(Bytes().to_cp[static_cast<uint8_t>(ch)], &out);
  return out;
}

std::string Gpt2PiecesToBytes(std::string_view pieces) {
  const ByteTable& t = Bytes();
  std::string out;
  out.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size();) {
    size_t len;
    const char32_t cp = DecodeUtf8(pieces, i, &len);
    auto it = cp == kInvalid ? t.to_byte.end() : t.to_byte.find(cp);
    if (it != t.to_byte.end()) {
      out.push_back(static_cast<char>(it->second));
    } else {
      out.append(pieces.substr(i, len));  // not a byte piece: copied through
    }
    i += len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenization

std::vector<std::string_view> Gpt2PreTokenize(std::string_view text) {
  // Code points with their byte offsets (offset[n] == text.size()).
  std::vector<char32_t> cp;
  std::vector<Cls> cls;
  std::vector<size_t> offset;
  for (size_t i = 0; i < text.size();) {
    size_t len;
    const char32_t c = DecodeUtf8(text, i, &len);
    cp.push_back(c);
    cls.push_back(Classify(c));
    offset.push_back(i);
    i += len;
  }
  const size_t n = cp.size();
  offset.push_back(text.size());

  std::vector<std::string_view> out;
  auto emit = [&](size_t from, size_t to) {
    out.push_back(text.substr(offset[from], offset[to] - offset[from]));
  };
  // End of the run of class `k` starting at j.
  auto run = [&](size_t j, Cls k) {
    while (j < n && cls[j] == k) ++j;
    return j;
  };
  size_t i = 0;
  while (i < n) {
    const char32_t c = cp[i];
    // 's|'t|'re|'ve|'m|'ll|'d
    if (c == '\'' && i + 1 < n) {
      const char32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        emit(i, i + 2);
        i += 2;
        continue;
      }
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
        emit(i, i + 3);
        i += 3;
        continue;
      }
    }
    //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+  (the optional prefix is U+0020 only)
    const size_t start = (c == ' ' && i + 1 < n && cls[i + 1] != Cls::kSpace) ? i + 1 : i;
    if (cls[start] != Cls::kSpace) {
      const size_t end = run(start, cls[start]);
      emit(i, end);
      i = end;
      continue;
    }
    // \s+(?!\S) | \s+
    const size_t end = run(i, Cls::kSpace);
    if (end == n || end - i == 1) {
      emit(i, end);  // to the end of the text, or a single space before a non-space
      i = end;
    } else {
      emit(i, end - 1);  // leave the last one to prefix the next word
      i = end - 1;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Gpt2Bpe

struct Gpt2Bpe::State {
  std::vector<std::string> pieces;               // id -> piece
  std::unordered_map<std::string, int32_t> ids;  // piece -> id
  std::vector<std::string> bytes;                // id -> raw bytes it stands for
  std::array<int32_t, 256> byte_id;              // byte -> id of its one-byte piece
  // (left id << 32 | right id) -> (rank, merged id).
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  int32_t eos = -1;

  static constexpr size_t kCacheLimit = 1 << 16;
  mutable std::mutex mu;
  mutable std::unordered_map<std::string, TokenIds> cache;  // pre-token bytes -> ids

  // BPE of one pre-token, as encoder.py: repeatedly merge every occurrence, left to right,
  // of the adjacent pair with the lowest rank, until no pair has one.
  void Bpe(std::string_view token, TokenIds* out) const {
    TokenIds word;
    word.reserve(token.size());
    for (char ch : token) word.push_back(byte_id[static_cast<uint8_t>(ch)]);
    auto key = [](int32_t a, int32_t b) {
      return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    };
    TokenIds next;
    next.reserve(word.size());
    while (word.size() > 1) {
      int32_t best_rank = std::numeric_limits<int32_t>::max(), first = -1, second = -1, merged = -1;
      for (size_t k = 0; k + 1 < word.size(); ++k) {
        auto it = merges.find(key(word[k], word[k + 1]));
        if (it != merges.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          first = word[k];
          second = word[k + 1];
          merged = it->second.second;
        }
      }
      if (merged < 0) break;
      next.clear();
      for (size_t k = 0; k < word.size();) {
        if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
          next.push_back(merged);
          k += 2;
        } else {
          next.push_back(word[k]);
          k += 1;
        }
      }
      word.swap(next);
    }
    out->insert(out->end(), word.begin(), word.end());
  }
};

Gpt2Bpe Gpt2Bpe::FromDir(const std::string& dir) {
  auto pick = [&](const char* a, const char* b) -> std::string {
    std::error_code ec;
    for (const char* name : {a, b}) {
      const fs::path p = fs::path(dir) / name;
      if (fs::exists(p, ec)) return p.string();
    }
    throw UserError(dir, 0, 0, "",
                    std::string("no ") + a + " (or " + b + "): the GPT-2 tokenizer needs " +
                        "encoder.json + vocab.bpe (deploy/fetch-gpt2-tokenizer.sh fetches them) "
                        "or a Hugging Face GPT-2 folder's vocab.json + merges.txt");
  };
  const std::string encoder = pick("encoder.json", "vocab.json");
  const std::string merges = pick("vocab.bpe", "merges.txt");
  return Gpt2Bpe(encoder, merges);
}

Gpt2Bpe::Gpt2Bpe(const std::string& encoder_json_path, const std::string& vocab_bpe_path)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  // encoder.json: {piece: id}, ids 0..n-1 each once.
  json enc;
  try {
    enc = json::parse(ReadUserFile(encoder_json_path));
  } catch (const json::parse_error& e) {
    throw UserError(encoder_json_path, 0, 0, "",
                    "not valid JSON (error at byte " + std::to_string(e.byte) + ")");
  }
  if (!enc.is_object() || enc.empty())
    throw UserError(encoder_json_path, 0, 0, "", "not a JSON object of piece -> id");
  s.pieces.assign(enc.size(), std::string());
  std::vector<bool> seen(enc.size(), false);
  for (const auto& [piece, v] : enc.items()) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() >= enc.size())
      throw UserError(encoder_json_path, 0, 0, piece,
                      "id " + v.dump() + " is not in 0.." + std::to_string(enc.size() - 1));
    const auto id = static_cast<int32_t>(v.get<uint64_t>());
    if (seen[id])
      throw UserError(encoder_json_path, 0, 0, piece,
                      "id " + std::to_string(id) + " is also " + s.pieces[id] + "'s");
    seen[id] = true;
    s.pieces[id] = piece;
    s.ids.emplace(piece, id);
  }
  s.bytes.reserve(s.pieces.size());
  for (const std::string& p : s.pieces) s.bytes.push_back(Gpt2PiecesToBytes(p));
  for (int b = 0; b < 256; ++b) {
    std::string p;
    AppendUtf8(Gpt2ByteToCodePoint(static_cast<uint8_t>(b)), &p);
    auto it = s.ids.find(p);
    if (it == s.ids.end())
      throw UserError(encoder_json_path, 0, 0, "",
                      "lacks the piece \"" + p + "\" of byte " + std::to_string(b) +
                          " (not a byte-level BPE vocabulary)");
    s.byte_id[b] = it->second;
  }
  auto eos = s.ids.find("<|endoftext|>");
  s.eos = eos == s.ids.end() ? -1 : eos->second;

  // vocab.bpe: "#version: 0.2", then one "left right" merge per line, by rank.
  const std::string text = ReadUserFile(vocab_bpe_path);
  std::istringstream lines(text);
  std::string line;
  int line_no = 0;
  int32_t rank = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() ||
        line.find(' ', sp + 1) != std::string::npos)
      throw UserError(vocab_bpe_path, line_no, 1, "",
                      "expected two pieces separated by one space, got \"" + line + "\"");
    const std::string left = line.substr(0, sp), right = line.substr(sp + 1);
    auto id_of = [&](const std::string& p) {
      auto it = s.ids.find(p);
      if (it == s.ids.end())
        throw UserError(vocab_bpe_path, line_no, 1, "",
                        "piece \"" + p + "\" is not in " + encoder_json_path);
      return it->second;
    };
    const int32_t a = id_of(left), b = id_of(right), m = id_of(left + right);
    const uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    s.merges[key] = {rank++, m};  // a repeated merge takes its last rank, as encoder.py's dict
  }
}

Gpt2Bpe::~Gpt2Bpe() = default;
Gpt2Bpe::Gpt2Bpe(Gpt2Bpe&&) noexcept = default;
Gpt2Bpe& Gpt2Bpe::operator=(Gpt2Bpe&&) noexcept = default;

TokenIds Gpt2Bpe::Encode(std::string_view text) const {
  const State& s = *s_;
  TokenIds out;
  out.reserve(text.size() / 3 + 1);
  for (std::string_view token : Gpt2PreTokenize(text)) {
    {
      std::lock_guard<std::mutex> lock(s.mu);
      auto it = s.cache.find(std::string(token));
      if (it != s.cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    TokenIds ids;
    s.Bpe(token, &ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.cache.size() >= State::kCacheLimit) s.cache.clear();
    s.cache.emplace(std::string(token), std::move(ids));
  }
  return out;
}

std::string Gpt2Bpe::Decode(const TokenIds& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= s_->bytes.size())
      throw std::out_of_range("GPT-2 tokenizer: token id " + std::to_string(id) +
                              " is outside the vocabulary [0, " + std::to_string(s_->bytes.size()) +
                              ")");
    out += s_->bytes[id];
  }
  return out;
}

int Gpt2Bpe::vocab_size() const { return static_cast<int>(s_->pieces.size()); }
int32_t Gpt2Bpe::eos_id() const { return s_->eos; }
const std::vector<std::string>& Gpt2Bpe::pieces() const { return s_->pieces; }

int32_t Gpt2Bpe::PieceToId(std::string_view piece) const {
  auto it = s_->ids.find(std::string(piece));
  return it == s_->ids.end() ? -1 : it->second;
}

}  // namespace revsweep
