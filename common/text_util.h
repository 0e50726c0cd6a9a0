// Small text and seeding helpers shared by the data loaders and the Slurm client (one copy
// of each: they were written two or three times over).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace revsweep {

inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// `s` without leading and trailing spaces, tabs, CRs and LFs.
inline std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Seed of the independent random stream `stream` of a generator seeded with `seed` (a
// SplitMix64 finalizer over seed * golden ratio + stream), so that e.g. changing how many
// templates are drawn does not change who the people are. Fixed forever: generated data sets
// depend on it.
inline uint64_t StreamSeed(int64_t seed, uint64_t stream) {
  uint64_t x = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + stream;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace revsweep
