// Helpers status_report.cc (snapshots, ETA) and status_render.cc (the renderers) share.
#pragma once

namespace revsweep::status_internal {

inline double Clamp01(double x) {
  if (!(x > 0)) return 0;  // also NaN
  return x > 1 ? 1 : x;
}

// Fraction of a trial's steps done according to its last progress row, or -1 when unknown.
// T: TrialStatus or TrialStateRow (same field names).
template <typename T>
double StepFraction(const T& t) {
  if (!t.has_progress || t.total_steps <= 0) return -1;
  return Clamp01(static_cast<double>(t.step) / static_cast<double>(t.total_steps));
}

}  // namespace revsweep::status_internal
