// A BERT vocab.txt: one token per line, its line number (from 0) its id.
// Thread-safe (stateless).
#ifndef ADAPTD_SERVER_ENGINE_TEXT_VOCAB_H_
#define ADAPTD_SERVER_ENGINE_TEXT_VOCAB_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd::engine {

// The tokens of `contents`, read from a file called `name` (named in
// errors), by id. Each line loses its surrounding ASCII whitespace ("\r"
// included), as BERT's load_vocab strips it. An empty line keeps its id
// and matches nothing. INVALID_ARGUMENT names the file and the line: a
// line that is not UTF-8, a token on two lines.
absl::StatusOr<std::vector<std::string>> ParseVocab(absl::string_view contents,
                                                    absl::string_view name);

// ParseVocab of the file at `path`; NOT_FOUND when there is none.
absl::StatusOr<std::vector<std::string>> ReadVocabFile(const std::string& path);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_TEXT_VOCAB_H_
