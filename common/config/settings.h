// Trial settings as a flat, sorted map of dotted keys to scalar values.
// The canonical JSON of the identity keys is hashed into the trial id, so the same setting
// always has the same id, whichever sweep it came from.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

namespace revsweep {

// A scalar setting. Integers and doubles are distinct: 1 and 1.0 print differently in the
// canonical form (the config loader converts each value to its schema type first).
using Value = std::variant<bool, int64_t, double, std::string>;
using Settings = std::map<std::string, Value>;

std::string ValueToString(const Value& v);  // 3, 0.001, true, text (no quotes)
std::string ValueToJson(const Value& v);    // 3, 0.001, true, "text"

// Keys that do not change what a trial computes (how it is run, when it checkpoints, test-only
// fault injection): resources.*, train.checkpoint_every_*, train.fault_*. Excluded from the id.
bool IsIdentityKey(const std::string& key);

// {"a.b":1,"c":"x"} over identity keys only, sorted by key, no spaces.
std::string CanonicalJson(const Settings& s);
// {"a.b":1,...} over all keys.
std::string SettingsToJson(const Settings& s);
// Inverse of SettingsToJson. Throws std::runtime_error on malformed input.
Settings SettingsFromJson(const std::string& json);
// `base` with `own`'s keys set on top (own wins where both have a key): a trial's whole
// settings from its batch's shared keys and its own, as the store keeps them.
Settings Overlay(Settings base, const Settings& own);

// 64-bit FNV-1a, and its 16-hex-digit form.
uint64_t Fnv1a64(const void* data, size_t n, uint64_t seed = 0xcbf29ce484222325ULL);
std::string Hex64(uint64_t h);

// Trial id: first 16 hex digits of FNV-1a 64 over CanonicalJson(settings).
std::string TrialId(const Settings& s);

// Typed getters. REQUIRES: key present with a compatible type (int64 converts to double).
int64_t GetInt(const Settings& s, const std::string& key);
double GetDouble(const Settings& s, const std::string& key);
bool GetBool(const Settings& s, const std::string& key);
const std::string& GetString(const Settings& s, const std::string& key);

}  // namespace revsweep
