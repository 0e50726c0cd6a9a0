#include "common/messages.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace revsweep {
using nlohmann::json;

namespace {

// ---- one field list per message type -------------------------------------------------------
// Each message's wire fields are listed once, in Fields(); Encode and Decode both walk that list
// (a Writer fills a JSON object, a Reader takes every field from one and throws when it is
// missing or of the wrong type). A field cannot be written and then forgotten on the way back.

// JSON has no NaN/Inf: non-finite numbers travel as the strings "nan", "inf", "-inf".
json ToJson(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}
json ToJson(Outcome o) { return OutcomeName(o); }
json ToJson(const std::map<std::string, double>& m) {
  json o = json::object();
  for (const auto& [k, v] : m) o[k] = ToJson(v);
  return o;
}
json ToJson(const std::vector<std::pair<int64_t, double>>& curve) {
  json a = json::array();
  for (const auto& [step, loss] : curve) a.push_back({step, ToJson(loss)});
  return a;
}
template <typename T>
json ToJson(const T& v) {
  return json(v);
}

void FromJson(const json& j, double* v) {
  if (j.is_number()) {
    *v = j.get<double>();
    return;
  }
  const std::string s = j.get<std::string>();
  if (s == "nan")
    *v = std::nan("");
  else if (s == "inf" || s == "-inf")
    *v = s == "inf" ? HUGE_VAL : -HUGE_VAL;
  else
    throw std::runtime_error("not a number: \"" + s + "\"");
}
void FromJson(const json& j, Outcome* o) { *o = OutcomeFromName(j.get<std::string>()); }
void FromJson(const json& j, std::map<std::string, double>* m) {
  for (const auto& [k, v] : j.items()) FromJson(v, &(*m)[k]);
}
void FromJson(const json& j, std::vector<std::pair<int64_t, double>>* curve) {
  for (const auto& p : j) {
    double loss = 0;
    FromJson(p.at(1), &loss);
    curve->emplace_back(p.at(0).get<int64_t>(), loss);
  }
}
template <typename T>
void FromJson(const json& j, T* v) {
  *v = j.get<T>();
}

struct Writer {
  json j = json::object();
  template <typename T>
  void operator()(const char* key, const T& v) {
    j[key] = ToJson(v);
  }
};

struct Reader {
  const json& j;
  template <typename T>
  void operator()(const char* key, T& v) {
    FromJson(j.at(key), &v);
  }
};

template <typename M, typename F>
void AssignFields(M& m, F&& f) {
  f("trial_id", m.trial_id);
  f("settings", m.settings_json);
  f("task_path", m.task_path);
  f("checkpoint_dir", m.checkpoint_dir);
  f("attempt_id", m.attempt_id);
  f("attempt_number", m.attempt_number);
  f("ranks", m.ranks);
  f("comm_tag", m.comm_tag);
  f("bucket_mb", m.bucket_mb);
  f("progress_every_s", m.progress_every_s);
  f("heartbeat_every_s", m.heartbeat_every_s);
}
template <typename M, typename F>
void CancelFields(M& m, F&& f) {
  f("trial_id", m.trial_id);
  f("reason", m.reason);
}
template <typename M, typename F>
void ProgressFields(M& m, F&& f) {
  f("attempt_id", m.attempt_id);
  f("start_step", m.start_step);
  f("trial_id", m.row.trial_id);
  f("step", m.row.step);
  f("total_steps", m.row.total_steps);
  f("loss", m.row.loss);
  f("tokens_per_s", m.row.tokens_per_s);
  f("elapsed_s", m.row.elapsed_s);
  f("curve", m.curve);
}
template <typename M, typename F>
void ResultFields(M& m, F&& f) {
  f("trial_id", m.trial_id);
  f("attempt_id", m.attempt_id);
  f("metrics", m.metrics);
  f("params", m.params);
  f("end_step", m.end_step);
}
template <typename M, typename F>
void FailedFields(M& m, F&& f) {
  f("trial_id", m.trial_id);
  f("attempt_id", m.attempt_id);
  f("outcome", m.outcome);
  f("message", m.message);
  f("end_step", m.end_step);
  f("rank", m.rank);
}
template <typename M, typename F>
void ShutdownFields(M& m, F&& f) {
  f("exit_code", m.exit_code);
}
template <typename M, typename F>
void HeartbeatFields(M& m, F&& f) {
  f("attempt_id", m.attempt_id);
  f("rank", m.rank);
  f("left", m.left);
}

}  // namespace

#define REVSWEEP_MESSAGE(Type, Fields)           \
  std::string Encode(const Type##Msg& m) {       \
    Writer w;                                    \
    Fields(m, w);                                \
    return w.j.dump();                           \
  }                                              \
  Type##Msg Decode##Type(const std::string& s) { \
    const json j = json::parse(s);               \
    Type##Msg m;                                 \
    Fields(m, Reader{j});                        \
    return m;                                    \
  }

REVSWEEP_MESSAGE(Assign, AssignFields)
REVSWEEP_MESSAGE(Cancel, CancelFields)
REVSWEEP_MESSAGE(Progress, ProgressFields)
REVSWEEP_MESSAGE(Result, ResultFields)
REVSWEEP_MESSAGE(Failed, FailedFields)
REVSWEEP_MESSAGE(Shutdown, ShutdownFields)
REVSWEEP_MESSAGE(Heartbeat, HeartbeatFields)

#undef REVSWEEP_MESSAGE

}  // namespace revsweep
