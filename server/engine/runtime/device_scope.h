// Where and how a worker's LibTorch work runs on its device, and what it
// cost. The only translation unit that names CUDA; it builds against a CPU
// LibTorch too (ADAPTD_WITH_CUDA unset), where the CUDA branches are absent.
//
//   DeviceScope scope(device);       // On CUDA: this thread's own stream.
//   ... queue work ...
//   double seconds = scope.Finish(); // Waits; CUDA-event or thread-CPU time.
#ifndef ADAPTD_SERVER_ENGINE_RUNTIME_DEVICE_SCOPE_H_
#define ADAPTD_SERVER_ENGINE_RUNTIME_DEVICE_SCOPE_H_

#include <memory>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "absl/status/statusor.h"
#include "server/engine/runtime/autocast.h"

namespace adaptd::engine {

// Runs the calling thread's LibTorch work for `device` on a stream of its
// own (CUDA: one per thread from LibTorch's pool, kept for the thread's
// life, so workers never serialise on the default stream) and times it.
// Not thread-safe: one scope per thread at a time; scopes do not nest.
class DeviceScope {
 public:
  explicit DeviceScope(c10::Device device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

  // Waits until the work queued in this scope has run and returns its device
  // seconds: elapsed time between CUDA events on a GPU, the thread's CPU
  // time on the CPU. Call at most once; tensors made in the scope are then
  // safe to use from any thread and stream.
  double Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Autocast for the current thread while alive; kOff changes nothing.
// Not thread-safe (thread-local state), nestable.
class AutocastScope {
 public:
  AutocastScope(c10::Device device, Autocast autocast);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType type_;
  bool active_ = false;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_RUNTIME_DEVICE_SCOPE_H_
