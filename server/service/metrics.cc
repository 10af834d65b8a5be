#include "server/service/metrics.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace adaptd::service {
namespace {

using prometheus::Histogram;

Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Histogram::BucketBoundaries RatioBuckets() {
  return {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1};
}

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    std::ifstream stat("/proc/self/stat");
    std::string line;
    if (!std::getline(stat, line)) return families;
    // Fields after the command name, which is in parentheses.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) fields.push_back(f);
    if (fields.size() < 22) return families;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double cpu = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;  // utime+stime
    const double rss = std::stod(fields[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
    families.push_back(Family("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.",
                              prometheus::MetricType::Counter, cpu));
    families.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                              prometheus::MetricType::Gauge, rss));
    return families;
  }

 private:
  static prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                         prometheus::MetricType type, double value) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type;
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(metric);
    return family;
  }
};

}  // namespace

Metrics::Metrics(prometheus::Registry& registry)
    : adapt_duration_(prometheus::BuildHistogram()
                          .Name("adaptd_adapt_duration_seconds")
                          .Help("Time to serve an Adapt, decode to stored adapter.")
                          .Register(registry)),
      predict_duration_(prometheus::BuildHistogram()
                            .Name("adaptd_predict_duration_seconds")
                            .Help("Time to serve a Predict.")
                            .Register(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("adaptd_requests_total")
                    .Help("RPCs served, by method and gRPC status code.")
                    .Register(registry)),
      adapters_(prometheus::BuildGauge()
                    .Name("adaptd_adapters")
                    .Help("Adapters held in the store.")
                    .Register(registry)),
      adapter_memory_(prometheus::BuildGauge()
                          .Name("adaptd_adapter_memory_bytes")
                          .Help("Bytes held by stored adapters: head tensors plus bookkeeping.")
                          .Register(registry)
                          .Add({})),
      evictions_(prometheus::BuildCounter()
                     .Name("adaptd_adapter_evictions_total")
                     .Help("Adapters evicted, by reason (ttl, capacity).")
                     .Register(registry)),
      loss_reduction_(prometheus::BuildHistogram()
                          .Name("adaptd_adapt_loss_reduction_ratio")
                          .Help("1 - support loss after / before adaptation.")
                          .Register(registry)),
      compute_(prometheus::BuildCounter()
                   .Name("adaptd_compute_seconds_total")
                   .Help("Device time by RPC: CPU thread time on the CPU, device time on a GPU.")
                   .Register(registry)),
      tenant_compute_(prometheus::BuildCounter()
                          .Name("adaptd_tenant_compute_seconds_total")
                          .Help("Device time by tenant, for cost accounting.")
                          .Register(registry)),
      backbone_memory_(prometheus::BuildGauge()
                           .Name("adaptd_backbone_memory_bytes")
                           .Help("Bytes of backbone parameters and buffers on the device.")
                           .Register(registry)),
      batch_size_(prometheus::BuildHistogram()
                      .Name("adaptd_batch_size")
                      .Help("Inputs per backbone forward of the dynamic batcher.")
                      .Register(registry)),
      queue_duration_(prometheus::BuildHistogram()
                          .Name("adaptd_queue_duration_seconds")
                          .Help("Time a job waited in the batcher's queue.")
                          .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("adaptd_queue_depth")
                       .Help("Inputs waiting in the batcher's queue.")
                       .Register(registry)),
      store_healthy_(prometheus::BuildGauge()
                         .Name("adaptd_adapter_store_healthy")
                         .Help("1 while the adapter store answers; 0 while its calls fail "
                               "fast after failures (cached adapters are still served).")
                         .Register(registry)
                         .Add({})),
      stale_adapters_(prometheus::BuildCounter()
                          .Name("adaptd_stale_adapters_total")
                          .Help("Adapters found fitted on another fingerprint of their backbone "
                                "than the one served, each counted once; Predict refuses them "
                                "with FAILED_PRECONDITION.")
                          .Register(registry)) {
  store_healthy_.Set(1);
  // Evictions start at zero so that rate() works from the first scrape.
  evictions_.Add({{"reason", "ttl"}});
  evictions_.Add({{"reason", "capacity"}});
}

void Metrics::StaleAdapterFound(const engine::AdapterInfo& info) {
  stale_adapters_.Add({{"backbone", info.backbone}}).Increment();
}

void Metrics::RecordRequest(const std::string& rpc, const std::string& code) {
  requests_.Add({{"rpc", rpc}, {"code", code}}).Increment();
}

void Metrics::RecordAdapt(const engine::AdapterInfo& info) {
  const std::string method = engine::MethodName(info.method);
  adapt_duration_.Add({{"backbone", info.backbone}, {"method", method}}, LatencyBuckets())
      .Observe(info.stats.adapt_seconds);
  if (info.stats.support_loss_before > 0) {
    loss_reduction_.Add({{"backbone", info.backbone}, {"method", method}}, RatioBuckets())
        .Observe(1.0 - info.stats.support_loss_after / info.stats.support_loss_before);
  }
}

void Metrics::RecordPredict(const std::string& backbone, double seconds) {
  predict_duration_.Add({{"backbone", backbone}}, LatencyBuckets()).Observe(seconds);
}

void Metrics::AddCompute(const std::string& device, const std::string& rpc,
                         const std::string& tenant, double seconds) {
  if (seconds <= 0) return;
  compute_.Add({{"device", device}, {"rpc", rpc}}).Increment(seconds);
  tenant_compute_.Add({{"tenant", tenant}}).Increment(seconds);
}

void Metrics::SetBackboneMemory(const engine::BackboneInfo& info) {
  backbone_memory_.Add({{"backbone", info.name}, {"device", info.device}})
      .Set(static_cast<double>(info.memory_bytes));
  adapters_.Add({{"backbone", info.name}});
  queue_depth_.Add({{"backbone", info.name}});
}

void Metrics::RecordBatch(const std::string& backbone, int batch_size) {
  static const Histogram::BucketBoundaries kBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  batch_size_.Add({{"backbone", backbone}}, kBuckets).Observe(batch_size);
}

void Metrics::RecordQueueWait(const std::string& backbone, double seconds) {
  queue_duration_.Add({{"backbone", backbone}}, LatencyBuckets()).Observe(seconds);
}

void Metrics::SetAdapterStoreHealthy(bool healthy) { store_healthy_.Set(healthy ? 1 : 0); }

void Metrics::SetQueueDepth(const std::string& backbone, int queued_inputs) {
  queue_depth_.Add({{"backbone", backbone}}).Set(queued_inputs);
}

void Metrics::AdapterInserted(const engine::AdapterInfo& info) {
  adapters_.Add({{"backbone", info.backbone}}).Increment();
  adapter_memory_.Increment(static_cast<double>(info.size_bytes));
}

void Metrics::AdapterRemoved(const engine::AdapterInfo& info, engine::RemovalReason reason) {
  adapters_.Add({{"backbone", info.backbone}}).Decrement();
  adapter_memory_.Decrement(static_cast<double>(info.size_bytes));
  if (reason == engine::RemovalReason::kTtl) evictions_.Add({{"reason", "ttl"}}).Increment();
  if (reason == engine::RemovalReason::kCapacity) {
    evictions_.Add({{"reason", "capacity"}}).Increment();
  }
}

std::shared_ptr<prometheus::Collectable> MakeProcessCollector() {
  return std::make_shared<ProcessCollector>();
}

}  // namespace adaptd::service
