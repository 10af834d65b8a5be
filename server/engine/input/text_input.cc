#include "server/engine/input/text_input.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace adaptd::engine {

absl::StatusOr<TextEncoding> EncodeTextInput(const InputRef& input,
                                             const Tokenizer& tokenizer,
                                             int max_seq_length, const DecodeLimits& limits,
                                             absl::string_view field) {
  switch (input.kind) {
    case InputRef::Kind::kText:
      break;
    case InputRef::Kind::kImage:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".image: this backbone takes text; set text"));
    case InputRef::Kind::kTensor:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".tensor: this backbone takes text; set text"));
    case InputRef::Kind::kMissing:
      return absl::InvalidArgumentError(absl::StrCat(field, ": is empty; set text"));
  }
  const std::string text_field = absl::StrCat(field, ".text");
  if (static_cast<int64_t>(input.data.size()) > limits.max_text_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(text_field, ": ", input.data.size(),
                                                   " bytes exceeds the limit of ",
                                                   limits.max_text_bytes, " bytes"));
  }
  if (absl::StripAsciiWhitespace(input.data).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(text_field, ": is empty"));
  }
  TextEncodeOptions options;
  options.field = text_field;
  return tokenizer.Encode(input.data, max_seq_length, options);
}

}  // namespace adaptd::engine
