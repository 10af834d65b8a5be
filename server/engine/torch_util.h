// The LibTorch fence: exceptions become statuses here, and device and thread
// settings are parsed in one place.
#ifndef ADAPTD_SERVER_ENGINE_TORCH_UTIL_H_
#define ADAPTD_SERVER_ENGINE_TORCH_UTIL_H_

#include <exception>
#include <functional>
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

// How LibTorch runs convolutions on the CPU, for the whole process: on oneDNN
// or on its own im2col kernels, which call BLAS. Which is faster depends on
// the BLAS and the layer sizes (docs/benchmarks.md, "BLAS"): on BLIS, a
// 28x28 Conv4 runs 1.5x faster without oneDNN, a ResNet-12 at 84x84 5x
// slower. kAuto times `seconds(onednn)` both ways and keeps the faster.
enum class CpuConvolution { kAuto, kOneDnn, kNative };

// Parses "auto", "onednn" or "native"; INVALID_ARGUMENT names `field`.
absl::StatusOr<CpuConvolution> ParseCpuConvolution(const std::string& spec,
                                                   absl::string_view field);

// Applies `choice` (kAuto: the faster of the two by `seconds`, which runs a
// representative workload and returns its time) and returns what now runs:
// kOneDnn or kNative. `seconds` is only called for kAuto.
CpuConvolution ApplyCpuConvolution(CpuConvolution choice,
                                   const std::function<double(bool onednn)>& seconds);

const char* CpuConvolutionName(CpuConvolution choice);

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

#endif  // ADAPTD_SERVER_ENGINE_TORCH_UTIL_H_
