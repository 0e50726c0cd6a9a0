#include "worker/fault_pause.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace revsweep {

bool MaybeFaultPause(const FaultPausePoint& p, int64_t step,
                     const std::function<bool()>& stop_requested,
                     const std::function<void()>& on_pause) {
  if (p.dir.empty()) return false;
  namespace fs = std::filesystem;
  const fs::path dir(p.dir);
  std::error_code ec;
  // One-shot: the rename succeeds for one process only, and the retry does not fail again.
  const std::string fail =
      "fail.rank" + std::to_string(p.world_rank) + ".step" + std::to_string(step);
  fs::rename(dir / fail, dir / ("fired." + fail), ec);
  if (!ec) throw std::runtime_error("injected fault (" + fail + " in train.fault_pause_dir)");
  fs::path control = dir / ("pause.step" + std::to_string(step));
  if (!fs::exists(control, ec)) {
    control = dir / ("pause.after" + std::to_string(step - p.start_step));
    if (!fs::exists(control, ec)) return false;
  }
  const std::string name = "paused.rank" + std::to_string(p.world_rank) + "." + p.trial_id +
                           ".step" + std::to_string(step);
  const fs::path marker = dir / name, tmp = dir / ("." + name + ".tmp");
  {
    std::ofstream out(tmp);
    out << "pid=" << getpid() << " trial=" << p.trial_id << " step=" << step
        << " start_step=" << p.start_step << " attempt=" << p.attempt << "\n";
  }
  fs::rename(tmp, marker, ec);
  if (ec)
    fprintf(stderr, "fault pause: cannot write %s: %s\n", marker.c_str(), ec.message().c_str());
  if (on_pause) on_pause();
  while (fs::exists(control, ec) && !(stop_requested && stop_requested()))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  fs::remove(marker, ec);
  return true;
}

}  // namespace revsweep
