#include "common/config/settings.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "tests/lib/settings_reference.h"

namespace revsweep {
namespace {

Settings Example() {
  return Settings{
      {"dataset.kind", std::string("exp1")},
      {"model.dropout", 0.0},
      {"model.n_layer", int64_t{4}},
      {"resources.group_size", int64_t{2}},
      {"train.checkpoint_every_steps", int64_t{200}},
      {"train.fault_nan_at_step", int64_t{0}},
      {"train.lr", 1e-3},
      {"train.use_flag", true},
  };
}

TEST(SettingsTest, DoubleFormatting) {
  EXPECT_EQ(ValueToString(Value(0.1)), "0.1");
  EXPECT_EQ(ValueToString(Value(1e-3)), "0.001");
  EXPECT_EQ(ValueToString(Value(3.0)), "3.0");  // a double never prints like an integer
  EXPECT_EQ(ValueToString(Value(0.0)), "0.0");
  EXPECT_EQ(ValueToString(Value(-2.5)), "-2.5");
  EXPECT_EQ(ValueToString(Value(1e-12)), "1e-12");
  EXPECT_EQ(ValueToString(Value(0.1 + 0.2)), "0.30000000000000004");  // 17 digits when needed
  // The shortest "%.{p}g" that round-trips: 10 is "1e+01" at p = 1. Odd-looking but canonical.
  EXPECT_EQ(ValueToString(Value(10.0)), "1e+01");
  EXPECT_EQ(ValueToString(Value(25.0)), "25.0");
}

TEST(SettingsTest, OtherValueFormatting) {
  EXPECT_EQ(ValueToString(Value(int64_t{3})), "3");
  EXPECT_EQ(ValueToString(Value(int64_t{-9223372036854775807 - 1})), "-9223372036854775808");
  EXPECT_EQ(ValueToString(Value(true)), "true");
  EXPECT_EQ(ValueToString(Value(false)), "false");
  EXPECT_EQ(ValueToString(Value(std::string("a b"))), "a b");
  EXPECT_EQ(ValueToJson(Value(std::string("a \"b\"\n"))), "\"a \\\"b\\\"\\n\"");
  EXPECT_EQ(ValueToJson(Value(3.0)), "3.0");
  EXPECT_EQ(ValueToJson(Value(int64_t{3})), "3");
}

TEST(SettingsTest, IdentityKeys) {
  EXPECT_TRUE(IsIdentityKey("train.lr"));
  EXPECT_TRUE(IsIdentityKey("train.checkpoint"));  // only the checkpoint_every_ prefix
  EXPECT_TRUE(IsIdentityKey("model.size"));
  EXPECT_FALSE(IsIdentityKey("resources.group_size"));
  EXPECT_FALSE(IsIdentityKey("resources.threads"));
  EXPECT_FALSE(IsIdentityKey("train.checkpoint_every_steps"));
  EXPECT_FALSE(IsIdentityKey("train.checkpoint_every_seconds"));
  EXPECT_FALSE(IsIdentityKey("train.fault_nan_at_step"));
}

TEST(SettingsTest, CanonicalJsonIsSortedIdentityOnlyAndCompact) {
  EXPECT_EQ(CanonicalJson(Example()),
            "{\"dataset.kind\":\"exp1\",\"model.dropout\":0.0,\"model.n_layer\":4,"
            "\"train.lr\":0.001,\"train.use_flag\":true}");
  EXPECT_EQ(CanonicalJson(Settings{}), "{}");
}

TEST(SettingsTest, SettingsJsonHasEveryKey) {
  const std::string json = SettingsToJson(Example());
  EXPECT_NE(json.find("\"resources.group_size\":2"), std::string::npos);
  EXPECT_NE(json.find("\"train.fault_nan_at_step\":0"), std::string::npos);
  EXPECT_EQ(json.find(' '), std::string::npos);
}

TEST(SettingsTest, JsonRoundTripKeepsTypes) {
  Settings s = Example();
  s["x.big"] = int64_t{9007199254740993};  // not exact as a double: must stay an integer
  s["x.third"] = 1.0 / 3.0;
  s["x.unicode"] = std::string("caf\xc3\xa9 \"q\"");
  s["x.neg"] = -1e-300;
  const Settings back = SettingsFromJson(SettingsToJson(s));
  EXPECT_EQ(back, s);
  EXPECT_TRUE(std::holds_alternative<double>(back.at("model.dropout")));
  EXPECT_TRUE(std::holds_alternative<int64_t>(back.at("model.n_layer")));
}

TEST(SettingsTest, FromJsonRejectsMalformedInput) {
  EXPECT_THROW(SettingsFromJson("{"), std::runtime_error);
  EXPECT_THROW(SettingsFromJson("[1]"), std::runtime_error);
  EXPECT_THROW(SettingsFromJson("{\"a\":[1]}"), std::runtime_error);
  EXPECT_THROW(SettingsFromJson("{\"a\":null}"), std::runtime_error);
  EXPECT_THROW(SettingsFromJson("{\"a\":18446744073709551615}"), std::runtime_error);
}

TEST(SettingsTest, FnvAndHex) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(Fnv1a64("", 0), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar", 6), 0x85944171f73967e8ULL);
  EXPECT_EQ(Hex64(0x1ULL), "0000000000000001");
  EXPECT_EQ(Hex64(0xaf63dc4c8601ec8cULL), "af63dc4c8601ec8c");
}

TEST(SettingsTest, TrialIdIsStable) {
  // Regression guard: computed once by this implementation. If it changes, every stored
  // trial id changes and resumed sweeps would rerun finished trials.
  EXPECT_EQ(TrialId(Example()), "db8f7477458909e5");
  const std::string json = CanonicalJson(Example());
  EXPECT_EQ(TrialId(Example()), Hex64(Fnv1a64(json.data(), json.size())));
}

TEST(SettingsTest, TrialIdIgnoresNonIdentityKeysOnly) {
  Settings a = Example();
  Settings b = a;
  b["resources.group_size"] = int64_t{8};
  b["train.checkpoint_every_steps"] = int64_t{1};
  b["train.fault_nan_at_step"] = int64_t{3};
  EXPECT_EQ(TrialId(a), TrialId(b));
  b["train.lr"] = 2e-3;
  EXPECT_NE(TrialId(a), TrialId(b));
  Settings c = a;
  c["model.n_layer"] = 4.0;  // same number, different type: a different setting
  EXPECT_NE(TrialId(a), TrialId(c));
}

TEST(SettingsTest, TypedGetters) {
  const Settings s = Example();
  EXPECT_EQ(GetInt(s, "model.n_layer"), 4);
  EXPECT_DOUBLE_EQ(GetDouble(s, "train.lr"), 1e-3);
  EXPECT_DOUBLE_EQ(GetDouble(s, "model.n_layer"), 4.0);  // ints widen to double
  EXPECT_TRUE(GetBool(s, "train.use_flag"));
  EXPECT_EQ(GetString(s, "dataset.kind"), "exp1");
  EXPECT_THROW(GetInt(s, "train.lr"), std::exception);
  EXPECT_THROW(GetString(s, "missing.key"), std::exception);
}

// ---- Fast paths vs. the reference implementations ----
// FormatDouble, the JSON writer and SettingsFromJson have fast paths; their output is hashed
// into persisted trial ids, so they must match the original implementations byte for byte.
// The originals are kept as references.

// The originals: tests/lib/settings_reference.h.
std::string RefFormatDouble(double d) { return settings_reference::FormatDouble(d); }
std::string RefJsonString(const std::string& s) { return settings_reference::JsonString(s); }
std::string RefToJsonObject(const Settings& s, bool identity_only) {
  return identity_only ? settings_reference::ToJsonObject(s, settings_reference::IsIdentityKey)
                       : settings_reference::SettingsToJson(s);
}
Settings RefFromJson(const std::string& json) { return settings_reference::SettingsFromJson(json); }

// Equal keys, types and values, doubles bit for bit (operator== has -0.0 == 0.0).
::testing::AssertionResult SameSettings(const Settings& a, const Settings& b) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  }
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first) {
      return ::testing::AssertionFailure() << "keys " << ia->first << " vs " << ib->first;
    }
    if (ia->second.index() != ib->second.index()) {
      return ::testing::AssertionFailure() << ia->first << ": types differ";
    }
    if (const auto* d = std::get_if<double>(&ia->second)) {
      const double e = std::get<double>(ib->second);
      if (std::memcmp(d, &e, sizeof(double)) != 0) {
        return ::testing::AssertionFailure()
               << ia->first << ": " << RefFormatDouble(*d) << " vs " << RefFormatDouble(e);
      }
    } else if (ia->second != ib->second) {
      return ::testing::AssertionFailure() << ia->first << ": values differ";
    }
  }
  return ::testing::AssertionSuccess();
}

// SettingsFromJson must give what the nlohmann reference gives: the same settings, or a
// std::runtime_error with the same message.
void ExpectParsesLikeReference(const std::string& json) {
  SCOPED_TRACE(json);
  Settings want;
  std::string want_error;
  try {
    want = RefFromJson(json);
  } catch (const std::runtime_error& e) {
    want_error = e.what();
  }
  try {
    const Settings got = SettingsFromJson(json);
    EXPECT_EQ(want_error, "");
    EXPECT_TRUE(SameSettings(got, want));
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), want_error);
  }
}

double FromBits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

// Doubles of every kind: raw bit patterns (any exponent, denormals), short decimals as people
// write them (the case where the shortest and the "%.{p}g" forms can differ), log-uniform and
// uniform values, and grid values like 1e-4 * 10^(k/5).
double RandomDoubleOrInf(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return FromBits(rng());
    case 1: {
      // A decimal with 1-17 significant digits and exponent -330..310, correctly rounded.
      const int digits = 1 + rng() % 17;
      std::string text = (rng() % 4 == 0) ? "-" : "";
      for (int i = 0; i < digits; ++i) text += static_cast<char>('0' + rng() % 10);
      text += "e" + std::to_string(static_cast<int>(rng() % 641) - 330);
      return std::strtod(text.c_str(), nullptr);
    }
    case 2:
      return std::pow(10.0, std::uniform_real_distribution<double>(-323, 308)(rng)) *
             (rng() % 2 ? 1 : -1);
    case 3:
      return std::uniform_real_distribution<double>(0, 1)(rng);
    case 4:
      return 1e-4 * std::pow(10.0, static_cast<int>(rng() % 41 - 20) / 5.0);
    default:
      return FromBits(rng() % 0x0010000000000000ULL);  // denormals
  }
}

double RandomDouble(std::mt19937_64& rng) {
  double d;
  do d = RandomDoubleOrInf(rng);
  while (!std::isfinite(d));
  return d;
}

std::vector<double> EdgeDoubles() {
  std::vector<double> v = {0.0,
                           -0.0,
                           0.1,
                           0.2,
                           0.3,
                           0.1 + 0.2,
                           1.0 / 3.0,
                           2.0 / 3.0,
                           5e-324,
                           -5e-324,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::min(),
                           std::nextafter(std::numeric_limits<double>::min(), 0.0),
                           1.7976931348623157e308,
                           -1.7976931348623157e308,
                           std::nextafter(1.7976931348623157e308, 0.0),
                           9007199254740992.0,
                           9007199254740993.0,
                           1e15,
                           1e16,
                           1e17,
                           1e21,
                           1e22,
                           1e23,
                           123456789012345678.0,
                           4.35,
                           0.05 * 3};
  for (int e = -1074; e <= 1023; ++e) {
    v.push_back(std::ldexp(1.0, e));
    v.push_back(-std::ldexp(1.0, e));
    v.push_back(std::nextafter(std::ldexp(1.0, e), 0.0));
    v.push_back(std::nextafter(std::ldexp(1.0, e), 1e308));
  }
  for (int k = -100; k <= 100; ++k) v.push_back(1e-4 * std::pow(10.0, k / 5.0));
  for (int k = -323; k <= 308; ++k) {
    const double p = std::strtod(("1e" + std::to_string(k)).c_str(), nullptr);
    v.push_back(p);
    v.push_back(std::nextafter(p, 0.0));
    v.push_back(std::nextafter(p, 1e308));
  }
  for (int k = 0; k <= 2000; ++k) {
    v.push_back(k);
    v.push_back(k * 0.05);
    v.push_back(k * 0.001);
    v.push_back(k / 7.0);
  }
  return v;
}

TEST(SettingsTest, FormatDoubleMatchesReferenceOnEdgeValues) {
  for (double d : EdgeDoubles()) {
    ASSERT_EQ(ValueToString(Value(d)), RefFormatDouble(d)) << std::hexfloat << d;
    ASSERT_EQ(ValueToString(Value(-d)), RefFormatDouble(-d)) << std::hexfloat << -d;
  }
  EXPECT_EQ(ValueToString(Value(-0.0)), "-0.0");
  EXPECT_EQ(ValueToString(Value(5e-324)), "5e-324");
  EXPECT_EQ(ValueToString(Value(1.7976931348623157e308)), "1.7976931348623157e+308");
  EXPECT_EQ(ValueToString(Value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(ValueToString(Value(std::nan(""))), "null");
}

TEST(SettingsTest, FormatDoubleMatchesReferenceOnRandomDoubles) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 100000; ++i) {
    const double d = RandomDouble(rng);
    ASSERT_EQ(ValueToString(Value(d)), RefFormatDouble(d)) << std::hexfloat << d;
  }
}

std::string RandomKey(std::mt19937_64& rng) {
  static const char* kSections[] = {"dataset", "model", "train", "resources", "tokenizer"};
  static const char* kOdd[] = {
      "a\"b", "back\\slash", "caf\xc3\xa9", "tab\there",    "nl\n", "\x7f",
      "",     "sp ace",      "\x01\x1f",    "\xe2\x82\xac", "x}y",  "u\\u0041"};
  if (rng() % 50 == 0) return kOdd[rng() % (sizeof(kOdd) / sizeof(kOdd[0]))];
  std::string key = kSections[rng() % 5];
  key += '.';
  const int n = 1 + rng() % 24;
  for (int i = 0; i < n; ++i) key += "abcdefghijklmnopqrstuvwxyz_0123456789"[rng() % 37];
  if (rng() % 20 == 0) key = "train.checkpoint_every_" + key;
  if (rng() % 20 == 0) key = "train.fault_" + key;
  return key;
}

std::string RandomString(std::mt19937_64& rng) {
  static const char* kPieces[] = {"exp1",
                                  "reverse_word",
                                  "a b",
                                  "\"",
                                  "\\",
                                  "\n",
                                  "\t",
                                  "\x01",
                                  "\x1f",
                                  "\x7f",
                                  "caf\xc3\xa9",
                                  "\xf0\x9f\x98\x80",
                                  "\xe2\x82\xac",
                                  "\\u0041",
                                  "/",
                                  "{",
                                  "}",
                                  ",",
                                  ":",
                                  "null",
                                  "1e5",
                                  "-"};
  std::string s;
  const int n = rng() % 6;
  const bool plain_only = rng() % 2 == 0;
  for (int i = 0; i < n; ++i) s += kPieces[rng() % (plain_only ? 3 : 22)];
  return s;
}

Value RandomValue(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return rng() % 2 == 0;
    case 1: {
      static const int64_t kInts[] = {0,
                                      1,
                                      -1,
                                      std::numeric_limits<int64_t>::max(),
                                      std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max() - 1,
                                      std::numeric_limits<int64_t>::min() + 1,
                                      9007199254740993};
      switch (rng() % 3) {
        case 0:
          return kInts[rng() % 8];
        case 1:
          return static_cast<int64_t>(rng());
        default:
          return static_cast<int64_t>(rng() % 2001) - 1000;
      }
    }
    case 2:
      return RandomDouble(rng);
    default:
      return RandomString(rng);
  }
}

TEST(SettingsTest, JsonMatchesReferenceOnRandomSettings) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    Settings s;
    const int n = rng() % 70;
    for (int k = 0; k < n; ++k) s[RandomKey(rng)] = RandomValue(rng);
    const std::string json = SettingsToJson(s);
    ASSERT_EQ(json, RefToJsonObject(s, false));
    ASSERT_EQ(CanonicalJson(s), RefToJsonObject(s, true));
    const std::string canonical = RefToJsonObject(s, true);
    ASSERT_EQ(TrialId(s), Hex64(Fnv1a64(canonical.data(), canonical.size())));
    // Invalid UTF-8 would be replaced on output, so only valid maps round-trip exactly.
    const Settings back = SettingsFromJson(json);
    ASSERT_TRUE(SameSettings(back, s)) << json;
    ASSERT_TRUE(SameSettings(back, RefFromJson(json))) << json;
  }
}

TEST(SettingsTest, FromJsonMatchesReferenceOnRandomNumbers) {
  std::mt19937_64 rng(99);
  auto digits = [&](int n, bool nonzero_first) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      s += static_cast<char>((i == 0 && nonzero_first) ? '1' + rng() % 9 : '0' + rng() % 10);
    }
    return s;
  };
  for (int i = 0; i < 30000; ++i) {
    std::string num = rng() % 3 == 0 ? "-" : "";
    num += rng() % 8 == 0 ? "0" : digits(1 + rng() % 21, true);
    if (rng() % 2) num += "." + digits(1 + rng() % 25, false);
    if (rng() % 2) {
      num += "eE"[rng() % 2];
      if (rng() % 2) num += "+-"[rng() % 2];
      num += std::to_string(rng() % (rng() % 2 ? 30 : 400));
    }
    ExpectParsesLikeReference("{\"x\":" + num + "}");
    ExpectParsesLikeReference("{\"a\":true,\"x\":" + num + ",\"y\":\"z\"}");
  }
}

TEST(SettingsTest, FromJsonMatchesReferenceOnOddInput) {
  const char* kInputs[] = {"",
                           "{",
                           "}",
                           "{}",
                           "{} ",
                           " {}",
                           "[]",
                           "[1]",
                           "1",
                           "\"s\"",
                           "null",
                           "{\"a\":1}",
                           "{\"a\":1,}",
                           "{,}",
                           "{\"a\"}",
                           "{\"a\":}",
                           "{\"a\"1}",
                           "{\"a\":1 }",
                           "{ \"a\":1}",
                           "{\"a\" : 1}",
                           "{\"a\":1}\n",
                           "{\"a\":1}x",
                           "{\"a\":1}{}",
                           "{\"a\":1,\"a\":2}",
                           "{\"b\":1,\"a\":2}",
                           "{\"b\":1,\"a\":2,\"b\":3}",
                           "{\"a\":null}",
                           "{\"a\":[1]}",
                           "{\"a\":{}}",
                           "{\"a\":{\"b\":1}}",
                           "{\"a\":tru}",
                           "{\"a\":truex}",
                           "{\"a\":True}",
                           "{\"a\":fals}",
                           "{\"a\":false}",
                           "{\"a\":true}",
                           "{\"a\":01}",
                           "{\"a\":-}",
                           "{\"a\":-01}",
                           "{\"a\":1.}",
                           "{\"a\":.5}",
                           "{\"a\":1e}",
                           "{\"a\":1e+}",
                           "{\"a\":+1}",
                           "{\"a\":1E+2}",
                           "{\"a\":1e-2}",
                           "{\"a\":-0}",
                           "{\"a\":-0.0}",
                           "{\"a\":0e0}",
                           "{\"a\":1e-400}",
                           "{\"a\":-1e-400}",
                           "{\"a\":1e400}",
                           "{\"a\":-1e400}",
                           "{\"a\":4.9e-324}",
                           "{\"a\":2.4703282292062327e-324}",
                           "{\"a\":2.4703282292062328e-324}",
                           "{\"a\":1.7976931348623157e308}",
                           "{\"a\":1.7976931348623159e308}",
                           "{\"a\":inf}",
                           "{\"a\":nan}",
                           "{\"a\":NaN}",
                           "{\"a\":0x10}",
                           "{\"a\":9223372036854775807}",
                           "{\"a\":9223372036854775808}",
                           "{\"a\":-9223372036854775808}",
                           "{\"a\":-9223372036854775809}",
                           "{\"a\":18446744073709551615}",
                           "{\"a\":18446744073709551616}",
                           "{\"a\":-18446744073709551616}",
                           "{\"a\":99999999999999999999999}",
                           "{\"a\":\"x\"}",
                           "{\"a\":\"x}",
                           "{\"a\":\"\"}",
                           "{\"\":1}",
                           "{\"a\":\"\\u0041\"}",
                           "{\"a\":\"\\n\"}",
                           "{\"a\":\"\\x\"}",
                           "{\"a\\\"b\":1}",
                           "{\"a\":\"caf\xc3\xa9\"}",
                           "{\"a\":\"\xc3\"}",
                           "{\"a\":\"\x7f\"}",
                           "{\"a\":\"\t\"}",
                           "{'a':1}",
                           "{\"a\":1,\"b\":[1],\"c\":2}"};
  for (const char* json : kInputs) ExpectParsesLikeReference(json);
  ExpectParsesLikeReference(std::string("{\"a\":1}\0", 8));
  ExpectParsesLikeReference(std::string("{\"a\":\"\0\"}", 9));
  // A non-finite double writes as null, which does not read back (as before).
  Settings s{{"a", std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(SettingsToJson(s), "{\"a\":null}");
  ExpectParsesLikeReference(SettingsToJson(s));
  EXPECT_THROW(SettingsFromJson(SettingsToJson(s)), std::runtime_error);
}

TEST(SettingsTest, PlainStringScanMatchesReferenceForEveryByteAndPosition) {
  // The writer and the parser test string bytes eight at a time; put every byte value at every
  // position of strings up to three words long, written and read raw.
  for (int len = 1; len <= 24; ++len) {
    for (int pos = 0; pos < len; ++pos) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string s(len, 'a');
        s[pos] = static_cast<char>(byte);
        ASSERT_EQ(ValueToJson(Value(s)), RefJsonString(s)) << len << " " << pos << " " << byte;
        const Settings m{{s, int64_t{1}}, {"k", s}};
        ASSERT_EQ(SettingsToJson(m), RefToJsonObject(m, false)) << len << " " << pos << " " << byte;
        ExpectParsesLikeReference("{\"k\":\"" + s + "\"}");
        ExpectParsesLikeReference("{\"" + s + "\":1}");
      }
    }
  }
}

}  // namespace
}  // namespace revsweep
