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
#include "server/engine/runtime/torch_util.h"
#include "server/engine_flags.h"
#include "server/service/server.h"

ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one).");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, metrics_port, 9464, "Prometheus /metrics port; -1 disables the exposer.");
ABSL_FLAG(int, workers, 0, "Threads running engine work; 0: the number of cores.");
ABSL_FLAG(int, max_queued, 1024,
          "Calls that may wait for a worker; beyond it calls get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "Largest request accepted, in bytes; larger ones get RESOURCE_EXHAUSTED.");
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
  o.engine = adaptd::EngineOptionsFromFlags();
  return o;
}

bool IsServerFlagFile(absl::string_view file) {
  return absl::EndsWith(file, "server/main.cc") || absl::EndsWith(file, "server/engine_flags.cc");
}

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
