#include "tests/test_util/test_server.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/tiny_models.h"

namespace adaptd::testing {

const std::string& TinyRepository() {
  static const std::string* repo = [] {
    auto* dir = new std::string(MakeTempDir("adaptd_tiny_repo"));
    WriteTinyConv4Model(*dir + "/tiny", "tiny", /*with_meta=*/true);
    WriteTinyConv4Model(*dir + "/plain", "plain", /*with_meta=*/false);
    return dir;
  }();
  return *repo;
}

TestServer::TestServer(const TestServerOptions& options) {
  service::AdaptdServer::Options o;
  o.listen_address = "127.0.0.1:0";
  o.metrics_address = options.metrics_http ? "127.0.0.1:0" : "";
  o.max_message_bytes = options.max_message_bytes;
  o.nvml_library = options.nvml_library;
  o.workers = options.workers;
  o.max_queued = options.max_queued;
  static Logger* const quiet = [] {
    Logger::Options drop;
    drop.sink = [](absl::string_view) {};
    return new Logger(drop);
  }();
  o.logger = options.logger != nullptr ? options.logger : quiet;
  o.access_log = options.access_log;
  o.auth_token_file = options.auth_token_file;
  o.auth_recheck = absl::ZeroDuration();
  o.tls_cert_file = options.tls_cert_file;
  o.tls_key_file = options.tls_key_file;
  o.tls_client_ca_file = options.tls_client_ca_file;
  o.engine.model_repository =
      options.model_repository.empty() ? TinyRepository() : options.model_repository;
  o.engine.device = "cpu";
  o.engine.intra_op_threads = 1;
  o.engine.max_support_size = 100;
  o.engine.max_classes = 10;
  auto server = service::AdaptdServer::Create(o);
  if (!server.ok()) throw std::runtime_error(server.status().ToString());
  server_ = *std::move(server);
  channel_ = Connect(options.channel_credentials ? options.channel_credentials
                                                 : grpc::InsecureChannelCredentials());
  stub_ = v1::AdaptationService::NewStub(channel_);
}

std::shared_ptr<grpc::Channel> TestServer::Connect(
    std::shared_ptr<grpc::ChannelCredentials> credentials) const {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(target(), credentials, args);
}

TestServer::~TestServer() { server_->Shutdown(absl::Seconds(5)); }

std::string TestServer::target() const { return absl::StrCat("127.0.0.1:", server_->port()); }

v1::Input TensorInput(int cls, int instance) {
  auto pixels = SyntheticImage(cls, instance);
  v1::Input input;
  auto* tensor = input.mutable_tensor();
  for (int64_t d : {1, kSide, kSide}) tensor->add_shape(d);
  tensor->set_dtype(v1::UINT8);
  tensor->set_data(std::string(pixels.begin(), pixels.end()));
  return input;
}

v1::Input PngInput(int cls, int instance) {
  v1::Input input;
  input.set_image(EncodePng(SyntheticImage(cls, instance), kSide, kSide));
  return input;
}

v1::AdaptRequest AdaptRequest(const std::string& backbone, int ways, int shots,
                              v1::Method method, int first) {
  v1::AdaptRequest request;
  request.set_backbone(backbone);
  request.set_method(method);
  for (int c = first; c < first + ways; ++c) {
    for (int s = 0; s < shots; ++s) {
      auto* example = request.add_support();
      example->set_label(absl::StrCat("c", c));
      *example->mutable_input() = TensorInput(c, s);
    }
  }
  return request;
}

}  // namespace adaptd::testing
