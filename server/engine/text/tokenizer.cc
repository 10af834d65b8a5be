#include "server/engine/text/tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"

namespace adaptd::engine {

absl::StatusOr<TextEncoding> Tokenizer::Encode(absl::string_view text, int max_length,
                                               const TextEncodeOptions& options) const {
  if (max_length < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_length: must be at least 2 ([CLS] and [SEP]), got ", max_length));
  }
  const SpecialTokenIds& special = special_ids();
  if (options.pad_to_max_length && special.pad < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("padding needs a pad token ([PAD]) in the ", kind(), " vocabulary"));
  }
  ASSIGN_OR_RETURN(std::vector<int32_t> pieces, Pieces(text, options.field));
  const size_t specials = (special.cls >= 0 ? 1 : 0) + (special.sep >= 0 ? 1 : 0);
  const size_t keep = std::min(pieces.size(), static_cast<size_t>(max_length) - specials);
  TextEncoding encoding;
  encoding.num_truncated = static_cast<int64_t>(pieces.size() - keep);
  encoding.ids.reserve(static_cast<size_t>(max_length));
  if (special.cls >= 0) encoding.ids.push_back(special.cls);
  encoding.ids.insert(encoding.ids.end(), pieces.begin(), pieces.begin() + keep);
  if (special.sep >= 0) encoding.ids.push_back(special.sep);
  encoding.attention_mask.assign(encoding.ids.size(), 1);
  if (options.pad_to_max_length) {
    encoding.ids.resize(static_cast<size_t>(max_length), special.pad);
    encoding.attention_mask.resize(static_cast<size_t>(max_length), 0);
  }
  return encoding;
}

}  // namespace adaptd::engine
