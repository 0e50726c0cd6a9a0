// bf16 autocast for one forward pass, on CPU or CUDA, switched off again when the scope ends,
// also when the forward pass throws (so a failed trial never leaves later trials on this
// thread under autocast). One place for the libtorch API difference: 1.x and 2.0-2.3 have
// per-device setters (set_enabled / set_cpu_enabled, set_autocast_{gpu,cpu}_dtype), which
// 2.4+ deprecates for set_autocast_enabled / set_autocast_dtype taking a device type.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace revsweep {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define REVSWEEP_AUTOCAST_BY_DEVICE 1
#endif

class AutocastScope {
 public:
  // on = false: does nothing. device: c10::kCPU or c10::kCUDA.
  AutocastScope(bool on, c10::DeviceType device) : on_(on), device_(device) {
    if (!on_) return;
    prev_enabled_ = Enabled();
    prev_dtype_ = Dtype();
    Set(true, at::kBFloat16);
  }
  ~AutocastScope() {
    if (!on_) return;
    Set(prev_enabled_, prev_dtype_);
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

  // Whether autocast is on for `device` on this thread (for tests).
  static bool IsOn(c10::DeviceType device) {
#ifdef REVSWEEP_AUTOCAST_BY_DEVICE
    return at::autocast::is_autocast_enabled(device);
#else
    return device == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
  }

 private:
  bool Enabled() const { return IsOn(device_); }
  at::ScalarType Dtype() const {
#ifdef REVSWEEP_AUTOCAST_BY_DEVICE
    return at::autocast::get_autocast_dtype(device_);
#else
    return device_ == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype()
                                 : at::autocast::get_autocast_cpu_dtype();
#endif
  }
  void Set(bool enabled, at::ScalarType dtype) const {
#ifdef REVSWEEP_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_dtype(device_, dtype);
    at::autocast::set_autocast_enabled(device_, enabled);
#else
    if (device_ == c10::kCUDA) {
      at::autocast::set_autocast_gpu_dtype(dtype);
      at::autocast::set_enabled(enabled);
    } else {
      at::autocast::set_autocast_cpu_dtype(dtype);
      at::autocast::set_cpu_enabled(enabled);
    }
#endif
  }

  bool on_;
  c10::DeviceType device_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

}  // namespace revsweep
