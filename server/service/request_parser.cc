#include "server/service/request_parser.h"

#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/slice.h>

#include "absl/strings/str_cat.h"

namespace adaptd::service {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Field numbers on the wire (adaptd.proto).
constexpr int kSupportOrInputs = 2;  // AdaptRequest.support, PredictRequest.inputs.
constexpr int kExampleInput = 2;     // Example.input.
constexpr int kInputText = 3;        // Input.text.

std::string Flatten(const grpc::ByteBuffer& wire) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!wire.Dump(&slices).ok()) return bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// The last length-delimited field `number` of the message in `bytes`.
std::optional<std::string> SubField(const std::string& bytes, int number) {
  UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return std::nullopt;
  std::optional<std::string> found;
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& f = fields.field(i);
    if (f.number() == number && f.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      found = f.length_delimited();
    }
  }
  return found;
}

// Why protobuf refused `bytes`: the first input whose text is not UTF-8, or
// a general message. `examples`: the inputs sit in AdaptRequest's examples.
absl::Status Unparsable(const std::string& bytes, bool examples, absl::string_view type) {
  UnknownFieldSet fields;
  if (fields.ParseFromString(bytes)) {
    int index = 0;
    for (int i = 0; i < fields.field_count(); ++i) {
      const UnknownField& f = fields.field(i);
      if (f.number() != kSupportOrInputs || f.type() != UnknownField::TYPE_LENGTH_DELIMITED) {
        continue;
      }
      const std::string name = examples ? absl::StrCat("support[", index, "].input")
                                        : absl::StrCat("inputs[", index, "]");
      ++index;
      std::optional<std::string> input = f.length_delimited();
      if (examples) input = SubField(*input, kExampleInput);
      if (!input) continue;
      const std::optional<std::string> text = SubField(*input, kInputText);
      const int64_t bad = text ? FirstInvalidUtf8Byte(*text) : -1;
      if (bad >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ".text: invalid UTF-8 at byte ", bad, "; text must be UTF-8"));
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "request: not a valid ", type, " (malformed, or a string field that is not UTF-8)"));
}

template <typename Request>
absl::Status Parse(const grpc::ByteBuffer& wire, Request* out, bool examples) {
  grpc::ByteBuffer copy(wire);  // Shares the slices.
  grpc::ProtoBufferReader reader(&copy);
  if (reader.status().ok() && out->ParseFromZeroCopyStream(&reader)) return absl::OkStatus();
  return Unparsable(Flatten(wire), examples, Request::descriptor()->name());
}

// The length of a UTF-8 sequence led by `b`, or 0 if `b` cannot lead one.
int SequenceLength(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

}  // namespace

int64_t FirstInvalidUtf8Byte(absl::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const int len = SequenceLength(s[i]);
    if (len == 0 || i + static_cast<size_t>(len) > n) return static_cast<int64_t>(i);
    // The second byte's range excludes overlong forms, surrogates and
    // code points past U+10FFFF.
    unsigned char lo = 0x80, hi = 0xBF;
    if (s[i] == 0xE0) lo = 0xA0;
    if (s[i] == 0xED) hi = 0x9F;
    if (s[i] == 0xF0) lo = 0x90;
    if (s[i] == 0xF4) hi = 0x8F;
    for (int k = 1; k < len; ++k) {
      const unsigned char c = s[i + static_cast<size_t>(k)];
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return static_cast<int64_t>(i);
    }
    i += static_cast<size_t>(len);
  }
  return -1;
}

absl::Status ParseRequest(const grpc::ByteBuffer& wire, v1::AdaptRequest* out) {
  return Parse(wire, out, /*examples=*/true);
}

absl::Status ParseRequest(const grpc::ByteBuffer& wire, v1::PredictRequest* out) {
  return Parse(wire, out, /*examples=*/false);
}

void SerializeResponse(const google::protobuf::Message& message, grpc::ByteBuffer* wire) {
  const std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buffer(&slice, 1);
  wire->Swap(&buffer);
}

}  // namespace adaptd::service
