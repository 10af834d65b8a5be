// The LibTorch fence: exceptions become statuses here, and device and thread
// settings are parsed in one place.
#ifndef ADAPTD_SERVER_ENGINE_RUNTIME_TORCH_UTIL_H_
#define ADAPTD_SERVER_ENGINE_RUNTIME_TORCH_UTIL_H_

#include <exception>
#include <string>
#include <type_traits>

#include <c10/core/Device.h>
#include <c10/util/Exception.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace adaptd::engine {

// Runs `fn` (returning absl::Status or absl::StatusOr<T>) and turns any
// c10::Error or std::exception it throws into INTERNAL, prefixed by `what`.
template <typename F>
auto GuardTorch(absl::string_view what, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
}

// "cpu", "cuda", "cuda:N", or "" for cuda when available, else cpu.
// INVALID_ARGUMENT for an unknown spec; FAILED_PRECONDITION for cuda without
// a CUDA build or device.
absl::StatusOr<c10::Device> ParseDevice(const std::string& spec);

// Sets LibTorch's intra-op and inter-op thread counts (0: the number of
// cores). Inter-op can be set once per process; later calls leave it.
void ConfigureTorchThreads(int intra_op, int inter_op);

// The file of the BLAS that LibTorch's matmuls and its own convolution
// kernels call (the library providing sgemm_), such as
// /usr/lib/x86_64-linux-gnu/blis-serial/libblas.so.3; "none" without one.
std::string LinkedBlas();

// Sets the calling thread's intra-op thread count for the guard's lifetime,
// then restores it. LibTorch's OpenMP backend keeps that count per thread, so
// other threads (a batcher's backbone forwards) keep theirs. A no-op where
// LibTorch runs without OpenMP. Not movable; one thread only.
class ScopedIntraOpThreads {
 public:
  explicit ScopedIntraOpThreads(int threads);
  ~ScopedIntraOpThreads();
  ScopedIntraOpThreads(const ScopedIntraOpThreads&) = delete;
  ScopedIntraOpThreads& operator=(const ScopedIntraOpThreads&) = delete;

 private:
  int previous_ = 0;  // 0: nothing to restore.
};

// CPU time consumed by the calling thread, in seconds.
double ThreadCpuSeconds();

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_RUNTIME_TORCH_UTIL_H_
