#include "common/config/settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "common/text_util.h"

namespace revsweep {
namespace {

// Appends the shortest "%.{p}g" text that parses back to exactly `d`, so ids do not depend on
// how a value was spelled (0.1 vs 0.10000000000000001) and never on printf noise. std::to_chars
// with a precision is "%.{p}g" without the locale: a process that calls setlocale() must not
// change trial ids. The bytes are persisted (trial ids, stores): they must never change.
void AppendDouble(std::string* out, double d) {
  // JSON has no NaN or infinity; validated settings never hold them, so this only keeps the
  // output parseable for hand-built maps.
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  char buf[64];
  // Any precision that round-trips has at least as many significant digits as the shortest
  // round-trip form (one Ryu conversion), so starting the search there stops at the same
  // precision as a search from 1 would, usually at the first try instead of after up to 17
  // pairs of conversions. The shortest form itself is not the answer: "%.{P}g" is the correctly
  // rounded P-digit value, which can differ from it (or fail to round-trip), and has its own
  // layout (10 is "1e+01").
  const char* sci_end = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific).ptr;
  int shortest_digits = 0;
  for (const char* c = buf; c != sci_end && *c != 'e'; ++c) {
    if (*c >= '0' && *c <= '9') ++shortest_digits;
  }
  const char* end = buf;
  for (int precision = std::max(shortest_digits, 1); precision <= 17; ++precision) {
    auto [e, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::general, precision);
    if (ec != std::errc()) continue;
    end = e;
    double back = 0;
    auto parsed = std::from_chars(buf, end, back);
    if (parsed.ec == std::errc() && back == d) break;
  }
  out->append(buf, static_cast<size_t>(end - buf));
  // A double must not print like an integer: 3.0 and 3 are different settings and
  // SettingsFromJson has to give back the same type.
  const std::string_view text(buf, end - buf);
  if (text.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

void AppendInt(std::string* out, int64_t i) {
  char buf[24];
  out->append(buf, std::to_chars(buf, buf + sizeof(buf), i).ptr);
}

// Printable ASCII other than '"' and '\\': bytes that JSON strings hold as they are.
bool IsPlainChar(unsigned char c) { return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\'; }

// The first byte in [p, end) that is not plain, or `end`. Every key and string value goes
// through here when writing and again when reading, so it tests eight bytes at a time.
const char* SkipPlain(const char* p, const char* end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  // Sets the high bit of the bytes of `w` below `n` (n <= 0x80). A borrow only leaves a byte
  // that is itself below `n`, so every byte under the lowest flagged one is exact: the lowest
  // flag marks the first such byte, which is all the search needs.
  auto below = [](uint64_t w, uint64_t n) { return (w - kOnes * n) & ~w & kHighs; };
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    const uint64_t bad = (w & kHighs) | below(w, 0x20) | below(w ^ (kOnes * '"'), 1) |
                         below(w ^ (kOnes * '\\'), 1) | below(w ^ (kOnes * 0x7F), 1);
    if (bad != 0) return p + __builtin_ctzll(bad) / 8;
    p += 8;
  }
#endif
  while (p != end && IsPlainChar(static_cast<unsigned char>(*p))) ++p;
  return p;
}

void AppendJsonString(std::string* out, const std::string& s) {
  // Fast path for the common case (keys and plain values): printable ASCII needing no escape
  // gives the same bytes as nlohmann's dump.
  if (SkipPlain(s.data(), s.data() + s.size()) == s.data() + s.size()) {
    out->push_back('"');
    out->append(s);
    out->push_back('"');
    return;
  }
  // `replace` keeps dump() from throwing on invalid UTF-8; the config loader rejects such
  // strings, so it only matters for maps built by hand.
  out->append(nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void AppendValueJson(std::string* out, const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    AppendJsonString(out, *s);
  } else if (const auto* b = std::get_if<bool>(&v)) {
    out->append(*b ? "true" : "false");
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    AppendInt(out, *i);
  } else {
    AppendDouble(out, std::get<double>(v));
  }
}

template <typename Pred>
void AppendJsonObject(std::string* out, const Settings& s, Pred include) {
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : s) {
    if (!include(key)) continue;
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, key);
    out->push_back(':');
    AppendValueJson(out, value);
  }
  out->push_back('}');
}

// Per-thread buffer the JSON objects are built in: after the first trial it has the capacity
// for a whole object, so building one costs no reallocation, and TrialId hashes it in place
// without allocating at all.
std::string& ScratchBuffer() {
  thread_local std::string buf;
  // Do not pin a huge buffer for the thread's lifetime after one oversized map.
  if (buf.capacity() > (1u << 20)) std::string().swap(buf);
  buf.clear();
  return buf;
}

const Value& Find(const Settings& s, const std::string& key) {
  auto it = s.find(key);
  if (it == s.end()) throw std::out_of_range("settings: missing key " + key);
  return it->second;
}

// The reference parser: nlohmann, then conversion of each member. Its results and errors
// define SettingsFromJson on any input.
Settings SettingsFromJsonSlow(const std::string& json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("settings JSON: ") + e.what());
  }
  if (!doc.is_object()) throw std::runtime_error("settings JSON: expected an object");
  Settings out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const auto& v = it.value();
    switch (v.type()) {
      case nlohmann::json::value_t::boolean:
        out[it.key()] = v.get<bool>();
        break;
      case nlohmann::json::value_t::number_integer:
        out[it.key()] = v.get<int64_t>();
        break;
      case nlohmann::json::value_t::number_unsigned: {
        uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          throw std::runtime_error("settings JSON: " + it.key() + ": integer out of range");
        }
        out[it.key()] = static_cast<int64_t>(u);
        break;
      }
      case nlohmann::json::value_t::number_float:
        out[it.key()] = v.get<double>();
        break;
      case nlohmann::json::value_t::string:
        out[it.key()] = v.get<std::string>();
        break;
      default:
        throw std::runtime_error("settings JSON: " + it.key() + ": expected a scalar");
    }
  }
  return out;
}

// The fast parser below accepts only the shapes AppendJsonObject writes for ordinary maps and
// gives up (returns false) on anything else, leaving that input to SettingsFromJsonSlow: what
// it accepts, it must convert exactly as the slow path does; what it rejects costs one wasted
// partial scan.

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// `p` is just past an opening quote. Returns the closing quote of a string made of plain
// characters only, or nullptr (escapes, control characters, non-ASCII, no closing quote).
const char* ScanPlainString(const char* p, const char* end) {
  p = SkipPlain(p, end);
  return (p != end && *p == '"') ? p : nullptr;
}

// A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. Like nlohmann, one with a
// fraction or exponent is a double and one without is an integer. Integers outside int64 and
// doubles outside the finite range are left to the slow path: nlohmann turns some into
// doubles, some into errors, and std::from_chars reports them as out of range.
bool ParseNumber(const char** pp, const char* end, Value* value) {
  const char* const begin = *pp;
  const char* p = begin;
  if (p != end && *p == '-') ++p;
  if (p == end) return false;
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    while (p != end && IsDigit(*p)) ++p;
  } else {
    return false;
  }
  bool is_double = false;
  if (p != end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return false;
    while (p != end && IsDigit(*p)) ++p;
    is_double = true;
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !IsDigit(*p)) return false;
    while (p != end && IsDigit(*p)) ++p;
    is_double = true;
  }
  if (is_double) {
    // Correctly rounded, like the strtod nlohmann calls, so both give the same double.
    double d = 0;
    auto [ptr, ec] = std::from_chars(begin, p, d, std::chars_format::general);
    if (ec != std::errc() || ptr != p || !std::isfinite(d)) return false;
    *value = d;
  } else {
    int64_t i = 0;
    auto [ptr, ec] = std::from_chars(begin, p, i);
    if (ec != std::errc() || ptr != p) return false;
    *value = i;
  }
  *pp = p;
  return true;
}

bool ParseScalar(const char** pp, const char* end, Value* value) {
  const char* p = *pp;
  if (p == end) return false;
  switch (*p) {
    case '"': {
      const char* close = ScanPlainString(p + 1, end);
      if (close == nullptr) return false;
      value->emplace<std::string>(p + 1, close);
      *pp = close + 1;
      return true;
    }
    case 't':
      if (end - p < 4 || std::memcmp(p, "true", 4) != 0) return false;
      *value = true;
      *pp = p + 4;
      return true;
    case 'f':
      if (end - p < 5 || std::memcmp(p, "false", 5) != 0) return false;
      *value = false;
      *pp = p + 5;
      return true;
    default:
      return ParseNumber(pp, end, value);
  }
}

// {"key":scalar,...} with no whitespace, plain strings, no duplicate keys, nothing after the
// closing brace. On false, *out holds a partial result and must be discarded.
bool ParseFlatObject(const std::string& json, Settings* out) {
  const char* p = json.data();
  const char* const end = p + json.size();
  if (p == end || *p != '{') return false;
  ++p;
  if (p != end && *p == '}') return p + 1 == end;
  while (true) {
    if (p == end || *p != '"') return false;
    const char* key_begin = p + 1;
    const char* key_end = ScanPlainString(key_begin, end);
    if (key_end == nullptr) return false;
    p = key_end + 1;
    if (p == end || *p != ':') return false;
    ++p;
    Value value;
    if (!ParseScalar(&p, end, &value)) return false;
    // Keys come sorted from SettingsToJson, so the end is the right hint: one comparison per
    // insert instead of a tree search.
    const size_t before = out->size();
    out->emplace_hint(out->end(), std::piecewise_construct,
                      std::forward_as_tuple(key_begin, key_end - key_begin),
                      std::forward_as_tuple(std::move(value)));
    // A duplicate key: nlohmann keeps the last value; leave that to it.
    if (out->size() == before) return false;
    if (p == end) return false;
    if (*p == '}') return p + 1 == end;
    if (*p != ',') return false;
    ++p;
  }
}

}  // namespace

std::string ValueToString(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  std::string out;
  AppendValueJson(&out, v);
  return out;
}

std::string ValueToJson(const Value& v) {
  std::string out;
  AppendValueJson(&out, v);
  return out;
}

bool IsIdentityKey(const std::string& key) {
  return !StartsWith(key, "resources.") && !StartsWith(key, "train.checkpoint_every_") &&
         !StartsWith(key, "train.fault_");
}

std::string CanonicalJson(const Settings& s) {
  std::string& buf = ScratchBuffer();
  AppendJsonObject(&buf, s, IsIdentityKey);
  return buf;
}

std::string SettingsToJson(const Settings& s) {
  std::string& buf = ScratchBuffer();
  AppendJsonObject(&buf, s, [](const std::string&) { return true; });
  return buf;
}

Settings SettingsFromJson(const std::string& json) {
  Settings out;
  if (ParseFlatObject(json, &out)) return out;
  return SettingsFromJsonSlow(json);
}

Settings Overlay(Settings base, const Settings& own) {
  for (const auto& [k, v] : own) base.insert_or_assign(k, v);
  return base;
}

uint64_t Fnv1a64(const void* data, size_t n, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string Hex64(uint64_t h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kDigits[h & 0xF];
  return out;
}

std::string TrialId(const Settings& s) {
  std::string& json = ScratchBuffer();
  AppendJsonObject(&json, s, IsIdentityKey);
  return Hex64(Fnv1a64(json.data(), json.size()));
}
int64_t GetInt(const Settings& s, const std::string& key) {
  const Value& v = Find(s, key);
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  throw std::invalid_argument("settings: " + key + " is not an integer");
}

double GetDouble(const Settings& s, const std::string& key) {
  const Value& v = Find(s, key);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  throw std::invalid_argument("settings: " + key + " is not a number");
}

bool GetBool(const Settings& s, const std::string& key) {
  const Value& v = Find(s, key);
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  throw std::invalid_argument("settings: " + key + " is not a bool");
}

const std::string& GetString(const Settings& s, const std::string& key) {
  const Value& v = Find(s, key);
  if (const auto* str = std::get_if<std::string>(&v)) return *str;
  throw std::invalid_argument("settings: " + key + " is not a string");
}

}  // namespace revsweep
