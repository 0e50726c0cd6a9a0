#include "common/messages.h"

#include <gtest/gtest.h>

#include <cmath>

namespace revsweep {
namespace {

TEST(Messages, AssignRoundTrip) {
  AssignMsg m;
  m.trial_id = "abc";
  m.settings_json = "{\"train.lr\":0.001}";
  m.task_path = "/x/task.rstk";
  m.checkpoint_dir = "/x/ck";
  m.attempt_id = 7;
  m.attempt_number = 2;
  m.ranks = {2, 3};
  m.comm_tag = 1001;
  m.bucket_mb = 1.5;
  AssignMsg d = DecodeAssign(Encode(m));
  EXPECT_EQ(d.trial_id, "abc");
  EXPECT_EQ(d.settings_json, m.settings_json);
  EXPECT_EQ(d.ranks, m.ranks);
  EXPECT_EQ(d.attempt_number, 2);
  EXPECT_DOUBLE_EQ(d.bucket_mb, 1.5);
}

TEST(Messages, ResultKeepsNonFiniteMetrics) {
  ResultMsg m;
  m.trial_id = "t";
  m.metrics = {{"likelihood.t", HUGE_VAL}, {"x", std::nan("")}, {"acc.a", 0.25}};
  ResultMsg d = DecodeResult(Encode(m));
  EXPECT_TRUE(std::isinf(d.metrics["likelihood.t"]));
  EXPECT_TRUE(std::isnan(d.metrics["x"]));
  EXPECT_DOUBLE_EQ(d.metrics["acc.a"], 0.25);
}

TEST(Messages, FailedAndProgress) {
  FailedMsg f{"t", 3, Outcome::kTimeout, "timed out", 9};
  FailedMsg g = DecodeFailed(Encode(f));
  EXPECT_EQ(g.outcome, Outcome::kTimeout);
  EXPECT_EQ(g.end_step, 9);
  ProgressMsg p;
  p.row.trial_id = "t";
  p.row.step = 4;
  p.curve = {{4, 1.25}};
  ProgressMsg q = DecodeProgress(Encode(p));
  EXPECT_EQ(q.row.step, 4);
  ASSERT_EQ(q.curve.size(), 1u);
  EXPECT_DOUBLE_EQ(q.curve[0].second, 1.25);
  EXPECT_THROW(DecodeShutdown("{not json"), std::exception);
  EXPECT_EQ(DecodeShutdown(Encode(ShutdownMsg{75})).exit_code, 75);
}

}  // namespace
}  // namespace revsweep
