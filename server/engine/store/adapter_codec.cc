#include "server/engine/store/adapter_codec.h"

#include "server/common/crc32.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adaptd/v1/stored_adapter.pb.h"

namespace adaptd::engine {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "adapter records store raw little-endian floats");

void PutU16(char* out, uint16_t v) {
  out[0] = static_cast<char>(v & 0xff);
  out[1] = static_cast<char>(v >> 8);
}

void PutU32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint16_t GetU16(const char* in) {
  return static_cast<uint16_t>(static_cast<uint8_t>(in[0]) |
                               (static_cast<uint8_t>(in[1]) << 8));
}

uint32_t GetU32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::vector<float> BytesFloats(const std::string& s) {
  std::vector<float> v(s.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), s.data(), v.size() * sizeof(float));
  return v;
}

int64_t Nanos(absl::Time t) { return absl::ToUnixNanos(t); }

absl::Status Corrupt(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("corrupt adapter record: ", why));
}

}  // namespace

std::string EncodeAdapterRecord(const AdapterInfo& info, const HeadData& head) {
  v1::StoredAdapter stored;
  stored.set_adapter_id(info.adapter_id);
  stored.set_tenant(info.tenant);
  stored.set_request_id(info.request_id);
  stored.set_backbone(info.backbone);
  stored.set_method(static_cast<int32_t>(info.method));
  for (const auto& label : info.labels) stored.add_labels(label);
  stored.set_support_size(info.support_size);
  stored.set_size_bytes(info.size_bytes);
  stored.set_create_time_unix_nanos(Nanos(info.create_time));
  stored.set_expire_time_unix_nanos(Nanos(info.expire_time));
  CopyAdaptStats(info.stats, stored.mutable_stats());
  stored.mutable_stats()->set_compute_seconds(info.stats.compute_seconds);
  stored.set_backbone_fingerprint(info.backbone_fingerprint);
  auto* h = stored.mutable_head();
  h->set_classes(head.classes);
  h->set_dim(head.dim);
  h->set_weight(FloatBytes(head.weight));
  h->set_bias(FloatBytes(head.bias));

  const std::string payload = stored.SerializeAsString();
  std::string out(kAdapterRecordHeaderBytes, '\0');
  std::memcpy(&out[0], kAdapterRecordMagic, 4);
  PutU16(&out[4], kAdapterRecordVersion);
  PutU16(&out[6], 0);  // Flags, none yet.
  PutU32(&out[8], static_cast<uint32_t>(payload.size()));
  PutU32(&out[12], Crc32(payload));
  out += payload;
  return out;
}

absl::StatusOr<DecodedAdapter> DecodeAdapterRecord(absl::string_view bytes) {
  if (bytes.size() < kAdapterRecordHeaderBytes) {
    return Corrupt(absl::StrCat(bytes.size(), " bytes is shorter than the header"));
  }
  if (std::memcmp(bytes.data(), kAdapterRecordMagic, 4) != 0) return Corrupt("bad magic");
  const uint16_t version = GetU16(bytes.data() + 4);
  if (version != kAdapterRecordVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("adapter record version ", version, " is not readable by this build (reads ",
                     kAdapterRecordVersion, ")"));
  }
  if (GetU16(bytes.data() + 6) != 0) {
    return absl::FailedPreconditionError("adapter record has flags this build does not know");
  }
  const uint32_t length = GetU32(bytes.data() + 8);
  const absl::string_view payload = bytes.substr(kAdapterRecordHeaderBytes);
  if (payload.size() != length) {
    return Corrupt(absl::StrCat("payload is ", payload.size(), " bytes, header says ", length));
  }
  if (Crc32(payload) != GetU32(bytes.data() + 12)) return Corrupt("checksum mismatch");
  v1::StoredAdapter stored;
  if (!stored.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Corrupt("payload does not parse");
  }
  const auto& h = stored.head();
  const int64_t classes = h.classes();
  const int64_t dim = h.dim();
  if (classes <= 0 || dim <= 0 || classes > (int64_t{1} << 24) || dim > (int64_t{1} << 24) ||
      h.weight().size() != static_cast<size_t>(classes * dim) * sizeof(float) ||
      h.bias().size() != static_cast<size_t>(classes) * sizeof(float) ||
      stored.labels_size() != classes) {
    return Corrupt(absl::StrCat("head shape [", classes, ",", dim, "] does not match its data (",
                                h.weight().size(), " weight bytes, ", h.bias().size(),
                                " bias bytes, ", stored.labels_size(), " labels)"));
  }
  if (stored.adapter_id().empty()) return Corrupt("empty adapter_id");

  DecodedAdapter out;
  AdapterInfo& info = out.info;
  info.adapter_id = stored.adapter_id();
  info.tenant = stored.tenant();
  info.request_id = stored.request_id();
  info.backbone = stored.backbone();
  info.method = static_cast<Method>(stored.method());
  info.labels.assign(stored.labels().begin(), stored.labels().end());
  info.support_size = stored.support_size();
  info.size_bytes = stored.size_bytes();
  info.create_time = absl::FromUnixNanos(stored.create_time_unix_nanos());
  info.expire_time = absl::FromUnixNanos(stored.expire_time_unix_nanos());
  const auto& s = stored.stats();
  info.stats.adapt_seconds = s.adapt_seconds();
  info.stats.backbone_seconds = s.backbone_seconds();
  info.stats.steps = s.steps();
  info.stats.support_loss_before = s.support_loss_before();
  info.stats.support_loss_after = s.support_loss_after();
  info.stats.device = s.device();
  info.stats.compute_seconds = s.compute_seconds();
  info.stats.truncated_inputs = s.truncated_inputs();
  info.backbone_fingerprint = stored.backbone_fingerprint();
  out.head.classes = classes;
  out.head.dim = dim;
  out.head.weight = BytesFloats(h.weight());
  out.head.bias = BytesFloats(h.bias());
  return out;
}

}  // namespace adaptd::engine
