// Where tests find the paper authors' published data (Berglund et al. 2023): the folder
// named by REVSWEEP_AUTHORS_DATA, else ../shared/data/reversal_curse next to the checkout.
// The project never copies these files; deploy/fetch-authors-data.sh downloads them.
// Without the folder a test skips visibly, unless REVSWEEP_REQUIRE_AUTHORS_DATA=1 (set by
// .ci/run), which makes the absence a failure.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/config/sweep_config.h"

namespace revsweep::testing {

inline std::string AuthorsDataDir() {
  if (const char* env = std::getenv("REVSWEEP_AUTHORS_DATA"); env != nullptr && *env != '\0') {
    return env;
  }
  return (std::filesystem::path(REVSWEEP_SRC_DIR) / ".." / "shared" / "data" / "reversal_curse")
      .lexically_normal()
      .string();
}

// Options of a loaded data set of `kind` at `source`, mitigation none, seed 0.
inline DatasetOptions AuthorsDatasetOptions(const std::string& kind, const std::string& source) {
  DatasetOptions o;
  o.kind = kind;
  o.source = source;
  o.seed = 0;
  o.mitigation = "none";
  o.segment_length = 3;
  return o;
}

inline bool AuthorsDataRequired() {
  const char* env = std::getenv("REVSWEEP_REQUIRE_AUTHORS_DATA");
  return env != nullptr && std::string(env) == "1";
}

}  // namespace revsweep::testing

// Sets `var` to the folder `sub` of the authors' data, or skips (fails when required).
#define REVSWEEP_AUTHORS_FOLDER_OR_SKIP(var, sub)                                       \
  const std::string var = ::revsweep::testing::AuthorsDataDir() + "/" + (sub);          \
  if (!std::filesystem::is_directory(var)) {                                            \
    if (::revsweep::testing::AuthorsDataRequired()) {                                   \
      FAIL() << "the authors' data folder " << var                                      \
             << " is missing and REVSWEEP_REQUIRE_AUTHORS_DATA=1 (fetch it with "       \
                "deploy/fetch-authors-data.sh, or set REVSWEEP_AUTHORS_DATA)";          \
    }                                                                                   \
    GTEST_SKIP() << "the authors' data is not at " << var                               \
                 << " (set REVSWEEP_AUTHORS_DATA or run deploy/fetch-authors-data.sh)"; \
  }
