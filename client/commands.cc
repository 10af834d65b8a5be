#include "client/commands.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "adaptd/v1/adaptd.grpc.pb.h"
#include "client/command_line.h"
#include "client/format.h"
#include "client/grpc_util.h"
#include "client/image_files.h"
#include "client/text_files.h"
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

// The token as CommandOptions::token says: the flag, else the file, else the
// environment. The token itself never appears in a message.
absl::StatusOr<std::string> ResolveToken(const CommandOptions& options) {
  std::string token = options.token;
  std::string source = "--token";
  if (token.empty() && !options.token_file.empty()) {
    absl::StatusOr<std::string> contents = ReadFile(options.token_file);
    if (!contents.ok()) {
      return absl::Status(contents.status().code(),
                          absl::StrCat("--token_file: ", contents.status().message()));
    }
    token = std::string(absl::StripAsciiWhitespace(*contents));
    source = absl::StrCat("--token_file ", options.token_file);
    if (token.empty()) return UsageError(absl::StrCat(source, ": the file is empty"));
  }
  const char* environment = std::getenv(kTokenEnvironmentVariable);
  if (token.empty() && environment != nullptr) {
    token = environment;
    source = kTokenEnvironmentVariable;
  }
  // What an HTTP/2 header value and "Bearer <token>" allow.
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return UsageError(absl::StrCat(
          source, ": the token has a space or a character that is not printable ASCII"));
    }
  }
  return token;
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
  Commands(const CommandOptions& options, std::string token,
           std::shared_ptr<grpc::Channel> channel, std::ostream& out)
      : options_(options),
        token_(std::move(token)),
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
  absl::Status Models(const Args& args);
  absl::Status Load(const Args& args);
  absl::Status Reload(const Args& args);
  absl::Status Unload(const Args& args);

 private:
  // Returns the status of `rpc(context)`, called with a context that carries
  // the deadline and the token.
  template <typename Rpc>
  absl::Status Call(Rpc rpc) const {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
    if (!token_.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
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

  // Prints a model control RPC's answer: the folder's status.
  absl::Status PrintModelStatus(const adaptd::v1::ModelStatus& status) {
    if (options_.json) return PrintJson(status);
    out_ << FormatModelStatus(status);
    return absl::OkStatus();
  }

  // The backbone `name` as ListBackbones reports it; NOT_FOUND, as the
  // server words it, for a name it does not serve.
  absl::StatusOr<adaptd::v1::Backbone> FindBackbone(const std::string& name) const;
  // The support set at `path` as examples of `request`, as the backbone's
  // modality reads it.
  absl::Status AddImageSupport(const adaptd::v1::Backbone& backbone, const std::string& path,
                               adaptd::v1::AdaptRequest& request) const;
  absl::Status AddTextSupport(const std::string& path, adaptd::v1::AdaptRequest& request) const;
  absl::Status PredictImages(const Args& args);
  // `texts`: from --text/--text_file (no labels), or a labelled TSV or folder.
  absl::Status PredictTexts(const std::vector<TextExample>& texts);
  // The expected label of each input: its label where that names one of the
  // adapter's classes, else "-" (not scored). Asks the server for the
  // adapter's classes only when some input has a label.
  absl::StatusOr<std::vector<std::string>> ExpectedLabels(const std::vector<std::string>& labels) const;
  // The table's rows and, where any input is scored, the accuracy line.
  void PrintPredictions(const std::vector<std::string>& names,
                        const std::vector<std::string>& expected,
                        const adaptd::v1::PredictResponse& response, const std::string& column);
  absl::Status CallPredict(const adaptd::v1::PredictRequest& request,
                           adaptd::v1::PredictResponse& response, size_t inputs);

  const CommandOptions& options_;
  const std::string token_;
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

  std::vector<std::vector<std::string>> rows = {{"NAME", "MODALITY", "INPUT", "FEATURES",
                                                 "DEVICE", "METHODS", "PARAMETERS", "VERSION",
                                                 "FINGERPRINT"}};
  for (const adaptd::v1::Backbone& backbone : response.backbones()) {
    std::vector<std::string> methods;
    for (int method : backbone.methods()) {
      methods.push_back(MethodName(static_cast<adaptd::v1::Method>(method)));
    }
    rows.push_back({backbone.name(), backbone.modality(),
                    FormatShape(backbone.input_shape()),
                    absl::StrCat(backbone.feature_dim()), backbone.device(),
                    absl::StrJoin(methods, ","),
                    absl::StrCat(backbone.parameters()), OrDash(backbone.version()),
                    ShortFingerprint(backbone.fingerprint())});
  }
  out_ << FormatTable(rows);
  return absl::OkStatus();
}

absl::StatusOr<adaptd::v1::Backbone> Commands::FindBackbone(const std::string& name) const {
  adaptd::v1::ListBackbonesResponse response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->ListBackbones(context, {}, &response);
  });
  if (!status.ok()) return status;
  std::vector<std::string> names;
  for (const adaptd::v1::Backbone& backbone : response.backbones()) {
    if (backbone.name() == name) return backbone;
    names.push_back(backbone.name());
  }
  return absl::NotFoundError(absl::StrCat("backbone: unknown backbone \"", name,
                                          "\"; the server has: ",
                                          names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

absl::Status Commands::AddImageSupport(const adaptd::v1::Backbone& backbone,
                                       const std::string& path,
                                       adaptd::v1::AdaptRequest& request) const {
  absl::StatusOr<std::vector<ImageFile>> files = ListSupportSet(path);
  if (!files.ok()) {
    // A text set given to an image backbone: say so, not just "no images".
    std::error_code ec;
    const bool is_file = std::filesystem::is_regular_file(path, ec);
    const bool is_dir = std::filesystem::is_directory(path, ec);
    if (is_file || (is_dir && HasTextFiles(path))) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": backbone ", backbone.name(),
          " takes images: give a folder of <label>/ PNG or JPEG files (a TSV or .txt files are "
          "for text backbones)"));
    }
    return files.status();
  }
  for (const ImageFile& file : *files) {
    absl::StatusOr<std::string> bytes = ReadFile(file.path);
    if (!bytes.ok()) return bytes.status();
    adaptd::v1::Example* example = request.add_support();
    example->set_label(file.label);
    example->mutable_input()->set_image(*std::move(bytes));
  }
  return absl::OkStatus();
}

absl::Status Commands::AddTextSupport(const std::string& path,
                                      adaptd::v1::AdaptRequest& request) const {
  absl::StatusOr<std::vector<TextExample>> examples = ReadTextSupportSet(path);
  if (!examples.ok()) return examples.status();
  for (TextExample& text : *examples) {
    adaptd::v1::Example* example = request.add_support();
    example->set_label(std::move(text.label));
    example->mutable_input()->set_text(std::move(text.text));
  }
  return absl::OkStatus();
}

absl::Status Commands::Adapt(const Args& args) {
  if (options_.backbone.empty()) {
    return UsageError("adapt: --backbone is required");
  }
  if (options_.id_only && options_.json) {
    return UsageError("adapt: --id_only and --json exclude each other");
  }
  absl::StatusOr<adaptd::v1::Method> method = ParseMethod(options_.method);
  if (!method.ok()) return UsageError(method.status().message());
  // The backbone's modality says how to read the support set.
  absl::StatusOr<adaptd::v1::Backbone> backbone = FindBackbone(options_.backbone);
  if (!backbone.ok()) return backbone.status();

  adaptd::v1::AdaptRequest request;
  request.set_backbone(options_.backbone);
  request.set_method(*method);
  request.set_steps(options_.steps);
  if (options_.ttl > absl::ZeroDuration()) {
    *request.mutable_ttl() = ToProtoDuration(options_.ttl);
  }
  request.set_request_id(options_.request_id);
  absl::Status read = backbone->modality() == "text"
                          ? AddTextSupport(args[0], request)
                          : AddImageSupport(*backbone, args[0], request);
  if (!read.ok()) return read;

  adaptd::v1::AdaptResponse response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->Adapt(context, request, &response);
  });
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(response);
  if (options_.id_only) {
    out_ << response.adapter().adapter_id() << "\n";
    return absl::OkStatus();
  }
  out_ << FormatAdapter(response.adapter());
  return absl::OkStatus();
}

absl::Status Commands::CallPredict(const adaptd::v1::PredictRequest& request,
                                   adaptd::v1::PredictResponse& response, size_t inputs) {
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->Predict(context, request, &response);
  });
  if (!status.ok()) return status;
  if (response.predictions_size() != static_cast<int>(inputs)) {
    return absl::InternalError(absl::StrCat("the server returned ", response.predictions_size(),
                                            " predictions for ", inputs, " inputs"));
  }
  return absl::OkStatus();
}

// The query texts of --text (each checked) and --text_file, in that order.
absl::StatusOr<std::vector<TextExample>> FlagTexts(const CommandOptions& options) {
  std::vector<TextExample> texts;
  for (size_t i = 0; i < options.texts.size(); ++i) {
    const std::string where = absl::StrCat("--text #", i + 1);
    if (absl::Status s = CheckUtf8(options.texts[i], where); !s.ok()) return s;
    texts.push_back({"", options.texts[i], where});
  }
  if (!options.text_file.empty()) {
    absl::StatusOr<std::vector<TextExample>> lines = ReadTextLines(options.text_file);
    if (!lines.ok()) return lines.status();
    for (TextExample& line : *lines) texts.push_back(std::move(line));
  }
  return texts;
}

// One argument naming labelled query texts: a .tsv file, or a folder of
// <label>/*.txt.
bool IsLabelledTexts(const Args& args) {
  if (args.size() != 1) return false;
  std::error_code ec;
  if (std::filesystem::is_directory(args[0], ec)) return HasTextFiles(args[0]);
  return absl::EndsWith(args[0], ".tsv");
}

absl::Status Commands::Predict(const Args& args) {
  if (options_.adapter.empty()) {
    return UsageError("predict: --adapter is required");
  }
  const bool texts = !options_.texts.empty() || !options_.text_file.empty();
  if (texts && !args.empty()) {
    return UsageError("predict: give image FILE|DIR arguments or --text/--text_file, not both");
  }
  if (!texts && args.empty()) {
    return UsageError("predict: nothing to classify; give image FILE|DIR arguments, a labelled "
                      "text TSV or folder, --text or --text_file");
  }
  if (texts) {
    absl::StatusOr<std::vector<TextExample>> queries = FlagTexts(options_);
    if (!queries.ok()) return queries.status();
    return PredictTexts(*queries);
  }
  if (IsLabelledTexts(args)) {
    absl::StatusOr<std::vector<TextExample>> queries = ReadTextSupportSet(args[0]);
    if (!queries.ok()) return queries.status();
    return PredictTexts(*queries);
  }
  return PredictImages(args);
}

// The start of `text` on one line, for a table cell.
std::string Excerpt(absl::string_view text) {
  constexpr size_t kMaxBytes = 60;
  std::string line = absl::StrJoin(absl::StrSplit(text, absl::ByAnyChar("\t\r\n")), " ");
  if (line.size() <= kMaxBytes) return line;
  size_t cut = kMaxBytes;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(line.substr(0, cut), "...");
}

absl::Status Commands::PredictTexts(const std::vector<TextExample>& texts) {
  adaptd::v1::PredictRequest request;
  request.set_adapter_id(options_.adapter);
  request.set_top_k(options_.top_k);
  for (const TextExample& text : texts) request.add_inputs()->set_text(text.text);
  adaptd::v1::PredictResponse response;
  absl::Status status = CallPredict(request, response, texts.size());
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(response);

  std::vector<std::string> names, labels;
  for (const TextExample& text : texts) {
    names.push_back(Excerpt(text.text));
    labels.push_back(text.label);
  }
  absl::StatusOr<std::vector<std::string>> expected = ExpectedLabels(labels);
  if (!expected.ok()) return expected.status();
  PrintPredictions(names, *expected, response, "TEXT");
  if (response.truncated_inputs() > 0) {
    out_ << response.truncated_inputs()
         << " text(s) were cut to the backbone's maximum sequence length\n";
  }
  return absl::OkStatus();
}

absl::Status Commands::PredictImages(const Args& args) {
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
  absl::Status status = CallPredict(request, response, files->size());
  if (!status.ok()) return status;
  if (options_.json) return PrintJson(response);

  // A folder name is an expected label only where it names one of the
  // adapter's classes: a plain folder of images is not scored.
  std::vector<std::string> names, labels;
  for (const ImageFile& file : *files) {
    names.push_back(file.path);
    labels.push_back(file.label);
  }
  absl::StatusOr<std::vector<std::string>> expected = ExpectedLabels(labels);
  if (!expected.ok()) return expected.status();
  PrintPredictions(names, *expected, response, "FILE");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Commands::ExpectedLabels(
    const std::vector<std::string>& labels) const {
  std::set<std::string> classes;
  if (std::any_of(labels.begin(), labels.end(), [](const auto& l) { return !l.empty(); })) {
    adaptd::v1::Adapter adapter;
    absl::Status get = GetAdapter(&adapter);
    if (!get.ok()) return get;
    classes.insert(adapter.labels().begin(), adapter.labels().end());
  }
  std::vector<std::string> expected;
  for (const std::string& label : labels) {
    expected.push_back(classes.count(label) > 0 ? label : "-");
  }
  return expected;
}

void Commands::PrintPredictions(const std::vector<std::string>& names,
                                const std::vector<std::string>& expected,
                                const adaptd::v1::PredictResponse& response,
                                const std::string& column) {
  std::vector<std::vector<std::string>> rows = {
      {column, "EXPECTED", "LABEL", "PROBABILITY", "SCORES"}};
  int scored = 0;
  int correct = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const adaptd::v1::Prediction& prediction = response.predictions(i);
    if (expected[i] != "-") {
      ++scored;
      correct += prediction.label() == expected[i];
    }
    rows.push_back({names[i], expected[i], prediction.label(),
                    absl::StrFormat("%.3f", prediction.probability()),
                    FormatScores(prediction)});
  }
  out_ << FormatTable(rows);
  if (scored > 0) {
    out_ << absl::StrFormat("accuracy: %d/%d (%.1f%%)\n", correct, scored,
                            100.0 * correct / scored);
  }
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

absl::Status Commands::Models(const Args&) {
  adaptd::v1::ListBackbonesResponse response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->ListBackbones(context, {}, &response);
  });
  if (!status.ok()) return status;
  response.clear_backbones();  // `adaptctl backbones` shows those.
  if (options_.json) return PrintJson(response);

  if (response.models().empty()) {
    out_ << "no models\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"MODEL", "STATE", "BACKBONE", "VERSION", "FINGERPRINT", "UPDATED", "MESSAGE"}};
  for (const adaptd::v1::ModelStatus& model : response.models()) {
    rows.push_back({model.model(), ModelStateName(model.state()), OrDash(model.backbone()),
                    OrDash(model.version()), ShortFingerprint(model.fingerprint()),
                    FormatTimestamp(model.update_time()),
                    OrDash(absl::StrReplaceAll(model.message(), {{"\n", " "}}))});
  }
  out_ << FormatTable(rows);
  return absl::OkStatus();
}

absl::Status Commands::Load(const Args& args) {
  adaptd::v1::LoadModelRequest request;
  request.set_model(args[0]);
  adaptd::v1::ModelStatus response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->LoadModel(context, request, &response);
  });
  return status.ok() ? PrintModelStatus(response) : status;
}

absl::Status Commands::Reload(const Args& args) {
  adaptd::v1::LoadModelRequest request;
  request.set_model(args[0]);
  adaptd::v1::ModelStatus response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->ReloadModel(context, request, &response);
  });
  return status.ok() ? PrintModelStatus(response) : status;
}

absl::Status Commands::Unload(const Args& args) {
  adaptd::v1::UnloadModelRequest request;
  request.set_model(args[0]);
  adaptd::v1::ModelStatus response;
  absl::Status status = Call([&](grpc::ClientContext* context) {
    return stub_->UnloadModel(context, request, &response);
  });
  return status.ok() ? PrintModelStatus(response) : status;
}

struct CommandSpec {
  absl::string_view name;
  absl::string_view synopsis;  // Flags and arguments, after the name.
  absl::string_view summary;
  size_t min_args;
  size_t max_args;
  absl::Status (Commands::*run)(const Args&);
  absl::string_view flags;  // Its own flags, space-separated; see kGlobalFlags.
};

// The flags every command takes.
constexpr absl::string_view kGlobalFlags = "target json timeout token token_file tls_ca tls_cert "
                                           "tls_key";

// "adaptctl <name> <synopsis>".
std::string Usage(const CommandSpec& spec) {
  return std::string(absl::StripTrailingAsciiWhitespace(
      absl::StrCat("adaptctl ", spec.name, " ", spec.synopsis)));
}

constexpr size_t kUnbounded = static_cast<size_t>(-1);

constexpr CommandSpec kCommands[] = {
    {"backbones", "", "List the backbones the server has loaded, with version and fingerprint.",
     0, 0, &Commands::Backbones, ""},
    {"adapt",
     "--backbone B [--method M] [--steps N] [--ttl 1h] [--request_id X] [--id_only] SET",
     "Adapt to a support set; print the adapter id and stats. SET, as the backbone's\n"
     "      modality asks: image: DIR/<label>/*.{png,jpg}; text: a TSV of <label><TAB><text>\n"
     "      lines (\"-\": stdin) or DIR/<label>/*.txt, one text per file.\n"
     "      M: meta, finetune or prototype (default: the server's).",
     1, 1, &Commands::Adapt, "backbone method steps ttl request_id id_only"},
    {"predict", "--adapter ID [--top_k K] FILE|DIR... | SET.tsv | --text T... | --text_file F",
     "Classify images, or texts (--text, repeatable; --text_file F: one per line,\n"
     "      \"-\": stdin); a DIR of image class folders, or labelled texts (a .tsv or a\n"
     "      folder of <label>/*.txt), also prints the accuracy.",
     0, kUnbounded, &Commands::Predict, "adapter top_k text text_file"},
    {"get", "--adapter ID", "Show an adapter.", 0, 0, &Commands::Get, "adapter"},
    {"list", "[--backbone B] [--page_size N] [--page_token T]",
     "List adapters (every page unless --page_token is given).", 0, 0,
     &Commands::List, "backbone page_size page_token"},
    {"delete", "--adapter ID", "Delete an adapter.", 0, 0, &Commands::Delete, "adapter"},
    {"health", "",
     "Check grpc.health.v1 for the server; exit 1 unless SERVING.", 0, 0,
     &Commands::Health, ""},
    {"models", "",
     "List the model repository's folders: state (READY, FAILED, UNLOADED), backbone,\n"
     "      version, fingerprint, and why one failed.",
     0, 0, &Commands::Models, ""},
    {"load", "MODEL",
     "Load the repository folder MODEL (its folder name), or reload it if it is\n"
     "      loaded; print its status.",
     1, 1, &Commands::Load, ""},
    {"reload", "MODEL",
     "Reload the loaded folder MODEL from its files; calls in flight finish on the\n"
     "      old backbone, and a reload that fails leaves the old one serving.",
     1, 1, &Commands::Reload, ""},
    {"unload", "MODEL", "Stop serving the folder MODEL; its adapters stay stored.", 1, 1,
     &Commands::Unload, ""},
};

bool HasFlag(absl::string_view flags, absl::string_view flag) {
  for (absl::string_view name : absl::StrSplit(flags, ' ', absl::SkipEmpty())) {
    if (name == flag) return true;
  }
  return false;
}

// A usage error for a flag given to `spec` that only other commands take.
absl::Status CheckFlagsApply(const CommandSpec& spec, const std::vector<std::string>& given) {
  for (const std::string& flag : given) {
    if (HasFlag(kGlobalFlags, flag) || HasFlag(spec.flags, flag)) continue;
    std::vector<absl::string_view> owners;
    for (const CommandSpec& other : kCommands) {
      if (HasFlag(other.flags, flag)) owners.push_back(other.name);
    }
    if (owners.empty()) continue;  // Not adaptctl's own (e.g. --flagfile).
    return UsageError(absl::StrCat("--", flag, " does not apply to ", spec.name,
                                   "; it is a flag of ", absl::StrJoin(owners, ", ")));
  }
  return absl::OkStatus();
}

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
    if (args.size() < spec.min_args) {
      return UsageError(absl::StrCat(command, ": missing an argument; usage: ", Usage(spec)));
    }
    if (args.size() > spec.max_args) {
      return UsageError(absl::StrCat(command, ": too many arguments (", args.size(),
                                     "); usage: ", Usage(spec)));
    }
    for (const std::string& arg : args) {
      if (absl::StripAsciiWhitespace(arg).empty()) {
        return UsageError(absl::StrCat(command, ": an argument is empty; usage: ", Usage(spec)));
      }
    }
    absl::Status status = CheckFlagsApply(spec, options.flags_given);
    if (status.ok()) status = CheckOptions(options);
    if (!status.ok()) return status;
    absl::StatusOr<std::string> token = ResolveToken(options);
    if (!token.ok()) return token.status();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(options);
    if (!channel.ok()) return channel.status();
    Commands commands(options, *std::move(token), *channel, out);
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
