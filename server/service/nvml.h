// GPU gauges from NVML, loaded at run time with dlopen so that adaptd needs
// no NVIDIA library to build or run. Values are read at scrape time.
// Thread-safe.
#ifndef ADAPTD_SERVER_SERVICE_NVML_H_
#define ADAPTD_SERVER_SERVICE_NVML_H_

#include <memory>
#include <string>

#include <prometheus/collectable.h>

#include "absl/status/statusor.h"

namespace adaptd::service {

inline constexpr char kDefaultNvmlLibrary[] = "libnvidia-ml.so.1";

// Opens `library` and initialises NVML. On success the collector exports
// adaptd_gpu_utilization_ratio, adaptd_gpu_memory_used_bytes,
// adaptd_gpu_memory_total_bytes and adaptd_gpu_power_watts per GPU.
// UNAVAILABLE, with the reason, where there is no NVML or no GPU.
absl::StatusOr<std::shared_ptr<prometheus::Collectable>> MakeNvmlCollector(
    const std::string& library = kDefaultNvmlLibrary);

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_NVML_H_
