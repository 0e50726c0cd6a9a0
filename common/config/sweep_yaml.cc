// YAML scalar -> typed Value conversion with strict literal rules, and the helpers that make
// every error name a place, a key path and what was expected.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/config/sweep_internal.h"

namespace revsweep {
namespace sweep_internal {
namespace {

// Range bounds in messages: "[1e-12, 10]", "[0, 2147483647]".
std::string Number(double d, SchemaEntry::Type type) {
  if (type == SchemaEntry::kInt) return std::to_string(static_cast<int64_t>(d));
  return Display(Value(d));
}

std::string Quote(const std::string& s) {
  std::string shown = s.size() > 60 ? s.substr(0, 60) + "..." : s;
  return nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// RFC 3629 well-formedness (no overlongs, no surrogates): the same rule nlohmann applies when
// it writes settings JSON, so a string that passes here never gets mangled there.
bool IsValidUtf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return false;
    }
    i += len;
  }
  return true;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  // Optimal string alignment: a swapped pair of letters ("trian") counts as one edit.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

void CheckRange(const Reporter& reporter, const SchemaEntry& entry, double v,
                const std::string& shown, const Origin& origin) {
  if (entry.min < entry.max && !(v >= entry.min && v <= entry.max)) {
    reporter.Fail(origin, Expected(entry) + ", got " + shown);
  }
}

void CheckString(const Reporter& reporter, const SchemaEntry& entry, const std::string& s,
                 const Origin& origin) {
  if (!IsValidUtf8(s)) reporter.Fail(origin, "expected UTF-8 text, got invalid bytes");
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) {
      reporter.Fail(origin, "expected a string without control characters, got " + Quote(s));
    }
  }
  if (entry.choices.empty()) return;
  if (std::find(entry.choices.begin(), entry.choices.end(), s) != entry.choices.end()) return;
  if (entry.key == "model.size") {
    reporter.Fail(origin, "unknown model preset " + Quote(s) + "; " + Expected(entry));
  }
  reporter.Fail(origin, Expected(entry) + ", got " + Quote(s));
}

}  // namespace

Origin Reporter::At(const YAML::Mark& mark, std::string path) const {
  Origin o;
  o.path = std::move(path);
  if (mark.line >= 0) {
    o.line = mark.line + 1;
    o.column = mark.column + 1;
  }
  return o;
}

Origin Reporter::At(const YAML::Node& node, std::string path) const {
  return At(node.Mark(), std::move(path));
}

void Reporter::Fail(const Origin& origin, const std::string& message) const {
  throw UserError(file_, origin.line, origin.column, origin.path, message);
}

std::string ClosestKey(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = EditDistance(key, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // Beyond about a third of the word the "closest" key is a guess, not a typo fix.
  size_t limit = std::clamp<size_t>(key.size() / 3, 1, 3);
  if (best.empty() || best_distance > limit || best_distance >= best.size()) return "";
  return best;
}

std::string Suggestion(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best = ClosestKey(key, candidates);
  return best.empty() ? "" : "; did you mean \"" + best + "\"?";
}

std::string Display(const Value& value) {
  const auto* d = std::get_if<double>(&value);
  if (d == nullptr || !std::isfinite(*d)) return ValueToString(value);
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), *d);
  if (ec != std::errc()) return ValueToString(value);
  std::string s(buf, end);
  // "1e-04" -> "1e-4", "1e+06" -> "1e6": how people write them in a config.
  size_t e = s.find('e');
  if (e != std::string::npos) {
    std::string sign = s[e + 1] == '-' ? "-" : "";
    size_t digits = s.find_first_not_of("+-0", e + 1);
    s = s.substr(0, e + 1) + sign + (digits == std::string::npos ? "0" : s.substr(digits));
  }
  return s;
}

std::string Describe(const YAML::Node& node) {
  double unused;
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      // Plain numbers read best as written; anything else is quoted so "" and " " show.
      if (!IsQuoted(node) && ParseNumber(node.Scalar(), &unused)) return node.Scalar();
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

std::string Expected(const SchemaEntry& entry) {
  std::string range;
  if (entry.min < entry.max) {
    range = " in [" + Number(entry.min, entry.type) + ", " + Number(entry.max, entry.type) + "]";
  }
  switch (entry.type) {
    case SchemaEntry::kBool:
      return "expected true or false";
    case SchemaEntry::kInt:
      return "expected an integer" + range;
    case SchemaEntry::kDouble:
      return "expected a number" + range;
    case SchemaEntry::kString:
      break;
  }
  if (entry.choices.empty()) return "expected a string";
  std::string s = "expected one of ";
  for (size_t i = 0; i < entry.choices.size(); ++i) s += (i ? ", " : "") + entry.choices[i];
  return s;
}

bool ParseInt64(const std::string& text, int64_t* out, bool* overflow) {
  *overflow = false;
  size_t start = (!text.empty() && (text[0] == '+' || text[0] == '-')) ? 1 : 0;
  if (start == text.size()) return false;
  for (size_t i = start; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  // from_chars takes "-" but not "+".
  const char* first = text.data() + (text[0] == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(first, text.data() + text.size(), *out);
  if (ec == std::errc::result_out_of_range) *overflow = true;
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool ParseNumber(const std::string& text, double* out) {
  // [+-] digits [. digits] [e [+-] digits], with at least one mantissa digit. Stricter than
  // strtod on purpose: no hex, no "inf"/"nan", no locale.
  size_t i = 0, n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != n) return false;
  const char* first = text.data() + (text[0] == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(first, text.data() + n, *out);
  return ec == std::errc() && ptr == text.data() + n && std::isfinite(*out);
}

bool IsQuoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

Value ConvertValue(const Reporter& reporter, const SchemaEntry& entry, const YAML::Node& node,
                   const Origin& origin, const std::string& dir) {
  if (!node.IsScalar()) reporter.Fail(origin, Expected(entry) + ", got " + Describe(node));
  const std::string& text = node.Scalar();
  const std::string shown =
      Describe(node) +
      (entry.type != SchemaEntry::kString && IsQuoted(node) ? " (a quoted string)" : "");
  const bool plain = !IsQuoted(node);
  switch (entry.type) {
    case SchemaEntry::kBool:
      if (plain && (text == "true" || text == "false")) return Value(text == "true");
      reporter.Fail(origin, Expected(entry) + ", got " + shown);
    case SchemaEntry::kInt: {
      int64_t v = 0;
      bool overflow = false;
      if (!plain || !ParseInt64(text, &v, &overflow)) {
        reporter.Fail(origin, Expected(entry) + ", got " + shown);
      }
      CheckRange(reporter, entry, static_cast<double>(v), shown, origin);
      return Value(v);
    }
    case SchemaEntry::kDouble: {
      double v = 0;
      if (!plain || !ParseNumber(text, &v)) {
        reporter.Fail(origin, Expected(entry) + ", got " + shown);
      }
      CheckRange(reporter, entry, v, shown, origin);
      return Value(v);
    }
    case SchemaEntry::kString:
      break;
  }
  CheckString(reporter, entry, text, origin);
  if (entry.key == "dataset.source") {
    if (text.empty()) reporter.Fail(origin, "expected \"generate\" or a folder path, got \"\"");
    std::filesystem::path p(text);
    if (text != "generate" && p.is_relative()) {
      // Relative to the config file, so a sweep runs the same from any working directory.
      std::error_code ec;
      auto abs = std::filesystem::absolute(std::filesystem::path(dir) / p, ec);
      if (ec) reporter.Fail(origin, "cannot resolve the folder path: " + ec.message());
      return Value(abs.lexically_normal().string());
    }
  }
  return Value(text);
}

void CheckValue(const Reporter& reporter, const SchemaEntry& entry, const Value& value,
                const Origin& origin) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    CheckString(reporter, entry, *s, origin);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    CheckRange(reporter, entry, static_cast<double>(*i), Display(value), origin);
  } else if (const auto* d = std::get_if<double>(&value)) {
    CheckRange(reporter, entry, *d, Display(value), origin);
  }
}

std::vector<std::pair<YAML::Node, YAML::Node>> MapEntries(const Reporter& reporter,
                                                          const YAML::Node& map,
                                                          const std::string& path) {
  std::vector<std::pair<YAML::Node, YAML::Node>> out;
  std::map<std::string, int> seen;  // key -> line, to point at the first one
  // Copies, not references: yaml-cpp's iterator-> returns a temporary proxy.
  for (const auto& kv : map) {
    const YAML::Node key = kv.first;
    if (!key.IsScalar()) {
      reporter.Fail(key, path, "expected a key name, got " + Describe(key));
    }
    Origin o = reporter.At(key, JoinPath(path, key.Scalar()));
    auto [pos, inserted] = seen.emplace(key.Scalar(), o.line);
    if (!inserted) {
      reporter.Fail(o, "duplicate key (first given on line " + std::to_string(pos->second) + ")");
    }
    out.emplace_back(key, kv.second);
  }
  return out;
}

std::string JoinPath(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

}  // namespace sweep_internal
}  // namespace revsweep
