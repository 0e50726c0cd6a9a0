#include "scheduler/summary/plots.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

// PNG: the 8-byte signature, then the IHDR chunk (length 13) with a nonzero size.
void ExpectPng(const std::string& path) {
  const std::string b = ReadAll(path);
  ASSERT_GE(b.size(), 33u) << path;
  EXPECT_EQ(b.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
  EXPECT_EQ(BigEndian32(b, 8), 13u) << path;
  EXPECT_EQ(b.substr(12, 4), "IHDR") << path;
  EXPECT_GT(BigEndian32(b, 16), 0u) << path;  // width
  EXPECT_GT(BigEndian32(b, 20), 0u) << path;  // height
}

// SVG: the root element is <svg> and the document closes it. When python3 is around, also
// a full XML parse (xml.etree is in its standard library).
void ExpectSvg(const std::string& path) {
  const std::string t = ReadAll(path);
  size_t i = 0;
  // Skip the prolog: XML declaration, comments, DOCTYPE, whitespace.
  while (i < t.size()) {
    if (isspace(static_cast<unsigned char>(t[i]))) {
      ++i;
    } else if (t.compare(i, 2, "<?") == 0) {
      i = t.find("?>", i) + 2;
    } else if (t.compare(i, 4, "<!--") == 0) {
      i = t.find("-->", i) + 3;
    } else if (t.compare(i, 2, "<!") == 0) {
      i = t.find('>', i) + 1;
    } else {
      break;
    }
  }
  ASSERT_LT(i, t.size()) << path;
  EXPECT_EQ(t.compare(i, 4, "<svg"), 0) << path;
  EXPECT_NE(t.rfind("</svg>"), std::string::npos) << path;
  if (access("/usr/bin/python3", X_OK) == 0) {
    const std::string cmd =
        "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; "
        "r = E.parse(sys.argv[1]).getroot(); sys.exit(0 if r.tag.split('}')[-1] == 'svg' else 1)\" "
        "'" +
        path + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "not well-formed XML with root <svg>: " << path;
  }
}

class PlotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindGnuplot().empty()) GTEST_SKIP() << "gnuplot not on PATH: plot tests skipped";
    dir_ = tmp_.path();
  }
  testutil::TempDir tmp_{"revsweep-plots"};

  // Three sizes x two learning rates x three seeds, Experiment 1 cells with chance.
  static Summary MakeSummary() {
    std::vector<TrialRow> trials;
    ResultsMap results;
    const char* names[] = {"micro", "tiny", "small"};
    for (int i = 0; i < 3; ++i) {
      for (double lr : {1e-3, 1e-4}) {
        for (int64_t seed : {1, 2, 3}) {
          TrialRow t;
          t.settings = {
              {"model.size", std::string(names[i])}, {"train.lr", lr}, {"train.seed", seed}};
          t.id = TrialId(t.settings);
          t.state = TrialState::kDone;
          t.params = static_cast<int64_t>(3e5 * std::pow(4.0, i));
          const double loss = 0.05 + 50 / std::pow(double(t.params), 0.5) * (1 + 0.02 * seed);
          results[t.id] = {{"acc.p2d.same.heldout", 0.3 + 0.03 * i + 0.01 * seed},
                           {"acc.d2p.same.heldout", 0.9},
                           {"acc.both_n2d.same.heldout", 0.5},
                           {"acc.p2d.reverse.heldout", 0.0},
                           {"acc.d2p.reverse.heldout", 0.01 * seed},
                           {"chance.p2d.reverse.heldout", 0.033},
                           {"chance.d2p.reverse.heldout", 0.033},
                           {"acc.p2d.same.train", 1.0},
                           {"loss.final", lr == 1e-3 ? loss : loss * 1.5}};
          trials.push_back(t);
        }
      }
    }
    return BuildSummary(trials, results);
  }

  std::string dir_;
};

TEST_F(PlotsTest, AccuracyVsParamsMakesPngAndSvg) {
  PlotOptions o;
  o.out_dir = dir_ + "/figs";  // created on demand
  const PlotFiles f = PlotAccuracyVsParams(MakeSummary(), o);
  ASSERT_EQ(f.images.size(), 2u);
  ExpectPng(dir_ + "/figs/accuracy_vs_params.png");
  ExpectSvg(dir_ + "/figs/accuracy_vs_params.svg");
  const std::string script = ReadAll(dir_ + "/figs/accuracy_vs_params.gp");
  EXPECT_NE(script.find("set multiplot layout 1,2"), std::string::npos);
  EXPECT_NE(script.find("set logscale x"), std::string::npos);
  EXPECT_NE(script.find("dt 2"), std::string::npos);  // chance, dashed
  EXPECT_NE(script.find("'Reverse'"), std::string::npos);
  // Heldout cells only: the train cell is not a column.
  const std::string dat = ReadAll(dir_ + "/figs/accuracy_vs_params.dat");
  EXPECT_EQ(dat.find("p2d.same.train"), std::string::npos);
  EXPECT_EQ(std::count(dat.begin(), dat.end(), '\n'), 4);  // header + 3 sizes
}

TEST_F(PlotsTest, LossVsParamsWithFit) {
  PlotOptions o;
  o.out_dir = dir_;
  const Summary s = MakeSummary();
  ASSERT_TRUE(s.loss_fit.ok) << s.loss_fit.message;
  const PlotFiles f = PlotLossVsParams(s, o);
  ASSERT_EQ(f.images.size(), 2u);
  ExpectPng(dir_ + "/loss_vs_params.png");
  ExpectSvg(dir_ + "/loss_vs_params.svg");
  EXPECT_NE(ReadAll(dir_ + "/loss_vs_params.gp").find("fit: "), std::string::npos);
}

TEST_F(PlotsTest, LossCurvesPerTrial) {
  LossCurves curves;
  for (int t = 0; t < 3; ++t) {
    auto& c = curves["trial" + std::to_string(t)];
    for (int step = 0; step <= 100; step += 10) c.emplace_back(step, 3.0 / (1 + step * (t + 1)));
  }
  curves["empty"] = {};
  curves["bad"] = {{0, 0.0}, {1, NAN}};  // nothing plottable on a log axis: left out
  PlotOptions o;
  o.out_dir = dir_;
  o.svg = false;
  const PlotFiles f = PlotLossCurves(curves, o);
  ASSERT_EQ(f.images.size(), 1u);
  ExpectPng(dir_ + "/loss_curves.png");
  EXPECT_FALSE(fs::exists(dir_ + "/loss_curves.svg"));
  const std::string script = ReadAll(dir_ + "/loss_curves.gp");
  EXPECT_NE(script.find("'trial2'"), std::string::npos);
  EXPECT_EQ(script.find("'bad'"), std::string::npos);
}

TEST_F(PlotsTest, ManyCurvesUseALoop) {
  LossCurves curves;
  for (int t = 0; t < 30; ++t) curves["t" + std::to_string(t)] = {{0, 2.0}, {10, 1.0 + t * 0.01}};
  PlotOptions o;
  o.out_dir = dir_;
  PlotLossCurves(curves, o);
  EXPECT_NE(ReadAll(dir_ + "/loss_curves.gp").find("plot for [i=0:29]"), std::string::npos);
  ExpectSvg(dir_ + "/loss_curves.svg");
}

TEST_F(PlotsTest, WritePlotsAll) {
  PlotOptions o;
  o.out_dir = dir_;
  const PlotFiles f = WritePlots(MakeSummary(), {{"a", {{0, 1.0}, {5, 0.5}}}}, o);
  EXPECT_EQ(f.images.size(), 6u);
  EXPECT_EQ(f.scripts.size(), 3u);
}

TEST_F(PlotsTest, NothingToPlotIsAUserError) {
  PlotOptions o;
  o.out_dir = dir_;
  const Summary empty = BuildSummary({}, {});
  EXPECT_THROW(PlotAccuracyVsParams(empty, o), UserError);
  EXPECT_THROW(PlotLossVsParams(empty, o), UserError);
  EXPECT_THROW(PlotLossCurves({}, o), UserError);
}

// Runs without gnuplot too: a missing executable is a clear error, not a crash.
TEST(PlotsNoGnuplotTest, MissingGnuplotIsAClearError) {
  testutil::TempDir tmp("revsweep-plots");
  PlotOptions o;
  o.out_dir = tmp.path();
  o.gnuplot = "/nonexistent/gnuplot";
  try {
    PlotLossCurves({{"a", {{0, 1.0}, {1, 0.5}}}}, o);
    ADD_FAILURE() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("gnuplot not found"), std::string::npos) << e.what();
  }
  // The data and script are still there for a later manual run.
  EXPECT_TRUE(fs::exists(tmp / "loss_curves.gp"));
  EXPECT_EQ(FindGnuplot("/nonexistent/gnuplot"), "");
  EXPECT_EQ(FindGnuplot("no-such-program-revsweep"), "");
}

}  // namespace
}  // namespace revsweep
