// The store's schema: migrations from version 0 up to kStoreSchemaVersion, each applied in
// one transaction on open (ResultsStore::MigrateTo). Documented in docs/ARCHITECTURE.md.
#include <sqlite3.h>

#include <string>

#include "common/store/results_store.h"
#include "common/store/store_sql.h"

namespace revsweep {
namespace store_sql {
namespace {

// Migration i takes the schema from version i to i + 1.
const char* kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sweeps(name TEXT PRIMARY KEY, yaml TEXT NOT NULL, run_dir TEXT NOT NULL,
                    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE trials(id TEXT PRIMARY KEY, settings TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending', cost REAL NOT NULL DEFAULT 0,
                    params INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
                    updated_at REAL NOT NULL);
CREATE INDEX trials_state ON trials(state);
CREATE TABLE sweep_trials(sweep TEXT NOT NULL, trial_id TEXT NOT NULL, ord INTEGER NOT NULL,
                          PRIMARY KEY(sweep, trial_id)) WITHOUT ROWID;
CREATE INDEX sweep_trials_trial ON sweep_trials(trial_id);
CREATE TABLE attempts(id INTEGER PRIMARY KEY AUTOINCREMENT, trial_id TEXT NOT NULL,
                      job_id TEXT NOT NULL, slurm_restart INTEGER NOT NULL DEFAULT 0,
                      ranks INTEGER NOT NULL DEFAULT 0, started_at REAL NOT NULL,
                      ended_at REAL NOT NULL DEFAULT 0, outcome TEXT NOT NULL,
                      message TEXT NOT NULL DEFAULT '', start_step INTEGER NOT NULL DEFAULT 0,
                      end_step INTEGER NOT NULL DEFAULT 0);
CREATE INDEX attempts_trial ON attempts(trial_id);
CREATE INDEX attempts_outcome ON attempts(outcome);
CREATE TABLE progress(trial_id TEXT PRIMARY KEY, step INTEGER, total_steps INTEGER, loss REAL,
                      tokens_per_s REAL, elapsed_s REAL, updated_at REAL);
CREATE TABLE results(trial_id TEXT NOT NULL, key TEXT NOT NULL, value REAL,
                     PRIMARY KEY(trial_id, key)) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('schema_version', '1');
)sql",
    // 1 -> 2
    R"sql(
CREATE TABLE jobs(job_id TEXT PRIMARY KEY, sweep TEXT NOT NULL, kind TEXT NOT NULL,
                  state TEXT NOT NULL DEFAULT '', submitted_at REAL NOT NULL DEFAULT 0,
                  info TEXT NOT NULL DEFAULT '');
CREATE INDEX jobs_sweep ON jobs(sweep);
CREATE TABLE loss_curve(trial_id TEXT NOT NULL, step INTEGER NOT NULL, loss REAL,
                        PRIMARY KEY(trial_id, step)) WITHOUT ROWID;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql",
    // 2 -> 3: covering indexes for status at 100k trials (state without reading the settings
    // JSON; sweep order without a sort).
    R"sql(
CREATE INDEX trials_id_state ON trials(id, state, cost);
CREATE INDEX sweep_trials_ord ON sweep_trials(sweep, ord, trial_id);
UPDATE meta SET value = '3' WHERE key = 'schema_version';
)sql",
    // 3 -> 4: status in one range scan. sweep_trials (clustered by sweep) carries copies of
    // the few trial and progress fields that counts, ETA and placement need, kept equal by
    // triggers, so status never joins or reads the ~1 KB settings of 100k trials. The v3
    // indexes only served the old join. sweeps.varying: JSON array of the settings keys that
    // differ between the sweep's trials (trial descriptions without loading every trial);
    // NULL = not yet known (computed on demand). settings_base: the settings a batch of trials
    // shares, stored once; such a trial's `settings` holds only its own keys (base_id set;
    // NULL = every key, as before). A sweep's ~60 keys of which ~7 vary: ~7x fewer bytes to
    // write and parse. The view trial_settings gives every trial's full settings to SQL users.
    R"sql(
ALTER TABLE sweep_trials ADD COLUMN state TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE sweep_trials ADD COLUMN cost REAL NOT NULL DEFAULT 0;
ALTER TABLE sweep_trials ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sweep_trials ADD COLUMN updated_at REAL NOT NULL DEFAULT 0;
ALTER TABLE sweep_trials ADD COLUMN step INTEGER;
ALTER TABLE sweep_trials ADD COLUMN total_steps INTEGER;
ALTER TABLE sweep_trials ADD COLUMN elapsed_s REAL;
UPDATE sweep_trials SET (state, cost, attempts, updated_at) =
    (SELECT t.state, t.cost, t.attempts, t.updated_at FROM trials t
     WHERE t.id = sweep_trials.trial_id);
UPDATE sweep_trials SET (step, total_steps, elapsed_s) =
    (SELECT p.step, p.total_steps, p.elapsed_s FROM progress p
     WHERE p.trial_id = sweep_trials.trial_id);
CREATE TRIGGER trials_copy_to_sweeps AFTER UPDATE OF state, cost, attempts, updated_at ON trials
BEGIN
  UPDATE sweep_trials SET state = NEW.state, cost = NEW.cost, attempts = NEW.attempts,
                          updated_at = NEW.updated_at WHERE trial_id = NEW.id;
END;
CREATE TRIGGER progress_insert_copy AFTER INSERT ON progress
BEGIN
  UPDATE sweep_trials SET step = NEW.step, total_steps = NEW.total_steps,
                          elapsed_s = NEW.elapsed_s WHERE trial_id = NEW.trial_id;
END;
CREATE TRIGGER progress_update_copy AFTER UPDATE ON progress
BEGIN
  UPDATE sweep_trials SET step = NEW.step, total_steps = NEW.total_steps,
                          elapsed_s = NEW.elapsed_s WHERE trial_id = NEW.trial_id;
END;
CREATE TRIGGER progress_delete_copy AFTER DELETE ON progress
BEGIN
  UPDATE sweep_trials SET step = NULL, total_steps = NULL, elapsed_s = NULL
      WHERE trial_id = OLD.trial_id;
END;
DROP INDEX trials_state;
DROP INDEX trials_id_state;
DROP INDEX sweep_trials_ord;
ALTER TABLE sweeps ADD COLUMN varying TEXT;
CREATE TABLE settings_base(id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
ALTER TABLE trials ADD COLUMN base_id INTEGER REFERENCES settings_base(id);
CREATE VIEW trial_settings AS
  SELECT t.id AS id,
         CASE WHEN t.base_id IS NULL THEN t.settings ELSE json_patch(b.json, t.settings) END
             AS settings
  FROM trials t LEFT JOIN settings_base b ON b.id = t.base_id;
UPDATE meta SET value = '4' WHERE key = 'schema_version';
)sql",
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kStoreSchemaVersion,
              "one migration per schema version");

}  // namespace

int ReadVersion(sqlite3* db) {
  Stmt t(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'");
  t.Step();
  if (t.Int(0) == 0) return 0;
  Stmt s(db, "SELECT value FROM meta WHERE key='schema_version'");
  return s.Step() ? std::stoi(s.Text(0)) : 0;
}

}  // namespace store_sql

void ResultsStore::MigrateTo(sqlite3* db, int target) {
  store_sql::Txn txn(db);
  int version = store_sql::ReadVersion(db);
  for (int v = version; v < target; ++v) store_sql::ExecSql(db, store_sql::kMigrations[v]);
  txn.Commit();
}

}  // namespace revsweep
