// The byte format of a stored adapter, shared by the durable backends: a
// 16-byte frame header (magic "ADPT", version, payload length, CRC-32 of the
// payload) and a StoredAdapter proto. No LibTorch: the head travels as plain
// float32 vectors; adapter_tensors.h converts to and from tensors.
//
// Decoding checks the frame, the checksum and the head's shape, so a torn,
// truncated or bit-flipped record is DATA_LOSS, never a wrong adapter.
//
//   std::string bytes = EncodeAdapterRecord(info, head);
//   ASSIGN_OR_RETURN(DecodedAdapter decoded, DecodeAdapterRecord(bytes));
//
// Stateless functions; thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_STORE_ADAPTER_CODEC_H_
#define ADAPTD_SERVER_ENGINE_STORE_ADAPTER_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/base/types.h"

namespace adaptd::engine {

inline constexpr char kAdapterRecordMagic[4] = {'A', 'D', 'P', 'T'};
inline constexpr uint16_t kAdapterRecordVersion = 1;
inline constexpr size_t kAdapterRecordHeaderBytes = 16;

// An adapter head as host floats: weight [classes, dim] row-major, bias
// [classes].
struct HeadData {
  int64_t classes = 0;
  int64_t dim = 0;
  std::vector<float> weight;
  std::vector<float> bias;
};

struct DecodedAdapter {
  AdapterInfo info;
  HeadData head;
};

// REQUIRES: head.weight.size() == classes * dim, head.bias.size() == classes.
std::string EncodeAdapterRecord(const AdapterInfo& info, const HeadData& head);

// DATA_LOSS for a bad magic, length, checksum, proto or head shape;
// FAILED_PRECONDITION for a record of a newer version than this build reads.
absl::StatusOr<DecodedAdapter> DecodeAdapterRecord(absl::string_view bytes);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_ADAPTER_CODEC_H_
