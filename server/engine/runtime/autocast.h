// Mixed precision for backbone forwards, as a plain value: no LibTorch, so
// option structs can name it. Applied by AutocastScope (device_scope.h).
#ifndef ADAPTD_SERVER_ENGINE_RUNTIME_AUTOCAST_H_
#define ADAPTD_SERVER_ENGINE_RUNTIME_AUTOCAST_H_

#include <string>

#include "absl/status/statusor.h"

namespace adaptd::engine {

// Off, or autocast to fp16 or bf16 (CUDA takes both; LibTorch's CPU
// autocast takes bf16 only).
enum class Autocast { kOff, kFloat16, kBFloat16 };

// "off", "fp16", "bf16"; INVALID_ARGUMENT names the flag otherwise.
absl::StatusOr<Autocast> ParseAutocast(const std::string& spec);
const char* AutocastName(Autocast autocast);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_RUNTIME_AUTOCAST_H_
