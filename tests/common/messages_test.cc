#include "common/messages.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

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

namespace revsweep {
namespace {

// Every field of every message survives the trip (the field lists in messages.cc are the only
// place a field is named), and a missing field is an error, not a default.
TEST(Messages, EveryFieldRoundTripsAndMissingOnesAreErrors) {
  AssignMsg a;
  a.trial_id = "t";
  a.settings_json = "{}";
  a.task_path = "/p";
  a.checkpoint_dir = "/c";
  a.attempt_id = 5;
  a.attempt_number = 3;
  a.ranks = {4, 5, 6};
  a.comm_tag = 1002;
  a.bucket_mb = 2.5;
  a.progress_every_s = 0.5;
  a.heartbeat_every_s = 7.5;
  AssignMsg b = DecodeAssign(Encode(a));
  EXPECT_EQ(std::tie(b.trial_id, b.settings_json, b.task_path, b.checkpoint_dir, b.attempt_id,
                     b.attempt_number, b.ranks, b.comm_tag),
            std::tie(a.trial_id, a.settings_json, a.task_path, a.checkpoint_dir, a.attempt_id,
                     a.attempt_number, a.ranks, a.comm_tag));
  EXPECT_EQ(std::tie(b.bucket_mb, b.progress_every_s, b.heartbeat_every_s),
            std::tie(a.bucket_mb, a.progress_every_s, a.heartbeat_every_s));

  FailedMsg f{"t", 3, Outcome::kCrash, "rank 1: out of memory", 9, 1};
  FailedMsg g = DecodeFailed(Encode(f));
  EXPECT_EQ(std::tie(g.trial_id, g.attempt_id, g.outcome, g.message, g.end_step, g.rank),
            std::tie(f.trial_id, f.attempt_id, f.outcome, f.message, f.end_step, f.rank));

  HeartbeatMsg h{12, 3, true};
  HeartbeatMsg k = DecodeHeartbeat(Encode(h));
  EXPECT_EQ(std::tie(k.attempt_id, k.rank, k.left), std::tie(h.attempt_id, h.rank, h.left));

  ProgressMsg p;
  p.attempt_id = 2;
  p.start_step = 40;
  p.row = {"t", 41, 100, std::nan(""), 1234.5, 9.25, 0};
  p.curve = {{41, HUGE_VAL}};
  ProgressMsg q = DecodeProgress(Encode(p));
  EXPECT_EQ(q.start_step, 40);
  EXPECT_EQ(q.row.total_steps, 100);
  EXPECT_TRUE(std::isnan(q.row.loss));
  EXPECT_DOUBLE_EQ(q.row.tokens_per_s, 1234.5);
  EXPECT_DOUBLE_EQ(q.row.elapsed_s, 9.25);
  EXPECT_TRUE(std::isinf(q.curve.at(0).second));

  CancelMsg c = DecodeCancel(Encode(CancelMsg{"t", "timeout"}));
  EXPECT_EQ(c.reason, "timeout");

  EXPECT_THROW(DecodeFailed(R"({"trial_id":"t","attempt_id":1,"outcome":"crash"})"),
               std::exception);
  EXPECT_THROW(DecodeFailed(R"({"trial_id":"t","attempt_id":1,"outcome":"oom","message":"",)"
                            R"("end_step":0,"rank":0})"),
               std::runtime_error);
  EXPECT_THROW(DecodeResult(R"({"trial_id":"t","attempt_id":1,"metrics":{"a":"x"},)"
                            R"("params":0,"end_step":0})"),
               std::runtime_error);
}

}  // namespace
}  // namespace revsweep
