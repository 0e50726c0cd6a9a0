// The settings JSON code as it was before its fast paths (common/config/settings.cc), verbatim.
// Trial ids are hashes of this JSON and are persisted, so the fast paths must match it byte for
// byte: tests/common/config/settings_test.cc uses it as the oracle and bench/bench_settings_json.cc
// as the same-run baseline. Do not "fix" it; it is the reference.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <system_error>

#include "common/config/settings.h"

namespace revsweep::settings_reference {

inline std::string FormatDouble(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[64];
  std::string text;
  for (int precision = 1; precision <= 17; ++precision) {
    auto [end, ec] =
        std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::general, precision);
    if (ec != std::errc()) continue;
    double back = 0;
    auto parsed = std::from_chars(buf, end, back);
    text.assign(buf, end);
    if (parsed.ec == std::errc() && back == d) break;
  }
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

inline std::string JsonString(const std::string& s) {
  bool plain = true;
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  if (plain) return "\"" + s + "\"";
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline std::string ValueToString(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return FormatDouble(*d);
  return std::get<std::string>(v);
}

inline std::string ValueToJson(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return JsonString(*s);
  return ValueToString(v);
}

template <typename Pred>
inline std::string ToJsonObject(const Settings& s, Pred include) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : s) {
    if (!include(key)) continue;
    if (!first) out += ",";
    first = false;
    out += JsonString(key);
    out += ":";
    out += ValueToJson(value);
  }
  out += "}";
  return out;
}

inline bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

inline bool IsIdentityKey(const std::string& key) {
  return !StartsWith(key, "resources.") && !StartsWith(key, "train.checkpoint_every_") &&
         !StartsWith(key, "train.fault_");
}

inline std::string SettingsToJson(const Settings& s) {
  return ToJsonObject(s, [](const std::string&) { return true; });
}

inline std::string Hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

inline std::string TrialId(const Settings& s) {
  const std::string json = ToJsonObject(s, IsIdentityKey);
  return Hex64(Fnv1a64(json.data(), json.size()));
}

inline Settings SettingsFromJson(const std::string& json) {
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

}  // namespace revsweep::settings_reference
