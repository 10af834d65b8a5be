// Adapters to stored bytes and back: the LibTorch half of adapter_codec.h.
// Encoding copies the head to host floats; decoding puts the head on the
// device of the adapter's backbone, which the caller resolves. Stateless;
// thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_ADAPT_ADAPTER_TENSORS_H_
#define ADAPTD_SERVER_ENGINE_ADAPT_ADAPTER_TENSORS_H_

#include <functional>
#include <string>

#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/base/adapter.h"

namespace adaptd::engine {

// REQUIRES: adapter.head is set ([C,D] weight and [C] bias, any device).
absl::StatusOr<std::string> EncodeAdapter(const Adapter& adapter);

// The device a backbone runs on; NOT_FOUND (or any error) if this process
// does not serve it.
using DeviceForBackbone = std::function<absl::StatusOr<c10::Device>(const std::string&)>;

// DATA_LOSS for a corrupt record; the resolver's error for an unknown
// backbone.
absl::StatusOr<AdapterPtr> DecodeAdapter(absl::string_view bytes,
                                         const DeviceForBackbone& device_for);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPT_ADAPTER_TENSORS_H_
