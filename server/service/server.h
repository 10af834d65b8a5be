// adaptd assembled: the engine, the gRPC server (AdaptationService, health,
// reflection), the work queue and the metrics exposer. main() and the
// end-to-end tests both build it here. Thread-safe.
//
//   AdaptdServer::Options options;
//   options.listen_address = "127.0.0.1:0";
//   ASSIGN_OR_RETURN(auto server, AdaptdServer::Create(options));
//   ... connect to server->port() ...
//   server->Shutdown(absl::Seconds(5));
#ifndef ADAPTD_SERVER_SERVICE_SERVER_H_
#define ADAPTD_SERVER_SERVICE_SERVER_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/engine.h"
#include "server/common/log.h"
#include "server/common/thread_pool.h"
#include "server/service/access_log.h"
#include "server/service/adaptation_service.h"
#include "server/service/auth.h"
#include "server/service/metrics.h"

namespace adaptd::service {

// The grpc.health.v1 service name of one backbone's readiness,
// "backbone/<name>": SERVING while it is loaded, NOT_SERVING once unloaded
// (and unknown before it was ever loaded). "" stays the whole server's.
std::string BackboneHealthService(const std::string& backbone);

class AdaptdServer {
 public:
  struct Options {
    // host:port for gRPC; port 0 picks a free one (see port()).
    std::string listen_address = "0.0.0.0:50051";
    // host:port for /metrics; empty: no HTTP exposer (see ScrapeText()).
    std::string metrics_address = "0.0.0.0:9464";
    // Largest request accepted; larger ones get RESOURCE_EXHAUSTED.
    int max_message_bytes = 64 << 20;
    // Threads running engine work, and how many calls may wait for one.
    int workers = 0;  // 0: the number of cores.
    int max_queued = 1024;
    // "<token> <tenant>" lines; empty: auth off, every call is tenant
    // "default". Changes to the file are picked up without a restart.
    std::string auth_token_file;
    // How often the token file is checked for changes.
    absl::Duration auth_recheck = absl::Seconds(1);
    // PEM files for TLS; empty cert: plaintext. With a client CA, clients
    // must present a certificate it signed (mTLS).
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_client_ca_file;
    // NVML shared library for the GPU gauges.
    std::string nvml_library = "libnvidia-ml.so.1";
    // Where log lines go; null: ProcessLogger(). Must outlive the server.
    Logger* logger = nullptr;
    // Request ids and the access log (access_log.h).
    AccessLogOptions access_log;
    engine::Engine::Options engine;
  };

  static absl::StatusOr<std::unique_ptr<AdaptdServer>> Create(Options options);
  // Shuts down if still running.
  ~AdaptdServer();

  int port() const { return port_; }
  // 0 without an exposer.
  int metrics_port() const;
  engine::Engine& engine() { return *engine_; }
  // Every metric in Prometheus text format, as /metrics serves it.
  std::string ScrapeText() const;

  // Blocks until Shutdown() is called from another thread.
  void Wait();
  // Marks health NOT_SERVING, stops accepting calls, lets in-flight calls
  // finish until `grace` has passed, then cancels the rest.
  void Shutdown(absl::Duration grace);

 private:
  // Create's parts, in order: the engine and its observers; the metrics
  // exposer and collectors; the gRPC server (after the service).
  absl::Status StartEngine(Options& options);
  absl::Status StartMetrics(const Options& options);
  absl::Status StartGrpc(const Options& options);
  // Marks every served backbone SERVING and every other one reported
  // before NOT_SERVING; updates their memory gauges.
  void RefreshBackboneHealth();
  AdaptdServer() = default;

  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  // Per-backbone health (BackboneHealthService). Declared before engine_,
  // whose model changes update it until the engine is gone.
  absl::Mutex health_mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(health_mu_) = nullptr;
  std::set<std::string> health_names_ ABSL_GUARDED_BY(health_mu_);  // Ever reported.
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<adaptd::ThreadPool> work_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<AdaptationServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_SERVER_H_
