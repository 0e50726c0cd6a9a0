#include "scheduler/summary/export.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/user_error.h"
#include "tests/lib/store_fixture.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;
using Table = std::vector<std::vector<std::string>>;

// A small RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks;
// records end at LF (or CRLF) outside quotes.
Table ParseCsv(const std::string& text) {
  Table rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      EXPECT_TRUE(field.empty()) << "quote inside an unquoted field at byte " << i;
      quoted = was_quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      was_quoted = false;
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  if (!field.empty() || !row.empty() || was_quoted) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

// Column name -> value for row r (1-based data rows), checking every row has the header's
// width.
std::map<std::string, std::string> Row(const Table& t, size_t r) {
  std::map<std::string, std::string> m;
  EXPECT_EQ(t[r].size(), t[0].size()) << "row " << r;
  for (size_t i = 0; i < t[0].size() && i < t[r].size(); ++i) m[t[0][i]] = t[r][i];
  return m;
}

struct Fixture {
  std::vector<TrialRow> trials;
  ResultsMap results;
  Fixture() {
    TrialRow a;
    a.settings = {{"train.lr", 0.1 + 0.2},  // 0.30000000000000004: needs 17 digits
                  {"train.seed", int64_t{1}},
                  {"train.batch_size", int64_t{32}},
                  {"dataset.source", std::string("my, \"odd\"\nfolder")},
                  {"model.size", std::string("tiny")},
                  {"dataset.both", true}};
    a.id = "aaaaaaaaaaaaaaaa";
    a.state = TrialState::kDone;
    a.params = 123;  // results["params"] wins
    results[a.id] = {{"acc.p2d.reverse.heldout", 0.0},
                     {"acc.p2d.same.heldout", 1.0 / 3.0},
                     {"chance.p2d.reverse.heldout", 0.033},
                     {"likelihood.p", 1e-20},
                     {"loss.final", 0.0125},
                     {"params", 875648},
                     {"tokens_per_s", 12345.5}};
    TrialRow b;
    b.settings = {
        {"train.lr", 1e-3}, {"train.seed", int64_t{2}}, {"model.size", std::string("small")}};
    b.id = "bbbbbbbbbbbbbbbb";
    b.state = TrialState::kPending;  // no results, params unknown
    trials = {a, b};
  }
};

TEST(ExportTest, FormatNumberRoundTrips) {
  for (double v : {0.1 + 0.2, 1.0 / 3.0, 1e-20, 12345.5, 0.0, -2.5e300, 875648.0}) {
    const std::string s = FormatNumber(v);
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
  }
  EXPECT_EQ(FormatNumber(0.5), "0.5");
  EXPECT_EQ(FormatNumber(3.0), "3");
  EXPECT_EQ(FormatNumber(NAN), "NaN");
  EXPECT_EQ(FormatNumber(-INFINITY), "-inf");
}

TEST(ExportTest, CsvQuoting) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvLine({"a", "", "b,c"}), "a,,\"b,c\"\n");
}

TEST(ExportTest, PerTrialCsvParsesBack) {
  Fixture f;
  std::ostringstream out;
  WriteExport("s1", f.trials, f.results, ExportFormat::kCsv, ExportGranularity::kTrial, out);
  const Table t = ParseCsv(out.str());
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], (std::vector<std::string>{
                      "trial_id", "sweep", "state", "dataset.both", "dataset.source", "model.size",
                      "train.batch_size", "train.lr", "train.seed", "params",
                      "acc.p2d.same.heldout", "acc.p2d.reverse.heldout",
                      "chance.p2d.reverse.heldout", "likelihood.p", "loss.final", "tokens_per_s"}));
  auto a = Row(t, 1);
  EXPECT_EQ(a["trial_id"], "aaaaaaaaaaaaaaaa");
  EXPECT_EQ(a["sweep"], "s1");
  EXPECT_EQ(a["state"], "done");
  EXPECT_EQ(a["dataset.source"], "my, \"odd\"\nfolder");
  EXPECT_EQ(a["dataset.both"], "true");
  EXPECT_EQ(a["train.batch_size"], "32");
  EXPECT_EQ(std::strtod(a["train.lr"].c_str(), nullptr), 0.1 + 0.2);
  EXPECT_EQ(a["params"], "875648");
  EXPECT_EQ(std::strtod(a["acc.p2d.same.heldout"].c_str(), nullptr), 1.0 / 3.0);
  EXPECT_EQ(std::strtod(a["likelihood.p"].c_str(), nullptr), 1e-20);
  EXPECT_EQ(a["acc.p2d.reverse.heldout"], "0");
  auto b = Row(t, 2);
  EXPECT_EQ(b["state"], "pending");
  EXPECT_EQ(b["dataset.source"], "");  // missing key
  EXPECT_EQ(b["params"], "");          // unknown
  EXPECT_EQ(b["loss.final"], "");      // no results
  EXPECT_EQ(b["train.lr"], "0.001");
}

TEST(ExportTest, PerCellCsvParsesBack) {
  Fixture f;
  std::ostringstream out;
  WriteExport("s1", f.trials, f.results, ExportFormat::kCsv, ExportGranularity::kCell, out);
  const Table t = ParseCsv(out.str());
  ASSERT_EQ(t.size(), 3u);  // header + two cells of trial a; b has none
  const std::vector<std::string> tail(t[0].end() - 7, t[0].end());
  EXPECT_EQ(tail, (std::vector<std::string>{"params", "cell", "subset", "direction", "split",
                                            "accuracy", "chance"}));
  auto same = Row(t, 1), rev = Row(t, 2);
  EXPECT_EQ(same["cell"], "p2d.same.heldout");  // canonical order: same before reverse
  EXPECT_EQ(same["chance"], "");
  EXPECT_EQ(std::strtod(same["accuracy"].c_str(), nullptr), 1.0 / 3.0);
  EXPECT_EQ(rev["cell"], "p2d.reverse.heldout");
  EXPECT_EQ(rev["subset"], "p2d");
  EXPECT_EQ(rev["direction"], "reverse");
  EXPECT_EQ(rev["split"], "heldout");
  EXPECT_EQ(rev["accuracy"], "0");
  EXPECT_EQ(rev["chance"], "0.033");
  EXPECT_EQ(rev["train.seed"], "1");
}

TEST(ExportTest, JsonlOneObjectPerLineWithTypes) {
  Fixture f;
  std::ostringstream out;
  WriteExport("s1", f.trials, f.results, ExportFormat::kJsonl, ExportGranularity::kTrial, out);
  std::istringstream in(out.str());
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["train.lr"].get<double>(), 0.1 + 0.2);
  EXPECT_TRUE(rows[0]["train.seed"].is_number_integer());
  EXPECT_TRUE(rows[0]["dataset.both"].is_boolean());
  EXPECT_EQ(rows[0]["dataset.source"], "my, \"odd\"\nfolder");
  EXPECT_EQ(rows[0]["params"], 875648);
  EXPECT_EQ(rows[0]["likelihood.p"].get<double>(), 1e-20);
  EXPECT_TRUE(rows[1]["params"].is_null());
  EXPECT_TRUE(rows[1]["loss.final"].is_null());
  // Same keys, same order as the CSV header.
  std::vector<std::string> keys;
  const nlohmann::ordered_json first =
      nlohmann::ordered_json::parse(out.str().substr(0, out.str().find('\n')));
  for (auto it = first.begin(); it != first.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, ExportColumns(f.trials, f.results, ExportGranularity::kTrial));

  std::ostringstream cells;
  WriteExport("s1", f.trials, f.results, ExportFormat::kJsonl, ExportGranularity::kCell, cells);
  const std::string c = cells.str();
  EXPECT_EQ(std::count(c.begin(), c.end(), '\n'), 2);
  EXPECT_TRUE(nlohmann::json::parse(c.substr(0, c.find('\n')))["chance"].is_null());
}

TEST(ExportTest, ParseOptions) {
  EXPECT_EQ(ParseExportFormat("jsonl"), ExportFormat::kJsonl);
  EXPECT_EQ(ParseExportGranularity("cell"), ExportGranularity::kCell);
  EXPECT_THROW(ParseExportFormat("xlsx"), UserError);
  EXPECT_THROW(ParseExportGranularity("seed"), UserError);
}

class StoreExportTest : public ::testing::Test {
 protected:
  testutil::TempStore tmp_{"revsweep-export"};
  std::string dir_ = tmp_.dir();
};

TEST_F(StoreExportTest, ExportSweepReadsTheStore) {
  ResultsStore& store = tmp_.store();
  const auto ids = tmp_.AddSweep("sw", {{{"train.lr", 1e-3}, {"train.seed", int64_t{0}}},
                                        {{"train.lr", 1e-3}, {"train.seed", int64_t{1}}}});
  tmp_.Finish(ids[0], {{"acc.d2p.same.train", 0.75}, {"loss.final", 0.5}}, 4242);
  std::ostringstream got, want;
  ExportSweep(store, "sw", ExportFormat::kCsv, ExportGranularity::kTrial, got);
  WriteExport("sw", store.Trials("sw"), store.SweepResults("sw"), ExportFormat::kCsv,
              ExportGranularity::kTrial, want);
  EXPECT_EQ(got.str(), want.str());
  const Table t = ParseCsv(got.str());
  ASSERT_EQ(t.size(), 3u);
  auto done = Row(t, 1);
  EXPECT_EQ(done["state"], "done");
  EXPECT_EQ(done["params"], "4242");
  EXPECT_EQ(done["acc.d2p.same.train"], "0.75");
  EXPECT_THROW(ExportSweep(store, "nope", ExportFormat::kCsv, ExportGranularity::kTrial, got),
               UserError);
}

// pandas is optional: when /usr/bin/python3 has it, check it reads the CSV with the dtypes
// an analyst expects.
TEST_F(StoreExportTest, PandasReadsTheCsv) {
  if (std::system("/usr/bin/python3 -c 'import pandas' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "pandas not installed for /usr/bin/python3";
  }
  Fixture f;
  f.trials[1].state = TrialState::kDone;
  f.trials[1].settings["dataset.source"] = std::string("x");
  f.trials[1].settings["train.batch_size"] = int64_t{64};
  f.trials[1].settings["dataset.both"] = false;
  f.results[f.trials[1].id] = {{"acc.p2d.same.heldout", 0.5}, {"params", 1000}};
  const std::string path = dir_ + "/t.csv";
  {
    std::ofstream out(path);
    WriteExport("s1", f.trials, f.results, ExportFormat::kCsv, ExportGranularity::kTrial, out);
  }
  const std::string py =
      "import sys, pandas as pd\n"
      "d = pd.read_csv(sys.argv[1])\n"
      "assert len(d) == 2, len(d)\n"
      "assert d['train.lr'].dtype == 'float64'\n"
      "assert abs(d['train.lr'][0] - 0.3) < 1e-15\n"
      // pandas' default float parser may be off by one ulp; round_trip is exact.
      "e = pd.read_csv(sys.argv[1], float_precision='round_trip')\n"
      "assert e['train.lr'][0] == 0.1 + 0.2\n"
      "assert e['acc.p2d.same.heldout'][0] == 1 / 3\n"
      "assert d['train.batch_size'].dtype == 'int64'\n"
      "assert d['params'].dtype == 'int64'\n"
      "assert d['dataset.both'].dtype == 'bool'\n"
      "assert d['acc.p2d.same.heldout'].dtype == 'float64'\n"
      "assert d['dataset.source'][0] == 'my, \"odd\"\\nfolder'\n"
      "assert pd.isna(d['loss.final'][1])\n";
  {
    std::ofstream s(dir_ + "/check.py");
    s << py;
  }
  EXPECT_EQ(std::system(("/usr/bin/python3 " + dir_ + "/check.py " + path).c_str()), 0);
}

}  // namespace
}  // namespace revsweep
