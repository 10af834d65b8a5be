#include "server/engine/runtime/torch_util.h"

#include <dlfcn.h>
#include <time.h>

#include <mutex>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/cuda.h>

// OpenMP's per-thread count, from the libgomp that LibTorch loads. Weak, so
// that a LibTorch without OpenMP leaves them null instead of failing to link;
// the project itself is not compiled with -fopenmp.
extern "C" {
int omp_get_max_threads(void) __attribute__((weak));
void omp_set_num_threads(int) __attribute__((weak));
}

namespace adaptd::engine {

absl::StatusOr<c10::Device> ParseDevice(const std::string& spec) {
  if (spec.empty()) {
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  }
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(spec);
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat("device: \"", spec, "\" is not cpu, cuda or cuda:N"));
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device: \"", spec, "\" requested, but this LibTorch has no CUDA or no GPU is visible"));
    }
    const int index = device.has_index() ? device.index() : 0;
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device: \"", spec, "\" requested, but only ", torch::cuda::device_count(),
          " CUDA devices are visible"));
    }
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  } else if (!device.is_cpu()) {
    return absl::InvalidArgumentError(
        absl::StrCat("device: \"", spec, "\" is not cpu, cuda or cuda:N"));
  }
  return device;
}

void ConfigureTorchThreads(int intra_op, int inter_op) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(intra_op > 0 ? intra_op : cores);
  static std::once_flag once;
  std::call_once(once, [&] {
    try {
      at::set_num_interop_threads(inter_op > 0 ? inter_op : cores);
    } catch (const std::exception&) {
      // Already started by an earlier parallel call; keep what it has.
    }
  });
}

std::string LinkedBlas() {
  // Looked up at run time: the build links BLIS when it finds it, and
  // LD_LIBRARY_PATH or the system's alternatives may still swap it out.
  Dl_info info{};
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  if (sgemm == nullptr || dladdr(sgemm, &info) == 0 || info.dli_fname == nullptr) return "none";
  return info.dli_fname;
}

ScopedIntraOpThreads::ScopedIntraOpThreads(int threads) {
  if (omp_get_max_threads == nullptr || omp_set_num_threads == nullptr || threads <= 0) return;
  at::get_num_threads();  // LibTorch's lazy per-thread setup first, so it cannot undo ours.
  previous_ = omp_get_max_threads();
  if (previous_ == threads) {
    previous_ = 0;
    return;
  }
  omp_set_num_threads(threads);
}

ScopedIntraOpThreads::~ScopedIntraOpThreads() {
  if (previous_ > 0) omp_set_num_threads(previous_);
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

}  // namespace adaptd::engine
