// libFuzzer target for the sweep config loader: any input must either load or throw
// UserError. Any other exception, a crash or a sanitizer report is a bug in the loader.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "common/user_error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const revsweep::SweepConfig config = revsweep::ParseSweepConfig(text, "fuzz.yaml");
    // What loaded must also be consistent: stable ids and settings that survive the store's
    // JSON round trip unchanged.
    for (const auto& trial : config.trials) {
      if (trial.id != revsweep::TrialId(trial.settings)) std::abort();
      if (revsweep::SettingsFromJson(revsweep::SettingsToJson(trial.settings)) != trial.settings) {
        std::abort();
      }
    }
  } catch (const revsweep::UserError&) {
    // Expected for bad input.
  }
  return 0;
}
