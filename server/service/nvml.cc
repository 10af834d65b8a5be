#include "server/service/nvml.h"

#include <dlfcn.h>

#include <vector>

#include <prometheus/metric_family.h>

#include "absl/strings/str_cat.h"

namespace adaptd::service {
namespace {

// The few NVML declarations used here, from NVML's public C API.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;

class NvmlCollector : public prometheus::Collectable {
 public:
  using InitFn = nvmlReturn_t (*)();
  using CountFn = nvmlReturn_t (*)(unsigned int*);
  using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
  using UtilFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
  using MemFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
  using PowerFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);

  ~NvmlCollector() override {
    if (shutdown_ != nullptr) shutdown_();
    if (handle_ != nullptr) dlclose(handle_);
  }

  static absl::StatusOr<std::shared_ptr<NvmlCollector>> Open(const std::string& library) {
    void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot load NVML (", dlerror(), ")"));
    }
    auto collector = std::shared_ptr<NvmlCollector>(new NvmlCollector());
    collector->handle_ = handle;
    auto init = Symbol<InitFn>(handle, "nvmlInit_v2");
    collector->shutdown_ = Symbol<InitFn>(handle, "nvmlShutdown");
    collector->count_ = Symbol<CountFn>(handle, "nvmlDeviceGetCount_v2");
    collector->handle_by_index_ = Symbol<HandleFn>(handle, "nvmlDeviceGetHandleByIndex_v2");
    collector->utilization_ = Symbol<UtilFn>(handle, "nvmlDeviceGetUtilizationRates");
    collector->memory_ = Symbol<MemFn>(handle, "nvmlDeviceGetMemoryInfo");
    collector->power_ = Symbol<PowerFn>(handle, "nvmlDeviceGetPowerUsage");
    if (!init || !collector->shutdown_ || !collector->count_ || !collector->handle_by_index_ ||
        !collector->utilization_ || !collector->memory_ || !collector->power_) {
      collector->shutdown_ = nullptr;
      return absl::UnavailableError(absl::StrCat(library, " lacks NVML entry points"));
    }
    if (init() != kNvmlSuccess) {
      collector->shutdown_ = nullptr;
      return absl::UnavailableError("nvmlInit failed (no NVIDIA driver or GPU)");
    }
    unsigned int count = 0;
    if (collector->count_(&count) != kNvmlSuccess || count == 0) {
      return absl::UnavailableError("NVML reports no GPU");
    }
    return collector;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily util = Gauge("adaptd_gpu_utilization_ratio",
                                          "GPU busy time over the last sample period, 0..1.");
    prometheus::MetricFamily used = Gauge("adaptd_gpu_memory_used_bytes", "GPU memory in use.");
    prometheus::MetricFamily total = Gauge("adaptd_gpu_memory_total_bytes", "GPU memory.");
    prometheus::MetricFamily power = Gauge("adaptd_gpu_power_watts", "GPU power draw.");
    unsigned int count = 0;
    if (count_(&count) != kNvmlSuccess) return {};
    for (unsigned int i = 0; i < count; ++i) {
      nvmlDevice_t device = nullptr;
      if (handle_by_index_(i, &device) != kNvmlSuccess) continue;
      const std::string gpu = std::to_string(i);
      nvmlUtilization_t u{};
      if (utilization_(device, &u) == kNvmlSuccess) Add(util, gpu, u.gpu / 100.0);
      nvmlMemory_t m{};
      if (memory_(device, &m) == kNvmlSuccess) {
        Add(used, gpu, static_cast<double>(m.used));
        Add(total, gpu, static_cast<double>(m.total));
      }
      unsigned int milliwatts = 0;
      if (power_(device, &milliwatts) == kNvmlSuccess) Add(power, gpu, milliwatts / 1000.0);
    }
    return {util, used, total, power};
  }

 private:
  NvmlCollector() = default;

  template <typename Fn>
  static Fn Symbol(void* handle, const char* name) {
    return reinterpret_cast<Fn>(dlsym(handle, name));
  }

  static prometheus::MetricFamily Gauge(const std::string& name, const std::string& help) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = prometheus::MetricType::Gauge;
    return family;
  }

  static void Add(prometheus::MetricFamily& family, const std::string& gpu, double value) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"gpu", gpu});
    metric.gauge.value = value;
    family.metric.push_back(metric);
  }

  void* handle_ = nullptr;
  InitFn shutdown_ = nullptr;
  CountFn count_ = nullptr;
  HandleFn handle_by_index_ = nullptr;
  UtilFn utilization_ = nullptr;
  MemFn memory_ = nullptr;
  PowerFn power_ = nullptr;
};

}  // namespace

absl::StatusOr<std::shared_ptr<prometheus::Collectable>> MakeNvmlCollector(
    const std::string& library) {
  auto collector = NvmlCollector::Open(library);
  if (!collector.ok()) return collector.status();
  return std::shared_ptr<prometheus::Collectable>(*std::move(collector));
}

}  // namespace adaptd::service
