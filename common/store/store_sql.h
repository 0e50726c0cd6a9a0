// Internal to the results store (common/store/results_store.cc, store_schema.cc, sweep_data.cc):
// RAII wrappers over SQLite statements and transactions, and the schema version. Not part of
// the store's API; nothing outside common/ includes it.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/config/settings.h"

namespace revsweep::store_sql {

inline double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A prepared statement with RAII finalize. Errors become std::runtime_error carrying
// SQLite's message: they are internal errors, not a user's mistake.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("store: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string(v)); }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  // Returns true while rows remain.
  bool Step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const char* file = sqlite3_db_filename(db_, "main");
    throw std::runtime_error(std::string("store ") + (file && *file ? file : "(memory)") + ": " +
                             sqlite3_errmsg(db_));
  }
  void Run() {
    Step();
    sqlite3_reset(s_);
  }
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string Text(int c) {
    auto p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c)) : "";
  }
  // Valid until the next Step(); "" for NULL.
  const char* TextPtr(int c) {
    auto p = sqlite3_column_text(s_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  double Double(int c) { return sqlite3_column_double(s_, c); }
  int64_t Int(int c) { return sqlite3_column_int64(s_, c); }
  bool IsNull(int c) { return sqlite3_column_type(s_, c) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

// Commits on Commit(), rolls back otherwise: every state change is one transaction.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) { Exec("BEGIN IMMEDIATE"); }
  ~Txn() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void Commit() {
    Exec("COMMIT");
    done_ = true;
  }

 private:
  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error("store: " + m);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};

inline void ExecSql(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error("store: " + m);
  }
}

// The schema version recorded in `meta` (0 for a database without one).
int ReadVersion(sqlite3* db);

// One settings_base row (the keys a batch of trials shares), parsed.
inline Settings ReadSettingsBase(sqlite3* db, int64_t id) {
  Stmt s(db, "SELECT json FROM settings_base WHERE id=?");
  s.Bind(1, id);
  if (!s.Step()) throw std::runtime_error("store: settings_base row missing");
  return SettingsFromJson(s.Text(0));
}

}  // namespace revsweep::store_sql
