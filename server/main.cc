// adaptd: the few-shot adaptation server.
#include <csignal>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/common/log.h"
#include "server/common/version.h"
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
ABSL_FLAG(std::string, log_format, "json",
          "Log lines on stderr: json (one object a line) or text.");
ABSL_FLAG(std::string, log_level, "info", "Least level logged: debug, info, warning or error.");
ABSL_FLAG(bool, access_log, false,
          "Log one line per RPC (rpc, tenant, code, duration, request id).");
ABSL_FLAG(double, access_log_sample, 1.0,
          "With --access_log, the fraction of successful RPCs logged, in [0, 1]; failed RPCs "
          "are always logged.");

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
  o.access_log.enabled = absl::GetFlag(FLAGS_access_log);
  o.access_log.sample = absl::GetFlag(FLAGS_access_log_sample);
  return o;
}

// The process logger as --log_format and --log_level say.
absl::Status ConfigureLogging() {
  adaptd::Logger::Options options;
  auto format = adaptd::ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) return format.status();
  auto level = adaptd::ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return level.status();
  options.format = *format;
  options.min_level = *level;
  adaptd::ProcessLogger().Configure(std::move(options));
  return absl::OkStatus();
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
  adaptd::SetUsageConfig("adaptd", adaptd::WithLibTorch::kYes, usage);
  absl::ParseCommandLine(argc, argv);

  // Signals are waited for on a thread of their own, not handled async.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  adaptd::Logger& log = adaptd::ProcessLogger();
  if (absl::Status configured = ConfigureLogging(); !configured.ok()) {
    log.Error("cannot start", {{"error", configured.message()}});
    return 1;
  }
  auto server = adaptd::service::AdaptdServer::Create(OptionsFromFlags());
  if (!server.ok()) {
    log.Error("cannot start", {{"error", server.status().message()}});
    return 1;
  }
  // The message keeps the port for scripts and tests that wait for it.
  log.Info(absl::StrCat("serving on port ", (*server)->port()),
           {{"port", (*server)->port()},
            {"metrics_port", (*server)->metrics_port()},
            {"device", (*server)->engine().device()},
            {"blas", adaptd::engine::LinkedBlas()}});

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log.Info("draining", {{"signal", sig},
                          {"grace", absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace))}});
    (*server)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  });
  (*server)->Wait();
  waiter.join();
  log.Info("stopped");
  return 0;
}
