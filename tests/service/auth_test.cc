// Tenants and auth: bearer tokens from a file, tenant isolation, TLS/mTLS.
#include "server/service/auth.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"

namespace adaptd::testing {
namespace {

using ::testing::HasSubstr;

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(TokenAuthenticatorTest, MapsTokensToTenantsAndReloads) {
  const std::string dir = MakeTempDir("auth_test");
  const std::string path =
      WriteFile(dir + "/tokens", "# token tenant\n\ntok-a alice\n  tok-b\tbob  \n");
  auto auth = service::TokenAuthenticator::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(*(*auth)->Authenticate("Bearer tok-a"), "alice");
  EXPECT_EQ(*(*auth)->Authenticate("Bearer tok-b"), "bob");
  EXPECT_EQ((*auth)->Authenticate("").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Authenticate("Bearer nope").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string((*auth)->Authenticate("Basic tok-a").status().message()),
              HasSubstr("expected \"Bearer <token>\""));

  WriteFile(path, "tok-c carol\n");
  ASSERT_TRUE((*auth)->ReloadIfChanged().ok());
  EXPECT_EQ(*(*auth)->Authenticate("Bearer tok-c"), "carol");
  EXPECT_FALSE((*auth)->Authenticate("Bearer tok-a").ok());

  // A broken edit keeps the last good tokens.
  WriteFile(path, "tok-d dave extra-field\n");
  EXPECT_EQ((*auth)->ReloadIfChanged().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*(*auth)->Authenticate("Bearer tok-c"), "carol");

  EXPECT_THAT(std::string(service::TokenAuthenticator::FromFile(path).status().message()),
              HasSubstr(":1: expected \"<token> <tenant>\""));
  std::filesystem::remove_all(dir);
}

class TenantTest : public ::testing::Test {
 protected:
  TenantTest()
      : dir_(MakeTempDir("tenant_test")),
        tokens_(WriteFile(dir_ + "/tokens", "tok-alice alice\ntok-bob bob\n")),
        server_([this] {
          TestServerOptions options;
          options.auth_token_file = tokens_;
          return options;
        }()) {}
  ~TenantTest() override { std::filesystem::remove_all(dir_); }

  static void As(grpc::ClientContext* ctx, const std::string& token) {
    ctx->AddMetadata("authorization", "Bearer " + token);
  }

  std::string dir_;
  std::string tokens_;
  TestServer server_;
};

TEST_F(TenantTest, MissingOrWrongTokenIsUnauthenticated) {
  v1::AdaptResponse response;
  {
    grpc::ClientContext ctx;
    auto status = server_.stub().Adapt(&ctx, AdaptRequest("plain", 2, 2, v1::PROTOTYPE), &response);
    EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
    EXPECT_THAT(status.error_message(), HasSubstr("authorization: missing"));
  }
  {
    grpc::ClientContext ctx;
    As(&ctx, "tok-mallory");
    v1::ListBackbonesResponse backbones;
    auto status = server_.stub().ListBackbones(&ctx, {}, &backbones);
    EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
    EXPECT_THAT(status.error_message(), HasSubstr("unknown token"));
  }
  EXPECT_EQ(server_.server().engine().store_info().adapters, 0);
}

TEST_F(TenantTest, AnotherTenantsAdapterIsNotFound) {
  v1::AdaptResponse created;
  {
    grpc::ClientContext ctx;
    As(&ctx, "tok-alice");
    ASSERT_TRUE(server_.stub().Adapt(&ctx, AdaptRequest("plain", 2, 2, v1::PROTOTYPE), &created).ok());
  }
  const std::string id = created.adapter().adapter_id();
  v1::GetAdapterRequest get;
  get.set_adapter_id(id);
  v1::Adapter adapter;
  {
    grpc::ClientContext ctx;
    As(&ctx, "tok-bob");
    auto status = server_.stub().GetAdapter(&ctx, get, &adapter);
    EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
    // Exactly the answer for an adapter that does not exist.
    grpc::ClientContext ctx2;
    As(&ctx2, "tok-bob");
    v1::GetAdapterRequest missing;
    missing.set_adapter_id("ad_missing");
    auto missing_status = server_.stub().GetAdapter(&ctx2, missing, &adapter);
    EXPECT_EQ(missing_status.error_message(),
              std::string(status.error_message()).replace(status.error_message().find(id), id.size(),
                                                          "ad_missing"));
  }
  {
    grpc::ClientContext ctx;
    As(&ctx, "tok-bob");
    v1::PredictRequest predict;
    predict.set_adapter_id(id);
    *predict.add_inputs() = TensorInput(0, 5);
    v1::PredictResponse response;
    EXPECT_EQ(server_.stub().Predict(&ctx, predict, &response).error_code(), grpc::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    As(&ctx, "tok-bob");
    v1::ListAdaptersResponse page;
    ASSERT_TRUE(server_.stub().ListAdapters(&ctx, {}, &page).ok());
    EXPECT_EQ(page.adapters_size(), 0);
  }
  {
    grpc::ClientContext ctx;
    As(&ctx, "tok-bob");
    v1::DeleteAdapterRequest del;
    del.set_adapter_id(id);
    google::protobuf::Empty empty;
    EXPECT_EQ(server_.stub().DeleteAdapter(&ctx, del, &empty).error_code(), grpc::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    As(&ctx, "tok-alice");
    EXPECT_TRUE(server_.stub().GetAdapter(&ctx, get, &adapter).ok());
  }
  const std::string metrics = server_.server().ScrapeText();
  EXPECT_THAT(metrics, HasSubstr("adaptd_tenant_compute_seconds_total{tenant=\"alice\"}"));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("tenant=\"bob\"")));
}

TEST_F(TenantTest, ChangedTokenFileAppliesWithoutRestart) {
  WriteFile(tokens_, "tok-carol carol\n");
  grpc::ClientContext ctx;
  As(&ctx, "tok-carol");
  v1::ListBackbonesResponse backbones;
  EXPECT_TRUE(server_.stub().ListBackbones(&ctx, {}, &backbones).ok());
  grpc::ClientContext old;
  As(&old, "tok-alice");
  EXPECT_EQ(server_.stub().ListBackbones(&old, {}, &backbones).error_code(), grpc::UNAUTHENTICATED);
}

// A CA, a server certificate for "localhost" and a client certificate,
// made with the openssl command line.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("tls_test"));
    const std::string d = *dir_;
    const std::string script = absl::StrCat(
        "cd ", d, " && ",
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=adaptd-test-ca && ",
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=localhost && ",
        "printf 'subjectAltName=DNS:localhost' > san.ext && ",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile san.ext && ",
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client && ",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out client.pem -days 2",
        " > openssl.log 2>&1");
    ok_ = std::system(script.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    if (!ok_) GTEST_SKIP() << "openssl could not make test certificates";
  }
  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }

  static bool Healthy(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::AdaptationService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListBackbonesResponse response;
    return stub->ListBackbones(&ctx, {}, &response).ok();
  }

  static std::string* dir_;
  static bool ok_;
};

std::string* TlsTest::dir_ = nullptr;
bool TlsTest::ok_ = false;

TEST_F(TlsTest, ServerTlsRefusesPlaintext) {
  TestServerOptions options;
  options.tls_cert_file = Path("server.pem");
  options.tls_key_file = Path("server.key");
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(Path("ca.pem"));
  options.channel_credentials = grpc::SslCredentials(ssl);
  TestServer server(options);
  EXPECT_TRUE(Healthy(server.channel()));
  EXPECT_FALSE(Healthy(server.Connect(grpc::InsecureChannelCredentials())));
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificate) {
  TestServerOptions options;
  options.tls_cert_file = Path("server.pem");
  options.tls_key_file = Path("server.key");
  options.tls_client_ca_file = Path("ca.pem");
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = ReadFile(Path("ca.pem"));
  with_cert.pem_private_key = ReadFile(Path("client.key"));
  with_cert.pem_cert_chain = ReadFile(Path("client.pem"));
  options.channel_credentials = grpc::SslCredentials(with_cert);
  TestServer server(options);
  EXPECT_TRUE(Healthy(server.channel()));
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = ReadFile(Path("ca.pem"));
  EXPECT_FALSE(Healthy(server.Connect(grpc::SslCredentials(without_cert))));
}

}  // namespace
}  // namespace adaptd::testing
