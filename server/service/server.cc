#include "server/service/server.h"

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/service/nvml.h"

namespace adaptd::service {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok())
    return absl::Status(text.status().code(), absl::StrCat(flag, ": ", text.status().message()));
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const AdaptdServer::Options& options) {
  if (options.tls_cert_file.empty()) {
    if (!options.tls_key_file.empty() || !options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("tls_cert: needed with tls_key and tls_client_ca");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl;
  ASSIGN_OR_RETURN(std::string cert, ReadPem("tls_cert", options.tls_cert_file));
  ASSIGN_OR_RETURN(std::string key, ReadPem("tls_key", options.tls_key_file));
  ssl.pem_key_cert_pairs.push_back({key, cert});
  if (!options.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem("tls_client_ca", options.tls_client_ca_file));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// Reports the engine's store, batching and model events as metrics and log lines.
void ObserveEngine(engine::EngineOptions& eo, Metrics* metrics, Logger* logger) {
  eo.store.on_insert = [metrics](const engine::AdapterInfo& info) {
    metrics->AdapterInserted(info);
  };
  eo.store.on_remove = [metrics](const engine::AdapterInfo& info, engine::RemovalReason reason) {
    metrics->AdapterRemoved(info, reason);
  };
  eo.batching.on_batch = [metrics](const std::string& backbone, int size) {
    metrics->RecordBatch(backbone, size);
  };
  eo.batching.on_dequeue = [metrics](const std::string& backbone, double seconds) {
    metrics->RecordQueueWait(backbone, seconds);
  };
  eo.batching.on_queue_depth = [metrics](const std::string& backbone, int depth) {
    metrics->SetQueueDepth(backbone, depth);
  };
  eo.on_model_error = [logger](const std::string& folder, const absl::Status& status) {
    logger->Error("skipping model", {{"model", folder}, {"error", status.ToString()}});
  };
  eo.persistence.on_error = [logger](const absl::Status& status) {
    logger->Error("adapter store error", {{"error", status.message()}});
  };
  eo.on_stale_adapter = [metrics, logger](const engine::AdapterInfo& info) {
    metrics->StaleAdapterFound(info);
    logger->Warning("adapter fitted on another version of its backbone; Predict refuses it",
                    {{"adapter_id", info.adapter_id},
                     {"backbone", info.backbone},
                     {"fingerprint", info.backbone_fingerprint}});
  };
  eo.persistence.on_health = [metrics, logger](const engine::StoreHealthChange& change) {
    metrics->SetAdapterStoreHealthy(change.healthy);
    engine::LogStoreHealth(*logger, change);
  };
}

}  // namespace

std::string BackboneHealthService(const std::string& backbone) {
  return absl::StrCat("backbone/", backbone);
}

absl::StatusOr<std::unique_ptr<AdaptdServer>> AdaptdServer::Create(Options options) {
  if (options.logger == nullptr) options.logger = &ProcessLogger();
  Logger* const logger = options.logger;
  RETURN_IF_ERROR(ValidateAccessLogOptions(options.access_log));
  std::unique_ptr<AdaptdServer> server(new AdaptdServer());
  server->registry_ = std::make_shared<prometheus::Registry>();
  server->metrics_ = std::make_unique<Metrics>(*server->registry_);
  RETURN_IF_ERROR(server->StartEngine(options));
  RETURN_IF_ERROR(server->StartMetrics(options));
  server->work_ = std::make_unique<ThreadPool>(ThreadPool::Options{
      options.workers > 0 ? options.workers : HardwareThreads(), std::max(1, options.max_queued)});
  if (!options.auth_token_file.empty()) {
    ASSIGN_OR_RETURN(server->auth_,
                     TokenAuthenticator::FromFile(options.auth_token_file,
                                                  [logger](const std::string& line) {
                                                    logger->Warning(line);
                                                  }));
    server->auth_->set_recheck(options.auth_recheck);
    logger->Info("auth on: bearer tokens", {{"auth_token_file", options.auth_token_file}});
  }
  server->service_ = std::make_unique<AdaptationServiceImpl>(
      server->engine_.get(), server->work_.get(), server->metrics_.get(), server->auth_.get());
  RETURN_IF_ERROR(server->StartGrpc(options));
  return server;
}

absl::Status AdaptdServer::StartEngine(Options& options) {
  Logger* const logger = options.logger;
  engine::EngineOptions& eo = options.engine;
  ObserveEngine(eo, metrics_.get(), logger);
  eo.on_model_status = [this, logger](const engine::ModelStatus& status) {
    static constexpr const char* kStates[] = {"ready", "failed", "unloaded"};
    logger->Info("model status", {{"model", status.model},
                                  {"backbone", status.backbone},
                                  {"state", kStates[static_cast<int>(status.state)]},
                                  {"version", status.version},
                                  {"fingerprint", status.fingerprint},
                                  {"message", status.message}});
    RefreshBackboneHealth();
  };
  ASSIGN_OR_RETURN(engine_, engine::Engine::Create(eo));
  const engine::Engine::StoreInfo store = engine_->store_info();
  logger->Info("adapter store open",
               {{"store", store.description}, {"adapters", store.adapters}});
  const auto backbones = engine_->ListBackbones();
  for (const auto& info : backbones) {
    metrics_->SetBackboneMemory(info);
    logger->Info("loaded backbone",
                 {{"backbone", info.name},
                  {"device", info.device},
                  {"parameters", info.parameters},
                  {"meta_learner", info.default_method == engine::Method::kMeta}});
  }
  if (backbones.empty()) {
    logger->Warning("no backbone loaded; run `make models` to build the default one",
                    {{"model_repository", eo.model_repository}});
  }
  return absl::OkStatus();
}

absl::Status AdaptdServer::StartMetrics(const Options& options) {
  collectables_ = {registry_, MakeProcessCollector()};
  auto nvml = MakeNvmlCollector(options.nvml_library);
  if (nvml.ok()) {
    collectables_.push_back(*nvml);
    options.logger->Info("GPU metrics from NVML enabled");
  } else {
    options.logger->Info("GPU metrics disabled", {{"reason", nvml.status().message()}});
  }
  if (options.metrics_address.empty()) return absl::OkStatus();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(options.metrics_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics_port: cannot listen on ", options.metrics_address, ": ", e.what()));
  }
  for (const auto& c : collectables_) exposer_->RegisterCollectable(c);
  return absl::OkStatus();
}

absl::Status AdaptdServer::StartGrpc(const Options& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, MakeCredentials(options));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, credentials, &port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(service_.get());
  builder.experimental().SetInterceptorCreators(
      MakeRequestLogInterceptors(options.access_log, options.logger, auth_.get()));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("port: cannot listen on ", options.listen_address));
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  {
    absl::MutexLock lock(&health_mu_);
    health_ = server_->GetHealthCheckService();
  }
  RefreshBackboneHealth();
  return absl::OkStatus();
}

void AdaptdServer::RefreshBackboneHealth() {
  absl::MutexLock lock(&health_mu_);
  // Before StartGrpc (models loading at start) the engine is not set yet;
  // StartGrpc refreshes once the health service exists.
  if (health_ == nullptr || engine_ == nullptr) return;
  std::set<std::string> serving;
  for (const auto& info : engine_->ListBackbones()) {
    serving.insert(info.name);
    metrics_->SetBackboneMemory(info);
  }
  for (const auto& name : health_names_) {
    if (!serving.count(name)) health_->SetServingStatus(BackboneHealthService(name), false);
  }
  for (const auto& name : serving) {
    health_->SetServingStatus(BackboneHealthService(name), true);
    health_names_.insert(name);
  }
}

AdaptdServer::~AdaptdServer() { Shutdown(absl::ZeroDuration()); }

int AdaptdServer::metrics_port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::string AdaptdServer::ScrapeText() const {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& c : collectables_) {
    auto collected = c->Collect();
    families.insert(families.end(), collected.begin(), collected.end());
  }
  return prometheus::TextSerializer().Serialize(families);
}

void AdaptdServer::Wait() {
  if (server_) server_->Wait();
}

void AdaptdServer::Shutdown(absl::Duration grace) {
  if (!server_) return;
  {
    absl::MutexLock lock(&health_mu_);
    health_ = nullptr;  // Model changes from now on leave health NOT_SERVING.
  }
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  work_.reset();  // Runs what is queued; their calls are already finished or cancelled.
  server_.reset();
}

}  // namespace adaptd::service
