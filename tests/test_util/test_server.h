// An in-process adaptd on port 0 over a repository of tiny models (or one
// given), with a connected stub. Proto builders for synthetic inputs.
#ifndef ADAPTD_TESTS_TEST_UTIL_TEST_SERVER_H_
#define ADAPTD_TESTS_TEST_UTIL_TEST_SERVER_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "adaptd/v1/adaptd.grpc.pb.h"
#include "server/service/server.h"

namespace adaptd::testing {

// A repository with "tiny" (Conv4 + untrained meta-learner) and "plain"
// (Conv4 only), created once per process.
const std::string& TinyRepository();

struct TestServerOptions {
  std::string model_repository;  // Empty: TinyRepository().
  int max_message_bytes = 4 << 20;
  std::string nvml_library = "/nonexistent/libnvidia-ml.so.1";
  bool metrics_http = false;  // Serve /metrics over HTTP (slow to stop).
  int workers = 2;
  int max_queued = 1024;
  std::string auth_token_file;  // Empty: auth off.
  std::string tls_cert_file, tls_key_file, tls_client_ca_file;
  // Credentials of the test's channel; null: insecure.
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
  // Where the server logs; null: nowhere. Must outlive the server.
  Logger* logger = nullptr;
  service::AccessLogOptions access_log;
};

class TestServer {
 public:
  explicit TestServer(const TestServerOptions& options = {});
  ~TestServer();

  service::AdaptdServer& server() { return *server_; }
  v1::AdaptationService::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  std::string target() const;
  // A channel to the server with other credentials.
  std::shared_ptr<grpc::Channel> Connect(std::shared_ptr<grpc::ChannelCredentials> credentials) const;

 private:
  std::unique_ptr<service::AdaptdServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdaptationService::Stub> stub_;
};

// A UINT8 tensor input of SyntheticImage(cls, instance).
v1::Input TensorInput(int cls, int instance);
// A PNG input of SyntheticImage(cls, instance).
v1::Input PngInput(int cls, int instance);
// `ways` classes labelled "c<k>" from `first`, instances 0..shots-1.
v1::AdaptRequest AdaptRequest(const std::string& backbone, int ways, int shots,
                              v1::Method method, int first = 0);

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_TEST_SERVER_H_
