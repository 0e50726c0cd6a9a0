// The raw SQLite side of a ResultsStore, for tests and benchmarks only: bulk inserts at 100k
// trials, a transaction held open as another process would, building an old-version store and
// migrating it. The product never includes this header; everything else goes through the
// ResultsStore API, which keeps every state change one transaction.
#pragma once

#include "common/store/results_store.h"

namespace revsweep {

struct StoreRawAccess {
  static sqlite3* Db(ResultsStore& store) { return store.db_; }
  static void MigrateTo(sqlite3* db, int target) { ResultsStore::MigrateTo(db, target); }
};

}  // namespace revsweep
