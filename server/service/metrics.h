// adaptd's Prometheus metrics (the contract table in README.md, "Metrics"), registered
// in a registry the caller owns, so tests use their own. Thread-safe.
#ifndef ADAPTD_SERVER_SERVICE_METRICS_H_
#define ADAPTD_SERVER_SERVICE_METRICS_H_

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "server/engine/store/adapter_store.h"
#include "server/engine/base/types.h"

namespace adaptd::service {

class Metrics {
 public:
  explicit Metrics(prometheus::Registry& registry);

  void RecordRequest(const std::string& rpc, const std::string& code);
  void RecordAdapt(const engine::AdapterInfo& info);
  void RecordPredict(const std::string& backbone, double seconds);
  // Device time, also per tenant (tenants come from the token file, so the
  // label's cardinality is bounded by it).
  void AddCompute(const std::string& device, const std::string& rpc, const std::string& tenant,
                  double seconds);
  void SetBackboneMemory(const engine::BackboneInfo& info);
  // Hooks for engine::BatchingOptions.
  void RecordBatch(const std::string& backbone, int batch_size);
  void RecordQueueWait(const std::string& backbone, double seconds);
  void SetQueueDepth(const std::string& backbone, int queued_inputs);
  // Hooks for AdapterStore::Options.
  void AdapterInserted(const engine::AdapterInfo& info);
  void AdapterRemoved(const engine::AdapterInfo& info, engine::RemovalReason reason);
  // Hook for engine::PersistenceOptions::on_health.
  void SetAdapterStoreHealthy(bool healthy);
  // Hook for engine::EngineOptions::on_stale_adapter.
  void StaleAdapterFound(const engine::AdapterInfo& info);

 private:
  prometheus::Family<prometheus::Histogram>& adapt_duration_;
  prometheus::Family<prometheus::Histogram>& predict_duration_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Gauge>& adapters_;
  prometheus::Gauge& adapter_memory_;
  prometheus::Family<prometheus::Counter>& evictions_;
  prometheus::Family<prometheus::Histogram>& loss_reduction_;
  prometheus::Family<prometheus::Counter>& compute_;
  prometheus::Family<prometheus::Counter>& tenant_compute_;
  prometheus::Family<prometheus::Gauge>& backbone_memory_;
  prometheus::Family<prometheus::Histogram>& batch_size_;
  prometheus::Family<prometheus::Histogram>& queue_duration_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Gauge& store_healthy_;
  prometheus::Family<prometheus::Counter>& stale_adapters_;
};

// Exports process_cpu_seconds_total and process_resident_memory_bytes, read
// from /proc at scrape time.
std::shared_ptr<prometheus::Collectable> MakeProcessCollector();

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_METRICS_H_
