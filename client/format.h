#ifndef ADAPTD_CLIENT_FORMAT_H_
#define ADAPTD_CLIENT_FORMAT_H_

// Text for adaptctl's human-readable output, and the conversions between
// command-line values and API types. Pure functions.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adaptd/v1/adaptd.pb.h"
#include "google/protobuf/message.h"

namespace adaptd::client {

// "meta", "finetune" or "prototype" (any case) to the enum; "" to
// METHOD_UNSPECIFIED, the server's default.
absl::StatusOr<adaptd::v1::Method> ParseMethod(absl::string_view name);

// The method as the --method flag spells it, e.g. "meta"; "default" for
// METHOD_UNSPECIFIED.
std::string MethodName(adaptd::v1::Method method);

// RFC 3339 in UTC, or "-" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// [1, 28, 28] -> "1x28x28".
std::string FormatShape(const google::protobuf::RepeatedField<int64_t>& shape);

// `value`, or "-" where it is empty, for a table cell.
std::string OrDash(absl::string_view value);

// A backbone fingerprint, "sha256:<64 hex>", cut to "sha256:<12 hex>" for a
// table; "-" where empty. Whole in FormatModelStatus and in JSON.
std::string ShortFingerprint(absl::string_view fingerprint);

// "READY", "FAILED" or "UNLOADED"; "-" for STATE_UNSPECIFIED.
std::string ModelStateName(adaptd::v1::ModelStatus::State state);

// Rows as left-aligned columns two spaces apart, one line per row. Rows may
// differ in length.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// An adapter as aligned "field: value" lines.
std::string FormatAdapter(const adaptd::v1::Adapter& adapter);

// A model repository folder's status as aligned "field: value" lines, the
// fingerprint whole.
std::string FormatModelStatus(const adaptd::v1::ModelStatus& status);

// Compact one-line proto3 JSON, with fields at their defaults included so
// that scripts see every field.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);

}  // namespace adaptd::client

#endif  // ADAPTD_CLIENT_FORMAT_H_
