#include "client/commands.h"

#include <cerrno>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "adaptd/v1/adaptd.grpc.pb.h"
#include "client/command_line.h"
#include "client/format.h"
#include "client/grpc_util.h"
#include "client/image_files.h"
#include "server/common/file_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace adaptd::client {
namespace {

using ::adaptd::v1::AdaptationService;
using ::grpc::health::v1::HealthCheckResponse;
using Args = std::vector<std::string>;

// Room for a Predict over thousands of inputs with all class scores.
constexpr int kMaxReceiveMessageBytes = 64 << 20;

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(const CommandOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  if (options.tls_ca.empty()) {
    if (!options.tls_cert.empty() || !options.tls_key.empty()) {
      return absl::InvalidArgumentError("--tls_cert and --tls_key need --tls_ca");
    }
    return grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  auto ca = ReadPemFile("--tls_ca", options.tls_ca);
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *ca;
  if (!options.tls_cert.empty()) {
    auto cert = ReadPemFile("--tls_cert", options.tls_cert);
    auto key = ReadPemFile("--tls_key", options.tls_key);
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::CreateCustomChannel(options.target, grpc::SslCredentials(ssl), args);
}

// The numeric flags that no command accepts out of range.
absl::Status CheckOptions(const CommandOptions& options) {
  if (options.timeout <= absl::ZeroDuration()) {
    return UsageError("--timeout must be positive");
  }
  if (options.ttl < absl::ZeroDuration()) {
    return UsageError("--ttl must not be negative");
  }
  if (options.steps < 0) return UsageError("--steps must not be negative");
  if (options.top_k < 0) return UsageError("--top_k must not be negative");
  if (options.page_size < 0) {
    return UsageError("--page_size must not be negative");
  }
  return absl::OkStatus();
}

std::string FormatScores(const adaptd::v1::Prediction& prediction) {
  return absl::StrJoin(prediction.scores(), ", ",
                       [](std::string* out, const adaptd::v1::ClassScore& s) {
                         absl::StrAppendFormat(out, "%s %.3f", s.label(),
                                               s.probability());
                       });
}

// One command line's worth of RPCs. Not thread-safe.
class Commands {
 public:
  Commands(const CommandOptions& options, std::shared_ptr<grpc::Channel> channel,
           std::ostream& out)
      : options_(options),
        out_(out),
        channel_(std::move(channel)),
        stub_(AdaptationService::NewStub(channel_)) {}

  absl::Status Backbones(const Args& args);
  absl::Status Adapt(const Args& args);
  absl::Status Predict(const Args& args);
  absl::Status Get(const Args& args);
  absl::Status List(const Args& args);
  absl::Status Delete(const Args& args);
  absl::Status Health(const Args& args);

 private:
  // Returns the status of `rpc(context)`, called with a context that carries
  // the deadline and the token.
  template <typename Rpc>
  absl::Status Call(Rpc rpc) const {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
    if (!options_.token.empty()) {
      context.AddMetadata("authorization",
                          absl::StrCat("Bearer ", options_.token));
    }
    return FromGrpcStatus(rpc(&context));
  }

  absl::Status GetAdapter(adaptd::v1::Adapter* adapter) const {
    adaptd::v1::GetAdapterRequest request;
    request.set_adapter_id(options_.adapter);
    return Call([&](grpc::ClientContext* context) {
      return stub_->GetAdapter(context, request, adapter);
    });
  }

  absl::Status PrintJson(const google::protobuf::Message& message) {
    absl::StatusOr<std::string> json = ToJson(message);
    if (!json.ok()) return json.status();
    out_ << *json << "\n";
    return absl::OkStatus();
  }

  const CommandOptions& options_;
  std::ostream& out_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<AdaptationService::Stub> stub_;
};

absl::Status Commands::Backbones(const Args&) {
  adaptd::v1::ListBackbonesResponse response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->ListBackbones(context, {}, &response);
  });
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(response);

  std::vector<std::vector<std::string>> rows = {{"NAME", "MODALITY", "INPUT",
                                                 "FEATURES", "DEVICE",
                                                 "METHODS", "PARAMETERS"}};
  for (const adaptd::v1::Backbone& backbone : response.backbones()) {
    std::vector<std::string> methods;
    for (int method : backbone.methods()) {
      methods.push_back(MethodName(static_cast<adaptd::v1::Method>(method)));
    }
    rows.push_back({backbone.name(), backbone.modality(),
                    FormatShape(backbone.input_shape()),
                    absl::StrCat(backbone.feature_dim()), backbone.device(),
                    absl::StrJoin(methods, ","),
                    absl::StrCat(backbone.parameters())});
  }
  out_ << FormatTable(rows);
  return absl::OkStatus();
}

absl::Status Commands::Adapt(const Args& args) {
  if (options_.backbone.empty()) {
    return UsageError("adapt: --backbone is required");
  }
  absl::StatusOr<adaptd::v1::Method> method = ParseMethod(options_.method);
  if (!method.ok()) return UsageError(method.status().message());
  absl::StatusOr<std::vector<ImageFile>> files = ListSupportSet(args[0]);
  if (!files.ok()) return files.status();

  adaptd::v1::AdaptRequest request;
  request.set_backbone(options_.backbone);
  request.set_method(*method);
  request.set_steps(options_.steps);
  if (options_.ttl > absl::ZeroDuration()) {
    *request.mutable_ttl() = ToProtoDuration(options_.ttl);
  }
  request.set_request_id(options_.request_id);
  for (const ImageFile& file : *files) {
    absl::StatusOr<std::string> bytes = ReadFile(file.path);
    if (!bytes.ok()) return bytes.status();
    adaptd::v1::Example* example = request.add_support();
    example->set_label(file.label);
    example->mutable_input()->set_image(*std::move(bytes));
  }

  adaptd::v1::AdaptResponse response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->Adapt(context, request, &response);
  });
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(response);
  out_ << FormatAdapter(response.adapter());
  return absl::OkStatus();
}

absl::Status Commands::Predict(const Args& args) {
  if (options_.adapter.empty()) {
    return UsageError("predict: --adapter is required");
  }
  absl::StatusOr<std::vector<ImageFile>> files = ListQueryFiles(args);
  if (!files.ok()) return files.status();

  adaptd::v1::PredictRequest request;
  request.set_adapter_id(options_.adapter);
  request.set_top_k(options_.top_k);
  for (const ImageFile& file : *files) {
    absl::StatusOr<std::string> bytes = ReadFile(file.path);
    if (!bytes.ok()) return bytes.status();
    request.add_inputs()->set_image(*std::move(bytes));
  }

  adaptd::v1::PredictResponse response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->Predict(context, request, &response);
  });
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(response);
  if (response.predictions_size() != static_cast<int>(files->size())) {
    return absl::InternalError(
        absl::StrCat("the server returned ", response.predictions_size(),
                     " predictions for ", files->size(), " inputs"));
  }

  // A folder name is an expected label only where it names one of the
  // adapter's classes: a plain folder of images is not scored.
  std::set<std::string> classes;
  bool has_folders = false;
  for (const ImageFile& file : *files) has_folders |= !file.label.empty();
  if (has_folders) {
    adaptd::v1::Adapter adapter;
    absl::Status get = GetAdapter(&adapter);
    if (!get.ok()) return get;
    classes.insert(adapter.labels().begin(), adapter.labels().end());
  }

  std::vector<std::vector<std::string>> rows = {
      {"FILE", "EXPECTED", "LABEL", "PROBABILITY", "SCORES"}};
  int scored = 0;
  int correct = 0;
  for (size_t i = 0; i < files->size(); ++i) {
    const ImageFile& file = (*files)[i];
    const adaptd::v1::Prediction& prediction = response.predictions(i);
    std::string expected = "-";
    if (classes.count(file.label) > 0) {
      expected = file.label;
      ++scored;
      correct += prediction.label() == file.label;
    }
    rows.push_back({file.path, expected, prediction.label(),
                    absl::StrFormat("%.3f", prediction.probability()),
                    FormatScores(prediction)});
  }
  out_ << FormatTable(rows);
  if (scored > 0) {
    out_ << absl::StrFormat("accuracy: %d/%d (%.1f%%)\n", correct, scored,
                            100.0 * correct / scored);
  }
  return absl::OkStatus();
}

absl::Status Commands::Get(const Args&) {
  if (options_.adapter.empty()) return UsageError("get: --adapter is required");
  adaptd::v1::Adapter adapter;
  absl::Status status = GetAdapter(&adapter);
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(adapter);
  out_ << FormatAdapter(adapter);
  return absl::OkStatus();
}

absl::Status Commands::List(const Args&) {
  adaptd::v1::ListAdaptersRequest request;
  request.set_page_size(options_.page_size);
  request.set_backbone(options_.backbone);
  request.set_page_token(options_.page_token);
  const bool one_page = !options_.page_token.empty();

  adaptd::v1::ListAdaptersResponse all;
  while (true) {
    adaptd::v1::ListAdaptersResponse page;
    absl::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->ListAdapters(context, request, &page);
    });
    if (!status.ok()) return status;
    all.mutable_adapters()->MergeFrom(page.adapters());
    if (one_page || page.next_page_token().empty()) {
      all.set_next_page_token(page.next_page_token());
      break;
    }
    if (page.next_page_token() == request.page_token()) {
      return absl::InternalError("the server returned the same page token");
    }
    request.set_page_token(page.next_page_token());
  }
  if (options_.json) return PrintJson(all);

  if (all.adapters().empty()) {
    out_ << "no adapters\n";
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"ADAPTER_ID", "BACKBONE", "METHOD", "CLASSES", "SUPPORT", "BYTES",
         "EXPIRES"}};
    for (const adaptd::v1::Adapter& adapter : all.adapters()) {
      rows.push_back({adapter.adapter_id(), adapter.backbone(),
                      MethodName(adapter.method()),
                      absl::StrCat(adapter.labels_size()),
                      absl::StrCat(adapter.support_size()),
                      absl::StrCat(adapter.size_bytes()),
                      FormatTimestamp(adapter.expire_time())});
    }
    out_ << FormatTable(rows);
  }
  if (!all.next_page_token().empty()) {
    out_ << "next_page_token: " << all.next_page_token() << "\n";
  }
  return absl::OkStatus();
}

absl::Status Commands::Delete(const Args&) {
  if (options_.adapter.empty()) {
    return UsageError("delete: --adapter is required");
  }
  adaptd::v1::DeleteAdapterRequest request;
  request.set_adapter_id(options_.adapter);
  google::protobuf::Empty response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->DeleteAdapter(context, request, &response);
  });
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(response);
  out_ << "deleted " << options_.adapter << "\n";
  return absl::OkStatus();
}

absl::Status Commands::Health(const Args&) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;  // service "": the server.
  HealthCheckResponse response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return health->Check(context, request, &response);
  });
  if (!status.ok()) return status;
  const std::string& serving =
      HealthCheckResponse::ServingStatus_Name(response.status());
  if (options_.json) {
    absl::Status printed = PrintJson(response);
    if (!printed.ok()) return printed;
  } else {
    out_ << serving << "\n";
  }
  if (response.status() != HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat("the server is ", serving));
  }
  return absl::OkStatus();
}

struct CommandSpec {
  absl::string_view name;
  absl::string_view synopsis;  // Flags and arguments, after the name.
  absl::string_view summary;
  size_t min_args;
  size_t max_args;
  absl::Status (Commands::*run)(const Args&);
};

// "adaptctl <name> <synopsis>".
std::string Usage(const CommandSpec& spec) {
  return std::string(absl::StripTrailingAsciiWhitespace(
      absl::StrCat("adaptctl ", spec.name, " ", spec.synopsis)));
}

constexpr size_t kUnbounded = static_cast<size_t>(-1);

constexpr CommandSpec kCommands[] = {
    {"backbones", "", "List the backbones the server has loaded.", 0, 0,
     &Commands::Backbones},
    {"adapt",
     "--backbone B [--method M] [--steps N] [--ttl 1h] [--request_id X] DIR",
     "Adapt to DIR/<label>/*.{png,jpg}; print the adapter id and stats.\n"
     "      M: meta, finetune or prototype (default: the server's).",
     1, 1, &Commands::Adapt},
    {"predict", "--adapter ID [--top_k K] FILE|DIR...",
     "Classify images; a DIR of class folders also prints the accuracy.", 1,
     kUnbounded, &Commands::Predict},
    {"get", "--adapter ID", "Show an adapter.", 0, 0, &Commands::Get},
    {"list", "[--backbone B] [--page_size N] [--page_token T]",
     "List adapters (every page unless --page_token is given).", 0, 0,
     &Commands::List},
    {"delete", "--adapter ID", "Delete an adapter.", 0, 0, &Commands::Delete},
    {"health", "",
     "Check grpc.health.v1 for the server; exit 1 unless SERVING.", 0, 0,
     &Commands::Health},
};

}  // namespace

std::string CommandSummary() {
  std::string text = "Commands:\n";
  for (const CommandSpec& spec : kCommands) {
    absl::StrAppend(&text, "  ", Usage(spec), "\n      ", spec.summary, "\n");
  }
  return text;
}

absl::Status RunCommand(absl::string_view command, const Args& args,
                        const CommandOptions& options, std::ostream& out) {
  for (const CommandSpec& spec : kCommands) {
    if (spec.name != command) continue;
    if (args.size() < spec.min_args || args.size() > spec.max_args) {
      return UsageError(absl::StrCat("usage: ", Usage(spec)));
    }
    absl::Status status = CheckOptions(options);
    if (!status.ok()) return status;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(options);
    if (!channel.ok()) return channel.status();
    Commands commands(options, *channel, out);
    status = (commands.*spec.run)(args);
    absl::Status written = FlushOutput(out);
    return status.ok() ? written : status;
  }
  return UsageError(absl::StrCat("unknown command \"", command, "\""));
}

absl::Status FlushOutput(std::ostream& out) {
  errno = 0;
  out.flush();
  if (out.good()) return absl::OkStatus();
  const int error = errno;
  if (error != 0) return absl::ErrnoToStatus(error, "writing the output");
  return absl::DataLossError("writing the output failed");
}

}  // namespace adaptd::client
