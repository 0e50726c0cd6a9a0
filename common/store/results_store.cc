#include "common/store/results_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>

#include "common/config/settings_vary.h"
#include "common/store/store_sql.h"
#include "common/user_error.h"

namespace revsweep {
namespace {

using store_sql::ExecSql;
using store_sql::Now;
using store_sql::ReadVersion;
using store_sql::Stmt;
using store_sql::Txn;

// Network filesystems where SQLite's WAL (shared memory index) is unsafe.
bool OnNetworkFilesystem(const std::string& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969:      // NFS
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x517B:      // SMB
    case 0x0BD00BD0:  // Lustre
    case 0x47504653:  // GPFS
    case 0x19830326:  // BeeGFS
    case 0x65735546:  // FUSE
    case 0x00C36400:  // CephFS
      return true;
    default:
      return false;
  }
}

// Parsed settings_base rows, by id, for one read of many trials.
class BaseCache {
 public:
  explicit BaseCache(sqlite3* db) : db_(db) {}
  const Settings& Get(int64_t id) {
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
    return cache_.emplace(id, store_sql::ReadSettingsBase(db_, id)).first->second;
  }

 private:
  sqlite3* db_;
  std::map<int64_t, Settings> cache_;
};

// Columns: id, settings, state, cost, params, attempts, last_error, updated_at, base_id.
TrialRow ReadTrial(Stmt& s, BaseCache* bases) {
  TrialRow t;
  t.id = s.Text(0);
  if (s.IsNull(8)) {
    t.settings = SettingsFromJson(s.Text(1));
  } else {
    // The trial's own keys and the base's are disjoint (UpsertSweep splits them so).
    t.settings = Overlay(bases->Get(s.Int(8)), SettingsFromJson(s.Text(1)));
  }
  t.state = TrialStateFromName(s.Text(2));
  t.cost = s.Double(3);
  t.params = s.Int(4);
  t.attempts = static_cast<int>(s.Int(5));
  t.last_error = s.Text(6);
  t.updated_at = s.Double(7);
  return t;
}

}  // namespace

const char* TrialStateName(TrialState s) {
  switch (s) {
    case TrialState::kPending:
      return "pending";
    case TrialState::kRunning:
      return "running";
    case TrialState::kDone:
      return "done";
    case TrialState::kFailed:
      return "failed";
  }
  return "pending";
}

TrialState TrialStateFromName(const std::string& s) {
  if (s == "running") return TrialState::kRunning;
  if (s == "done") return TrialState::kDone;
  if (s == "failed") return TrialState::kFailed;
  if (s == "pending") return TrialState::kPending;
  // A state this version does not know (a newer writer, a hand edit): never guess "pending",
  // which would train the trial again.
  throw std::runtime_error("unknown trial state '" + s + "' in the store");
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kRunning:
      return "running";
    case Outcome::kDone:
      return "done";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kCrash:
      return "crash";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kPreempted:
      return "preempted";
    case Outcome::kLost:
      return "lost";
    case Outcome::kFatal:
      return "fatal";
  }
  return "running";
}

Outcome OutcomeFromName(const std::string& s) {
  for (Outcome o : {Outcome::kRunning, Outcome::kDone, Outcome::kFailed, Outcome::kCrash,
                    Outcome::kTimeout, Outcome::kPreempted, Outcome::kLost, Outcome::kFatal})
    if (s == OutcomeName(o)) return o;
  throw std::runtime_error("unknown attempt outcome '" + s + "'");
}

ResultsStore::ResultsStore(const std::string& path, bool readonly)
    : path_(path), readonly_(readonly) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw UserError(path, 0, 0, "",
                    "store path is a directory; give a file such as " + path + "/revsweep.db");
  fs::path parent = fs::absolute(path, ec).parent_path();
  if (readonly) {
    if (!fs::exists(path, ec)) throw UserError(path, 0, 0, "", "no store here (run a sweep first)");
  } else {
    fs::create_directories(parent, ec);
    if (ec)
      throw UserError(path, 0, 0, "",
                      "cannot create folder " + parent.string() + ": " + ec.message());
    if (access(parent.c_str(), W_OK) != 0 || (fs::exists(path) && access(path.c_str(), W_OK) != 0))
      throw UserError(path, 0, 0, "", "store is not writable");
  }
  int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string m = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw UserError(path, 0, 0, "", "cannot open store: " + m);
  }
  sqlite3_busy_timeout(db_, 30000);
  try {
    // Reading the schema also detects a file that is not a SQLite database.
    int version = ReadVersion(db_);
    // Trial ids are hashes, so inserting a big sweep writes its index B-trees at random places;
    // with SQLite's default 2 MB page cache those pages spill to the journal over and over
    // inside the one transaction. 64 MB (allocated only as used) holds the indexes of ~500k
    // trials.
    ExecSql(db_, "PRAGMA cache_size=-65536");

    if (version > kStoreSchemaVersion)
      throw UserError(path, 0, 0, "",
                      "store has schema version " + std::to_string(version) +
                          ", newer than this revsweep (" + std::to_string(kStoreSchemaVersion) +
                          "); use a newer revsweep or another store");
    if (!readonly) {
      const char* env = getenv("REVSWEEP_JOURNAL_MODE");
      std::string mode = env ? env : (OnNetworkFilesystem(parent.string()) ? "DELETE" : "WAL");
      ExecSql(db_, "PRAGMA journal_mode=" + mode);
      // FULL: a commit survives power loss, not only a process crash.
      ExecSql(db_, "PRAGMA synchronous=FULL");
      if (version < kStoreSchemaVersion) MigrateTo(db_, kStoreSchemaVersion);
    } else if (version < kStoreSchemaVersion) {
      throw UserError(path, 0, 0, "",
                      "store has schema version " + std::to_string(version) +
                          "; open it once read-write (any revsweep run) to migrate");
    }
  } catch (const std::runtime_error& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    if (dynamic_cast<const UserError*>(&e)) throw;
    throw UserError(path, 0, 0, "", std::string("not a revsweep store: ") + e.what());
  }
}

ResultsStore::~ResultsStore() {
  if (db_) sqlite3_close(db_);
}

void ResultsStore::Exec(const std::string& sql) { ExecSql(db_, sql); }

int ResultsStore::SchemaVersion() { return ReadVersion(db_); }

std::string ResultsStore::JournalMode() {
  Stmt s(db_, "PRAGMA journal_mode");
  s.Step();
  return s.Text(0);
}

namespace {

std::vector<std::string> KeysFromJson(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& k : nlohmann::json::parse(text)) out.push_back(k.get<std::string>());
  return out;
}

}  // namespace

int ResultsStore::UpsertSweep(const std::string& name, const std::string& yaml,
                              const std::string& run_dir,
                              const std::vector<std::pair<std::string, Settings>>& trials,
                              const std::vector<double>& costs) {
  const double now = Now();
  Txn txn(db_);
  // The sweep's varying keys: this batch's, merged with those of the trials it already has
  // (UpsertSweep may be called again with more or other trials).
  std::vector<const Settings*> batch;
  batch.reserve(trials.size());
  for (const auto& t : trials) batch.push_back(&t.second);
  const std::vector<std::string> batch_varying = revsweep::VaryingKeys(batch);
  std::vector<std::string> varying = batch_varying;
  if (HasSweep(name)) {
    Stmt rep(db_, "SELECT trial_id FROM sweep_trials WHERE sweep=? LIMIT 1");
    rep.Bind(1, name);
    if (rep.Step()) {
      std::optional<TrialRow> old_rep = Trial(rep.Text(0));
      if (old_rep) {
        varying = MergeVaryingKeys(VaryingKeys(name), &old_rep->settings, varying,
                                   batch.empty() ? nullptr : batch[0]);
      }
    }
  }
  // New trials store the keys shared by the whole batch once (settings_base) and only their
  // varying keys themselves. A batch of one trial stores it whole.
  const std::set<std::string> own_keys(batch_varying.begin(), batch_varying.end());
  int64_t base_id = 0;
  if (batch.size() >= 2) {
    Settings base;
    for (const auto& kv : *batch[0]) {
      if (!own_keys.count(kv.first)) base.insert(kv);
    }
    const std::string base_json = SettingsToJson(base);
    Stmt put(db_, "INSERT OR IGNORE INTO settings_base(json) VALUES(?)");
    put.Bind(1, base_json).Run();
    Stmt get(db_, "SELECT id FROM settings_base WHERE json=?");
    get.Bind(1, base_json);
    if (!get.Step()) throw std::runtime_error("store: settings_base row not written");
    base_id = get.Int(0);
  }
  Stmt sw(db_,
          "INSERT INTO sweeps(name, yaml, run_dir, created_at, updated_at, varying) "
          "VALUES(?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET yaml=excluded.yaml, "
          "run_dir=excluded.run_dir, updated_at=excluded.updated_at, varying=excluded.varying");
  sw.Bind(1, name).Bind(2, yaml).Bind(3, run_dir).Bind(4, now).Bind(5, now);
  sw.Bind(6, nlohmann::json(varying).dump()).Run();
  Stmt ins(db_,
           "INSERT OR IGNORE INTO trials(id, settings, cost, created_at, updated_at, base_id) "
           "VALUES(?,?,?,?,?,?)");
  // The link copies the trial's status fields (a trial may already be known, done or with
  // progress, from another sweep or an earlier run); triggers keep them current afterwards.
  Stmt link(db_,
            "INSERT INTO sweep_trials(sweep, trial_id, ord, state, cost, attempts, updated_at, "
            "step, total_steps, elapsed_s) "
            "SELECT ?1, t.id, ?3, t.state, t.cost, t.attempts, t.updated_at, p.step, "
            "p.total_steps, p.elapsed_s FROM trials t LEFT JOIN progress p ON p.trial_id = t.id "
            "WHERE t.id = ?2 ON CONFLICT(sweep, trial_id) DO UPDATE SET ord=excluded.ord");
  Stmt link_new(db_,
                "INSERT INTO sweep_trials(sweep, trial_id, ord, state, cost, attempts, "
                "updated_at) VALUES(?1, ?2, ?3, 'pending', ?4, 0, ?5) "
                "ON CONFLICT(sweep, trial_id) DO UPDATE SET ord=excluded.ord");
  int added = 0;
  std::string own_json;
  std::vector<std::string> key_json;  // "\"key\":" of each varying key
  for (const std::string& k : batch_varying) key_json.push_back(ValueToJson(Value(k)) + ":");
  // Every B-tree written below is keyed by trial id: inserting in id order makes them appends
  // instead of inserts at random places (ids are hashes).
  std::vector<size_t> by_id(trials.size());
  for (size_t i = 0; i < by_id.size(); ++i) by_id[i] = i;
  std::sort(by_id.begin(), by_id.end(),
            [&](size_t a, size_t b) { return trials[a].first < trials[b].first; });
  for (size_t i : by_id) {
    ins.Reset();
    ins.Bind(1, trials[i].first);
    if (base_id) {
      // The trial's own keys as a JSON object, written straight from its map (no copy).
      own_json = "{";
      for (size_t k = 0; k < batch_varying.size(); ++k) {
        auto it = trials[i].second.find(batch_varying[k]);
        if (it == trials[i].second.end()) continue;
        if (own_json.size() > 1) own_json += ',';
        own_json += key_json[k];
        own_json += ValueToJson(it->second);
      }
      own_json += '}';
      ins.Bind(2, own_json).Bind(6, base_id);
    } else {
      ins.Bind(2, SettingsToJson(trials[i].second));  // base_id stays NULL
    }
    ins.Bind(3, i < costs.size() ? costs[i] : 0.0).Bind(4, now).Bind(5, now).Run();
    const bool is_new = sqlite3_changes(db_) > 0;
    added += is_new;
    if (is_new) {  // known values: no lookups
      link_new.Reset();
      link_new.Bind(1, name).Bind(2, trials[i].first).Bind(3, static_cast<int64_t>(i));
      link_new.Bind(4, i < costs.size() ? costs[i] : 0.0).Bind(5, now).Run();
    } else {
      link.Reset();
      link.Bind(1, name).Bind(2, trials[i].first).Bind(3, static_cast<int64_t>(i)).Run();
    }
  }
  txn.Commit();
  return added;
}

std::vector<std::string> ResultsStore::VaryingKeys(const std::string& sweep) {
  {
    Stmt s(db_, "SELECT varying FROM sweeps WHERE name=?");
    s.Bind(1, sweep);
    if (!s.Step()) return {};
    if (!s.IsNull(0)) return KeysFromJson(s.Text(0));
  }
  std::vector<TrialRow> all = Trials(sweep);
  std::vector<const Settings*> ptrs;
  for (const TrialRow& t : all) ptrs.push_back(&t.settings);
  return revsweep::VaryingKeys(ptrs);
}

std::vector<TrialStateRow> ResultsStore::TrialStates(const std::string& sweep) {
  Stmt s(db_,
         "SELECT trial_id, ord, state, cost, attempts, updated_at, step, total_steps, elapsed_s "
         "FROM sweep_trials WHERE sweep=?");
  s.Bind(1, sweep);
  std::vector<TrialStateRow> out;
  while (s.Step()) {
    TrialStateRow r;
    r.id = s.Text(0);
    r.ord = s.Int(1);
    r.state = TrialStateFromName(s.Text(2));
    r.cost = s.Double(3);
    r.attempts = static_cast<int>(s.Int(4));
    r.updated_at = s.Double(5);
    r.has_progress = !s.IsNull(6);
    r.step = s.Int(6);
    r.total_steps = s.Int(7);
    r.elapsed_s = s.Double(8);
    out.push_back(std::move(r));
  }
  return out;
}

bool ResultsStore::HasSweep(const std::string& name) {
  Stmt s(db_, "SELECT 1 FROM sweeps WHERE name=?");
  s.Bind(1, name);
  return s.Step();
}

std::string ResultsStore::SweepYaml(const std::string& name) {
  Stmt s(db_, "SELECT yaml FROM sweeps WHERE name=?");
  s.Bind(1, name);
  return s.Step() ? s.Text(0) : "";
}

std::string ResultsStore::SweepRunDir(const std::string& name) {
  Stmt s(db_, "SELECT run_dir FROM sweeps WHERE name=?");
  s.Bind(1, name);
  return s.Step() ? s.Text(0) : "";
}

std::vector<std::string> ResultsStore::SweepNames() {
  Stmt s(db_, "SELECT name FROM sweeps ORDER BY updated_at DESC");
  std::vector<std::string> out;
  while (s.Step()) out.push_back(s.Text(0));
  return out;
}

std::vector<TrialRow> ResultsStore::Trials(const std::string& sweep) {
  Stmt s(db_,
         "SELECT t.id, t.settings, t.state, t.cost, t.params, t.attempts, t.last_error, "
         "t.updated_at, t.base_id FROM sweep_trials st JOIN trials t ON t.id = st.trial_id "
         "WHERE st.sweep=? ORDER BY st.ord");
  s.Bind(1, sweep);
  std::vector<TrialRow> out;
  BaseCache bases(db_);
  while (s.Step()) out.push_back(ReadTrial(s, &bases));
  return out;
}

std::vector<TrialConfig> ResultsStore::TrialConfigs(const std::string& sweep) {
  std::vector<TrialConfig> out;
  for (TrialRow& row : Trials(sweep)) {
    TrialConfig t = MakeTrialConfig(row.settings);
    t.id = std::move(row.id);
    out.push_back(std::move(t));
  }
  return out;
}

std::optional<TrialRow> ResultsStore::Trial(const std::string& id) {
  Stmt s(db_,
         "SELECT t.id, t.settings, t.state, t.cost, t.params, t.attempts, t.last_error, "
         "t.updated_at, t.base_id FROM trials t WHERE t.id=?");
  s.Bind(1, id);
  if (!s.Step()) return std::nullopt;
  BaseCache bases(db_);
  return ReadTrial(s, &bases);
}

std::map<std::string, int> ResultsStore::CountByState(const std::string& sweep) {
  Stmt s(db_, "SELECT state, count(*) FROM sweep_trials WHERE sweep=? GROUP BY state");
  s.Bind(1, sweep);
  std::map<std::string, int> out{{"pending", 0}, {"running", 0}, {"done", 0}, {"failed", 0}};
  while (s.Step()) out[s.Text(0)] = static_cast<int>(s.Int(1));
  return out;
}

}  // namespace revsweep
