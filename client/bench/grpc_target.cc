#include "client/bench/grpc_target.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "adaptd/v1/adaptd.grpc.pb.h"
#include "client/grpc_util.h"

namespace adaptd::bench {
namespace {

using ::adaptd::client::FromGrpcStatus;
using ::adaptd::client::ReadPemFile;
using ::adaptd::client::ToProtoDuration;

v1::Method ToProto(engine::Method method) {
  switch (method) {
    case engine::Method::kMeta: return v1::META;
    case engine::Method::kFinetune: return v1::FINETUNE;
    case engine::Method::kPrototype: return v1::PROTOTYPE;
    case engine::Method::kUnspecified: break;
  }
  return v1::METHOD_UNSPECIFIED;
}

engine::Method FromProto(int method) {
  switch (method) {
    case v1::META: return engine::Method::kMeta;
    case v1::FINETUNE: return engine::Method::kFinetune;
    case v1::PROTOTYPE: return engine::Method::kPrototype;
    default: return engine::Method::kUnspecified;
  }
}

void ToProto(const Input& from, v1::Input* input) {
  if (from.kind == Input::Kind::kText) {
    input->set_text(from.data);
    return;
  }
  auto* t = input->mutable_tensor();
  for (int64_t d : from.shape) t->add_shape(d);
  t->set_dtype(v1::UINT8);
  t->set_data(from.data);
}

// One RPC's state, alive from its start to its callback, which deletes it
// before it runs `done`. The order matters: the context holds a reference to
// the channel, and once `done` has run the caller may drop its own; the last
// reference must not go on gRPC's callback thread, where ~Channel would stop
// (and join) that very thread.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

// The callback of `c`'s RPC when only its status matters: deletes `c`
// (first: see Call), then runs `done`.
template <typename Request, typename Response>
std::function<void(grpc::Status)> DeleteThenDone(Call<Request, Response>* c, Done done) {
  return [c, done = std::move(done)](grpc::Status status) {
    delete c;
    done(FromGrpcStatus(status));
  };
}

class GrpcTarget final : public Target {
 public:
  GrpcTarget(std::vector<std::shared_ptr<grpc::Channel>> channels, std::string description,
             std::vector<std::string> tokens)
      : description_(std::move(description)), tokens_(std::move(tokens)) {
    for (auto& channel : channels) stubs_.push_back(v1::AdaptationService::NewStub(channel));
  }

  std::string Describe() const override { return description_; }
  int tenants() const override { return std::max<int>(1, tokens_.size()); }

  absl::StatusOr<std::vector<BackboneSpec>> ListBackbones() override {
    grpc::ClientContext context;
    Prepare(context, 0, absl::Seconds(30));
    v1::ListBackbonesResponse response;
    absl::Status status =
        FromGrpcStatus(stubs_[0]->ListBackbones(&context, v1::ListBackbonesRequest(), &response));
    if (!status.ok()) return status;
    std::vector<BackboneSpec> out;
    for (const auto& b : response.backbones()) {
      BackboneSpec spec;
      spec.name = b.name();
      if (!b.modality().empty()) spec.modality = b.modality();
      spec.input_shape.assign(b.input_shape().begin(), b.input_shape().end());
      for (int m : b.methods()) spec.methods.push_back(FromProto(m));
      out.push_back(std::move(spec));
    }
    return out;
  }

  void Adapt(const AdaptCall& call, AdaptDone done) override {
    auto* c = new Call<v1::AdaptRequest, v1::AdaptResponse>;
    Prepare(c->context, call.tenant, call.timeout);
    c->request.set_backbone(call.backbone);
    c->request.set_method(ToProto(call.method));
    c->request.set_steps(call.steps);
    if (call.ttl > absl::ZeroDuration()) {
      *c->request.mutable_ttl() = ToProtoDuration(call.ttl);
    }
    for (const auto& example : call.support) {
      auto* e = c->request.add_support();
      e->set_label(example.label);
      ToProto(*example.input, e->mutable_input());
    }
    NextStub().async()->Adapt(&c->context, &c->request, &c->response,
                              [c, done = std::move(done)](grpc::Status status) {
                                std::string id = c->response.adapter().adapter_id();
                                delete c;  // First: see Call.
                                done(FromGrpcStatus(status), id);
                              });
  }

  void Predict(const PredictCall& call, Done done) override {
    auto* c = new Call<v1::PredictRequest, v1::PredictResponse>;
    Prepare(c->context, call.tenant, call.timeout);
    c->request.set_adapter_id(call.adapter_id);
    c->request.set_top_k(call.top_k);
    for (const Input* input : call.inputs) ToProto(*input, c->request.add_inputs());
    NextStub().async()->Predict(&c->context, &c->request, &c->response,
                                DeleteThenDone(c, std::move(done)));
  }

  void DeleteAdapter(int tenant, const std::string& adapter_id, absl::Duration timeout,
                     Done done) override {
    auto* c = new Call<v1::DeleteAdapterRequest, google::protobuf::Empty>;
    Prepare(c->context, tenant, timeout);
    c->request.set_adapter_id(adapter_id);
    NextStub().async()->DeleteAdapter(&c->context, &c->request, &c->response,
                                      DeleteThenDone(c, std::move(done)));
  }

 private:
  void Prepare(grpc::ClientContext& context, int tenant, absl::Duration timeout) const {
    if (timeout != absl::InfiniteDuration()) {
      context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    }
    if (!tokens_.empty()) {
      context.AddMetadata("authorization",
                          absl::StrCat("Bearer ", tokens_[tenant % tokens_.size()]));
    }
  }

  v1::AdaptationService::Stub& NextStub() {
    return *stubs_[next_.fetch_add(1, std::memory_order_relaxed) % stubs_.size()];
  }

  const std::string description_;
  const std::vector<std::string> tokens_;
  std::vector<std::unique_ptr<v1::AdaptationService::Stub>> stubs_;  // Fixed.
  std::atomic<uint64_t> next_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> NewGrpcTarget(const GrpcTargetOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  const bool tls = options.tls || !options.tls_ca_file.empty() ||
                   !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    auto read = [](const std::string& path, const char* what, std::string* out) {
      if (path.empty()) return absl::OkStatus();
      auto contents = ReadPemFile(what, path);
      if (!contents.ok()) return contents.status();
      *out = *std::move(contents);
      return absl::OkStatus();
    };
    for (absl::Status s : {read(options.tls_ca_file, "tls_ca_file", &ssl.pem_root_certs),
                           read(options.tls_cert_file, "tls_cert_file", &ssl.pem_cert_chain),
                           read(options.tls_key_file, "tls_key_file", &ssl.pem_private_key)}) {
      if (!s.ok()) return s;
    }
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::max(1, options.channels); ++i) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    args.SetMaxReceiveMessageSize(64 << 20);
    // Its own connection per channel, not one shared subchannel.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("adaptd_bench.channel", i);
    channels.push_back(grpc::CreateCustomChannel(options.target, credentials, args));
  }
  return NewGrpcTarget(std::move(channels),
                       absl::StrCat(tls ? "grpc+tls " : "grpc ", options.target),
                       options.tokens);
}

std::unique_ptr<Target> NewGrpcTarget(std::vector<std::shared_ptr<grpc::Channel>> channels,
                                      std::string description,
                                      std::vector<std::string> tokens) {
  return std::make_unique<GrpcTarget>(std::move(channels), std::move(description),
                                      std::move(tokens));
}

}  // namespace adaptd::bench
