#ifndef ADAPTD_CLIENT_TEXT_FILES_H_
#define ADAPTD_CLIENT_TEXT_FILES_H_

// Reads the texts that adaptctl sends to a text backbone, in the layouts
// adapt-train reads (train/text_data.h), so one file serves both:
// - a TSV of `label<TAB>text` lines: blank lines are skipped, a trailing
//   '\r' is dropped, label and text are trimmed, and the text is everything
//   after the first tab;
// - a folder of `<label>/*.txt`: each file's trimmed contents are one text
//   (one example per file), files sorted by name;
// - for predict, a file with one text per line.
// Every error names the file and, where there is one, the line. Functions
// only; no state.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd::client {

struct TextExample {
  std::string label;  // Empty for a query text.
  std::string text;
  std::string source;  // "file:line" or the file's path, for messages.
};

// INVALID_ARGUMENT "<where>: invalid UTF-8 at byte N" unless `text` is
// well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
absl::Status CheckUtf8(absl::string_view text, absl::string_view where);

// `contents` as TSV lines; `name` is the file named in errors. Fails with
// INVALID_ARGUMENT naming "<name>:<line>" for a line without a tab, an empty
// label or text, or invalid UTF-8, and for contents with no examples.
absl::StatusOr<std::vector<TextExample>> ParseTextTsv(absl::string_view contents,
                                                      absl::string_view name);

// The support set of a text backbone at `path`: a folder of <label>/*.txt,
// or else a TSV file; "-" reads the TSV from standard input. Fails on a
// missing path, a folder without class folders, a class folder without
// .txt files, an empty file, and as ParseTextTsv does.
absl::StatusOr<std::vector<TextExample>> ReadTextSupportSet(const std::string& path);

// The lines of `path` ("-": standard input) as query texts, one per line; a
// final newline ends the last line. An empty (or whitespace-only) line is an
// INVALID_ARGUMENT naming the line, as the answers are printed line by line;
// so are invalid UTF-8 and a file without lines.
absl::StatusOr<std::vector<TextExample>> ReadTextLines(const std::string& path);

// True if the class folders under `dir` hold any .txt file: an image
// backbone given a folder of texts is told so.
bool HasTextFiles(const std::string& dir);

}  // namespace adaptd::client

#endif  // ADAPTD_CLIENT_TEXT_FILES_H_
