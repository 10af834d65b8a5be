// adaptd: the few-shot adaptation server.
#include <csignal>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/engine/torch_util.h"
#include "server/service/server.h"

ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one).");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, metrics_port, 9464, "Prometheus /metrics port; -1 disables the exposer.");
ABSL_FLAG(std::string, model_repository, "./models",
          "Folder with one sub-folder per model (model.pbtxt + weights).");
ABSL_FLAG(std::string, device, "",
          "cpu, cuda or cuda:N. Default: cuda when LibTorch has it and a GPU is visible, "
          "else cpu.");
ABSL_FLAG(std::string, autocast, "off",
          "Mixed precision for backbone forwards: off, fp16 or bf16 (CUDA takes both, the "
          "CPU bf16 only). Adaptation and heads stay fp32.");
ABSL_FLAG(int, intra_op_threads, 0,
          "LibTorch intra-op threads for backbone forwards; 0: the number of cores. "
          "Head adaptation on the CPU runs on one (its tensors are too small to split).");
ABSL_FLAG(int, inter_op_threads, 0, "LibTorch inter-op threads; 0: the number of cores.");
ABSL_FLAG(int, workers, 0, "Threads running engine work; 0: the number of cores.");
ABSL_FLAG(int, max_queued, 1024,
          "Calls that may wait for a worker; beyond it calls get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_batch_size, 64, "Most inputs in one batched backbone forward.");
ABSL_FLAG(int, batch_workers, 0,
          "Threads running batches per backbone, each on its own CUDA stream; 0: 2 on CUDA, "
          "1 on the CPU.");
ABSL_FLAG(absl::Duration, max_batch_delay, absl::Milliseconds(2),
          "Longest a request waits for others to join its batch.");
ABSL_FLAG(int, max_queued_inputs, 8192,
          "Inputs that may wait for a backbone; beyond it requests get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "Largest request accepted, in bytes; larger ones get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_adapters, 100000, "Most adapters held; least recently used go first.");
ABSL_FLAG(int64_t, max_adapter_bytes, int64_t{2} << 30, "Most bytes of adapters held.");
ABSL_FLAG(int64_t, max_adapters_per_tenant, 0,
          "Most live adapters one tenant may have (over every replica with --adapter_store=redis);"
          " 0: no limit. Over it, Adapt gets RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_adapter_bytes_per_tenant, 0,
          "Most bytes of live adapters one tenant may have; 0: no limit.");
ABSL_FLAG(std::string, adapter_store, "memory",
          "Where adapters live: memory (this process only; lost on restart), directory "
          "(--adapter_dir; survives restarts) or redis (--redis_address; shared by replicas). "
          "The memory limits above then bound a local cache.");
ABSL_FLAG(std::string, adapter_dir, "",
          "--adapter_store=directory: folder with one file per adapter; created if missing.");
ABSL_FLAG(std::string, redis_address, "127.0.0.1:6379",
          "--adapter_store=redis: host:port of Redis. adaptd refuses to start if it cannot "
          "reach it.");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Seconds(1),
          "--adapter_store=redis: limit on connecting and on each command.");
ABSL_FLAG(std::string, redis_key_prefix, "adaptd:",
          "--adapter_store=redis: prefix of every key, so deployments can share one Redis.");
ABSL_FLAG(int, max_support_size, 1000, "Most examples in one support set.");
ABSL_FLAG(int, max_classes, 100, "Most distinct labels in one support set.");
ABSL_FLAG(int, max_predict_inputs, 1024, "Most inputs in one Predict.");
ABSL_FLAG(int, max_steps, 500, "Most adaptation steps a request may ask for.");
ABSL_FLAG(absl::Duration, default_ttl, absl::Hours(24), "TTL of adapters whose request sets none.");
ABSL_FLAG(absl::Duration, max_ttl, absl::Hours(24 * 30), "Longest TTL a request may ask for.");
ABSL_FLAG(int64_t, max_image_bytes, 8 << 20, "Largest encoded image accepted, in bytes.");
ABSL_FLAG(int64_t, max_image_pixels, 4096 * 4096, "Largest decoded image accepted, in pixels.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File of \"<token> <tenant>\" lines; clients send \"authorization: Bearer <token>\". "
          "Empty: auth off, one tenant \"default\". Edits apply without a restart.");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate; empty: plaintext.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, clients must present a certificate it signed (mTLS).");
ABSL_FLAG(std::string, nvml_library, "libnvidia-ml.so.1",
          "NVML library to dlopen for the GPU gauges.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish.");

namespace {

adaptd::service::AdaptdServer::Options OptionsFromFlags() {
  adaptd::service::AdaptdServer::Options o;
  o.listen_address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  o.metrics_address =
      metrics_port < 0 ? "" : absl::StrCat(absl::GetFlag(FLAGS_host), ":", metrics_port);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.workers = absl::GetFlag(FLAGS_workers);
  o.max_queued = absl::GetFlag(FLAGS_max_queued);
  o.nvml_library = absl::GetFlag(FLAGS_nvml_library);
  o.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  o.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  auto& e = o.engine;
  e.model_repository = absl::GetFlag(FLAGS_model_repository);
  e.device = absl::GetFlag(FLAGS_device);
  e.autocast = absl::GetFlag(FLAGS_autocast);
  e.intra_op_threads = absl::GetFlag(FLAGS_intra_op_threads);
  e.inter_op_threads = absl::GetFlag(FLAGS_inter_op_threads);
  e.max_support_size = absl::GetFlag(FLAGS_max_support_size);
  e.max_classes = absl::GetFlag(FLAGS_max_classes);
  e.max_predict_inputs = absl::GetFlag(FLAGS_max_predict_inputs);
  e.max_steps = absl::GetFlag(FLAGS_max_steps);
  e.default_ttl = absl::GetFlag(FLAGS_default_ttl);
  e.max_ttl = absl::GetFlag(FLAGS_max_ttl);
  e.decode.max_image_bytes = absl::GetFlag(FLAGS_max_image_bytes);
  e.decode.max_image_pixels = absl::GetFlag(FLAGS_max_image_pixels);
  e.batching.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  e.batching.workers = absl::GetFlag(FLAGS_batch_workers);
  e.batching.max_delay = absl::GetFlag(FLAGS_max_batch_delay);
  e.batching.max_queued_inputs = absl::GetFlag(FLAGS_max_queued_inputs);
  e.store.max_adapters = absl::GetFlag(FLAGS_max_adapters);
  e.store.max_bytes = absl::GetFlag(FLAGS_max_adapter_bytes);
  e.store.max_adapters_per_tenant = absl::GetFlag(FLAGS_max_adapters_per_tenant);
  e.store.max_bytes_per_tenant = absl::GetFlag(FLAGS_max_adapter_bytes_per_tenant);
  e.persistence.backend = absl::GetFlag(FLAGS_adapter_store);
  e.persistence.directory = absl::GetFlag(FLAGS_adapter_dir);
  e.persistence.redis_address = absl::GetFlag(FLAGS_redis_address);
  e.persistence.redis_timeout = absl::GetFlag(FLAGS_redis_timeout);
  e.persistence.redis_key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
  return o;
}

bool IsServerFlagFile(absl::string_view file) { return absl::EndsWith(file, "server/main.cc"); }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "adaptd: few-shot adaptation server.\n\n"
      "Loads every model under --model_repository, then serves adaptd.v1.AdaptationService\n"
      "(Adapt, Predict, ...), grpc.health.v1.Health and server reflection on --port, and\n"
      "Prometheus metrics on --metrics_port at /metrics.\n\n"
      "  adaptd --model_repository=./models --port=50051 --metrics_port=9464\n");
  // --help lists this file's flags (absl's default looks for a file named
  // after the binary, and found none); --helpfull adds the libraries'.
  absl::FlagsUsageConfig usage;
  usage.contains_helpshort_flags = &IsServerFlagFile;
  usage.contains_help_flags = &IsServerFlagFile;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);

  // Signals are waited for on a thread of their own, not handled async.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = adaptd::service::AdaptdServer::Create(OptionsFromFlags());
  if (!server.ok()) {
    std::cerr << "adaptd: cannot start: " << server.status().message() << std::endl;
    return 1;
  }
  std::cerr << "adaptd: serving on port " << (*server)->port() << ", metrics on port "
            << (*server)->metrics_port() << std::endl;
  std::cerr << "adaptd: on " << (*server)->engine().device() << ", BLAS "
            << adaptd::engine::LinkedBlas() << std::endl;

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "adaptd: signal " << sig << ", draining for up to "
              << absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace)) << std::endl;
    (*server)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  });
  (*server)->Wait();
  waiter.join();
  std::cerr << "adaptd: stopped" << std::endl;
  return 0;
}
