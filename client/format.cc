#include "client/format.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace adaptd::client {

using adaptd::v1::Method;

absl::StatusOr<Method> ParseMethod(absl::string_view name) {
  if (name.empty()) return adaptd::v1::METHOD_UNSPECIFIED;
  Method method;
  if (name != "METHOD_UNSPECIFIED" &&
      adaptd::v1::Method_Parse(absl::AsciiStrToUpper(name), &method)) {
    return method;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--method: unknown method \"", name,
                   "\"; use meta, finetune or prototype"));
}

std::string MethodName(Method method) {
  if (method == adaptd::v1::METHOD_UNSPECIFIED) return "default";
  return absl::AsciiStrToLower(adaptd::v1::Method_Name(method));
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  absl::Time time = absl::FromUnixSeconds(timestamp.seconds()) +
                    absl::Nanoseconds(timestamp.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string FormatShape(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrJoin(shape, "x");
}

std::string OrDash(absl::string_view value) {
  return value.empty() ? "-" : std::string(value);
}

std::string ShortFingerprint(absl::string_view fingerprint) {
  constexpr absl::string_view kAlgorithm = "sha256:";
  constexpr size_t kShownDigits = 12;
  if (fingerprint.empty()) return "-";
  if (!absl::StartsWith(fingerprint, kAlgorithm)) return std::string(fingerprint);
  return std::string(fingerprint.substr(0, kAlgorithm.size() + kShownDigits));
}

std::string ModelStateName(adaptd::v1::ModelStatus::State state) {
  if (state == adaptd::v1::ModelStatus::STATE_UNSPECIFIED) return "-";
  return adaptd::v1::ModelStatus::State_Name(state);
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (row.size() > widths.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&text, line, "\n");
  }
  return text;
}

std::string FormatAdapter(const adaptd::v1::Adapter& adapter) {
  const adaptd::v1::AdaptStats& stats = adapter.stats();
  return FormatTable({
      {"adapter_id:", adapter.adapter_id()},
      {"backbone:", adapter.backbone()},
      {"method:", MethodName(adapter.method())},
      {"labels:", absl::StrCat(absl::StrJoin(adapter.labels(), ", "), " (",
                               adapter.labels_size(), " classes)")},
      {"support_size:", absl::StrCat(adapter.support_size())},
      {"size_bytes:", absl::StrCat(adapter.size_bytes())},
      {"steps:", absl::StrCat(stats.steps())},
      {"support_loss:",
       absl::StrFormat("%.4f -> %.4f", stats.support_loss_before(),
                       stats.support_loss_after())},
      {"adapt_seconds:", absl::StrFormat("%.4f", stats.adapt_seconds())},
      {"backbone_seconds:", absl::StrFormat("%.4f", stats.backbone_seconds())},
      {"device:", stats.device()},
      {"created:", FormatTimestamp(adapter.create_time())},
      {"expires:", FormatTimestamp(adapter.expire_time())},
  });
}

std::string FormatModelStatus(const adaptd::v1::ModelStatus& status) {
  return FormatTable({
      {"model:", status.model()},
      {"state:", ModelStateName(status.state())},
      {"backbone:", OrDash(status.backbone())},
      {"version:", OrDash(status.version())},
      {"fingerprint:", OrDash(status.fingerprint())},
      {"updated:", FormatTimestamp(status.update_time())},
      {"message:", OrDash(status.message())},
  });
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("JSON: ", status.ToString()));
  }
  return json;
}

}  // namespace adaptd::client
