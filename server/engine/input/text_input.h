// Validates one API text input and tokenizes it for a text backbone: valid
// UTF-8, not blank, at most DecodeLimits::max_text_bytes, then the
// tokenizer's ids ([CLS] ... [SEP]) truncated to the backbone's
// max_seq_length. Pure C++, no LibTorch. Thread-safe (stateless; the
// tokenizer is immutable).
#ifndef ADAPTD_SERVER_ENGINE_INPUT_TEXT_INPUT_H_
#define ADAPTD_SERVER_ENGINE_INPUT_TEXT_INPUT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/base/types.h"
#include "server/engine/input/input_decoder.h"
#include "server/engine/text/tokenizer.h"

namespace adaptd::engine {

// The unpadded encoding of `input`. Errors are INVALID_ARGUMENT and start
// with `field`, the input's path in the request (e.g. "support[3].input"),
// then the part at fault: "support[3].input.text: is empty". An image or a
// tensor is refused: a text backbone takes text only.
// REQUIRES: max_seq_length >= 2.
absl::StatusOr<TextEncoding> EncodeTextInput(const InputRef& input,
                                             const Tokenizer& tokenizer,
                                             int max_seq_length, const DecodeLimits& limits,
                                             absl::string_view field);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_INPUT_TEXT_INPUT_H_
