#include "server/engine/runtime/device_scope.h"

#include <optional>
#include <vector>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "server/engine/runtime/torch_util.h"

#ifdef ADAPTD_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

// LibTorch 2.4 replaced the per-device autocast setters with ones that take
// the device type, and deprecated the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define ADAPTD_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace adaptd::engine {

absl::StatusOr<Autocast> ParseAutocast(const std::string& spec) {
  if (spec.empty() || spec == "off") return Autocast::kOff;
  if (spec == "fp16") return Autocast::kFloat16;
  if (spec == "bf16") return Autocast::kBFloat16;
  return absl::InvalidArgumentError(
      absl::StrCat("autocast: \"", spec, "\" is not off, fp16 or bf16"));
}

const char* AutocastName(Autocast autocast) {
  switch (autocast) {
    case Autocast::kFloat16:
      return "fp16";
    case Autocast::kBFloat16:
      return "bf16";
    case Autocast::kOff:
      break;
  }
  return "off";
}

#ifdef ADAPTD_WITH_CUDA
namespace {

// The calling thread's own stream on device `index`, taken from LibTorch's
// pool on first use and kept for the thread's life.
c10::cuda::CUDAStream ThreadStream(c10::DeviceIndex index) {
  thread_local std::vector<std::optional<c10::cuda::CUDAStream>> streams;
  if (static_cast<size_t>(index) >= streams.size()) streams.resize(index + 1);
  if (!streams[index]) streams[index] = c10::cuda::getStreamFromPool(false, index);
  return *streams[index];
}

}  // namespace
#endif

struct DeviceScope::Impl {
  bool finished = false;
  double cpu_start = 0;
#ifdef ADAPTD_WITH_CUDA
  std::optional<c10::cuda::CUDAStreamGuard> guard;
  std::optional<at::cuda::CUDAEvent> start;
#endif
};

DeviceScope::DeviceScope(c10::Device device) : impl_(std::make_unique<Impl>()) {
  impl_->cpu_start = ThreadCpuSeconds();
#ifdef ADAPTD_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDAStream stream = ThreadStream(device.has_index() ? device.index() : 0);
    impl_->guard.emplace(stream);
    impl_->start.emplace(cudaEventDefault);  // Timing on: the default disables it.
    impl_->start->record(stream);
  }
#else
  (void)device;
#endif
}

DeviceScope::~DeviceScope() {
  // Tensors made here may outlive the scope; their work must be done first.
  if (!impl_->finished) Finish();
}

double DeviceScope::Finish() {
  impl_->finished = true;
#ifdef ADAPTD_WITH_CUDA
  if (impl_->start) {
    at::cuda::CUDAEvent stop(cudaEventDefault);
    stop.record(impl_->guard->current_stream());
    stop.synchronize();
    return impl_->start->elapsed_time(stop) / 1e3;
  }
#endif
  return ThreadCpuSeconds() - impl_->cpu_start;
}

AutocastScope::AutocastScope(c10::Device device, Autocast autocast) : type_(device.type()) {
  if (autocast == Autocast::kOff || (!device.is_cuda() && !device.is_cpu())) return;
  const c10::ScalarType dtype =
      autocast == Autocast::kFloat16 ? c10::ScalarType::Half : c10::ScalarType::BFloat16;
#ifdef ADAPTD_AUTOCAST_BY_DEVICE_TYPE
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  was_dtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_dtype(type_, dtype);
  at::autocast::set_autocast_enabled(type_, true);
#else
  if (device.is_cuda()) {
    was_enabled_ = at::autocast::is_enabled();
    was_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
  } else {
    was_enabled_ = at::autocast::is_cpu_enabled();
    was_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
  }
#endif
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The cast weights are cached while any autocast region is open.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef ADAPTD_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, was_dtype_);
#else
  if (type_ == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(was_dtype_);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(was_dtype_);
  }
#endif
}

}  // namespace adaptd::engine
