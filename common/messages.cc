#include "common/messages.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace revsweep {
using nlohmann::json;

namespace {
// JSON has no NaN/Inf: encode non-finite metric values as strings.
json Num(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}
double FromNum(const json& j) {
  if (j.is_number()) return j.get<double>();
  std::string s = j.get<std::string>();
  if (s == "nan") return std::nan("");
  return s == "inf" ? HUGE_VAL : -HUGE_VAL;
}
}  // namespace

std::string Encode(const AssignMsg& m) {
  return json{{"trial_id", m.trial_id},
              {"settings", m.settings_json},
              {"task_path", m.task_path},
              {"checkpoint_dir", m.checkpoint_dir},
              {"attempt_id", m.attempt_id},
              {"attempt_number", m.attempt_number},
              {"ranks", m.ranks},
              {"comm_tag", m.comm_tag},
              {"bucket_mb", m.bucket_mb},
              {"progress_every_s", m.progress_every_s},
              {"heartbeat_every_s", m.heartbeat_every_s}}
      .dump();
}
AssignMsg DecodeAssign(const std::string& s) {
  json j = json::parse(s);
  AssignMsg m;
  m.trial_id = j.at("trial_id");
  m.settings_json = j.at("settings");
  m.task_path = j.at("task_path");
  m.checkpoint_dir = j.at("checkpoint_dir");
  m.attempt_id = j.at("attempt_id");
  m.attempt_number = j.at("attempt_number");
  m.ranks = j.at("ranks").get<std::vector<int>>();
  m.comm_tag = j.at("comm_tag");
  m.bucket_mb = j.at("bucket_mb");
  m.progress_every_s = j.at("progress_every_s");
  m.heartbeat_every_s = j.at("heartbeat_every_s");
  return m;
}

std::string Encode(const CancelMsg& m) {
  return json{{"trial_id", m.trial_id}, {"reason", m.reason}}.dump();
}
CancelMsg DecodeCancel(const std::string& s) {
  json j = json::parse(s);
  return {j.at("trial_id"), j.at("reason")};
}

std::string Encode(const ProgressMsg& m) {
  json curve = json::array();
  for (const auto& [step, loss] : m.curve) curve.push_back({step, Num(loss)});
  return json{{"attempt_id", m.attempt_id},
              {"start_step", m.start_step},
              {"trial_id", m.row.trial_id},
              {"step", m.row.step},
              {"total_steps", m.row.total_steps},
              {"loss", Num(m.row.loss)},
              {"tokens_per_s", m.row.tokens_per_s},
              {"elapsed_s", m.row.elapsed_s},
              {"curve", curve}}
      .dump();
}
ProgressMsg DecodeProgress(const std::string& s) {
  json j = json::parse(s);
  ProgressMsg m;
  m.attempt_id = j.at("attempt_id");
  m.start_step = j.value("start_step", int64_t{-1});
  m.row.trial_id = j.at("trial_id");
  m.row.step = j.at("step");
  m.row.total_steps = j.at("total_steps");
  m.row.loss = FromNum(j.at("loss"));
  m.row.tokens_per_s = j.at("tokens_per_s");
  m.row.elapsed_s = j.at("elapsed_s");
  for (const auto& p : j.at("curve"))
    m.curve.emplace_back(p.at(0).get<int64_t>(), FromNum(p.at(1)));
  return m;
}

std::string Encode(const ResultMsg& m) {
  json metrics = json::object();
  for (const auto& [k, v] : m.metrics) metrics[k] = Num(v);
  return json{{"trial_id", m.trial_id},
              {"attempt_id", m.attempt_id},
              {"metrics", metrics},
              {"params", m.params},
              {"end_step", m.end_step}}
      .dump();
}
ResultMsg DecodeResult(const std::string& s) {
  json j = json::parse(s);
  ResultMsg m;
  m.trial_id = j.at("trial_id");
  m.attempt_id = j.at("attempt_id");
  for (const auto& [k, v] : j.at("metrics").items()) m.metrics[k] = FromNum(v);
  m.params = j.at("params");
  m.end_step = j.at("end_step");
  return m;
}

std::string Encode(const FailedMsg& m) {
  return json{
      {"trial_id", m.trial_id}, {"attempt_id", m.attempt_id}, {"outcome", OutcomeName(m.outcome)},
      {"message", m.message},   {"end_step", m.end_step},     {"rank", m.rank}}
      .dump();
}
FailedMsg DecodeFailed(const std::string& s) {
  json j = json::parse(s);
  FailedMsg m;
  m.trial_id = j.at("trial_id");
  m.attempt_id = j.at("attempt_id");
  m.outcome = OutcomeFromName(j.at("outcome"));
  m.message = j.at("message");
  m.end_step = j.at("end_step");
  m.rank = j.at("rank");
  return m;
}

std::string Encode(const ShutdownMsg& m) { return json{{"exit_code", m.exit_code}}.dump(); }
ShutdownMsg DecodeShutdown(const std::string& s) {
  return {json::parse(s).at("exit_code").get<int>()};
}

std::string Encode(const HeartbeatMsg& m) {
  return json{{"attempt_id", m.attempt_id}, {"rank", m.rank}, {"left", m.left}}.dump();
}
HeartbeatMsg DecodeHeartbeat(const std::string& s) {
  json j = json::parse(s);
  return {j.at("attempt_id").get<int64_t>(), j.at("rank").get<int>(), j.at("left").get<bool>()};
}

}  // namespace revsweep
