#include "server/service/access_log.h"

#include <map>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "adaptd/v1/adaptd.grpc.pb.h"
#include "server/service/grpc_status.h"

namespace adaptd::service {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr size_t kMaxRequestIdLength = 128;

absl::string_view View(grpc::string_ref s) { return {s.data(), s.size()}; }

bool UsableRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

std::string NewRequestId() {
  thread_local absl::BitGen gen;
  return absl::StrCat(absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16),
                      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

bool Sampled(double sample) {
  if (sample >= 1.0) return true;
  if (sample <= 0.0) return false;
  thread_local absl::InsecureBitGen gen;
  return absl::Bernoulli(gen, sample);
}

// "Adapt" for adaptd's own RPCs, "grpc.health.v1.Health/Check" for others.
std::string RpcName(const char* method) {
  if (method == nullptr) return "unknown";
  absl::string_view name = method;
  absl::ConsumePrefix(&name, "/");
  const std::string own = absl::StrCat(v1::AdaptationService::service_full_name(), "/");
  absl::ConsumePrefix(&name, own);
  return std::string(name);
}

LogLevel LevelOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return LogLevel::kInfo;
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return LogLevel::kError;
    default:
      return LogLevel::kWarning;
  }
}

struct Config {
  AccessLogOptions options;
  Logger* logger;
  TokenAuthenticator* auth;
};

// One per call. No lock: the initial metadata is read before the handler
// runs, so before anything is sent, and a call sends its status once.
class RequestLogInterceptor : public grpc::experimental::Interceptor {
 public:
  RequestLogInterceptor(const Config* config, grpc::experimental::ServerRpcInfo* info)
      : config_(*config), rpc_(RpcName(info->method())), start_(absl::Now()) {
    if (config_.options.enabled) peer_ = info->server_context()->peer();
  }

  // A call that ends without sending a status (a stream the client dropped)
  // is logged here, as cancelled.
  ~RequestLogInterceptor() override {
    if (!logged_) LogCall(grpc::Status(grpc::StatusCode::CANCELLED, "ended without a status"));
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      ReadMetadata(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (request_id_.empty()) request_id_ = NewRequestId();
      methods->GetSendInitialMetadata()->emplace(kRequestIdMetadata, request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      LogCall(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void ReadMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    auto id = metadata.find(kRequestIdMetadata);
    if (id != metadata.end() && UsableRequestId(View(id->second))) {
      request_id_ = std::string(View(id->second));
    } else {
      request_id_ = NewRequestId();
    }
    if (!config_.options.enabled) return;
    auto header = metadata.find("authorization");
    if (header != metadata.end()) authorization_ = std::string(View(header->second));
  }

  // Looked up only for calls that are logged.
  std::string Tenant() const {
    if (config_.auth == nullptr) return "default";
    absl::StatusOr<std::string> tenant = config_.auth->Authenticate(authorization_);
    return tenant.ok() ? *std::move(tenant) : "";
  }

  void LogCall(const grpc::Status& status) {
    logged_ = true;
    if (!config_.options.enabled) return;
    if (status.ok() && !Sampled(config_.options.sample)) return;
    const double ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
    const std::string tenant = Tenant();
    const LogField common[] = {{"rpc", rpc_},
                               {"code", GrpcCodeName(status.error_code())},
                               {"duration_ms", ms},
                               {"tenant", tenant},
                               {"request_id", request_id_},
                               {"peer", peer_}};
    const LogLevel level = LevelOf(status.error_code());
    if (status.ok()) {
      config_.logger->Log(level, "rpc", common);
      return;
    }
    std::vector<LogField> fields(std::begin(common), std::end(common));
    fields.emplace_back("error", status.error_message());
    config_.logger->Log(level, "rpc", fields);
  }

  const Config& config_;
  const std::string rpc_;
  const absl::Time start_;
  std::string peer_;
  std::string request_id_;
  // The caller's "Bearer <token>", kept to name the tenant; never logged.
  std::string authorization_;
  bool logged_ = false;
};

class RequestLogInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RequestLogInterceptorFactory(Config config) : config_(std::move(config)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RequestLogInterceptor(&config_, info);
  }

 private:
  const Config config_;
};

}  // namespace

absl::Status ValidateAccessLogOptions(const AccessLogOptions& options) {
  if (!(options.sample >= 0.0 && options.sample <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("access_log_sample: must be in [0, 1], got ", options.sample));
  }
  return absl::OkStatus();
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeRequestLogInterceptors(const AccessLogOptions& options, Logger* logger,
                           TokenAuthenticator* auth) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(
      std::make_unique<RequestLogInterceptorFactory>(Config{options, logger, auth}));
  return factories;
}

}  // namespace adaptd::service
