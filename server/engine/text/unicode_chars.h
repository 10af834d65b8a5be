// The Unicode questions BERT's BasicTokenizer asks of a character (control?
// whitespace? punctuation? CJK ideograph?), its lower-casing and accent
// stripping, and UTF-8 in and out. Answered by ICU (libicu-dev) the way
// Python's str and unicodedata answer them for BERT, up to the two
// libraries' Unicode versions: Debian 12's ICU 72 has Unicode 15.0, Python
// 3.11's unicodedata 14.0, and the two agree on every code point but the
// 4,482 first assigned in 15.0, which BERT under Python 3.11 drops as
// unassigned and these rules keep. Thread-safe (stateless).
#ifndef ADAPTD_SERVER_ENGINE_TEXT_UNICODE_CHARS_H_
#define ADAPTD_SERVER_ENGINE_TEXT_UNICODE_CHARS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd::engine::unicode {

// The code points of `text`. Ill-formed UTF-8 (a stray or missing
// continuation byte, an overlong form, a surrogate, past U+10FFFF) is
// INVALID_ARGUMENT "<field>: invalid UTF-8 at byte N".
absl::StatusOr<std::u32string> DecodeUtf8(absl::string_view text, absl::string_view field);

// Appends `c` (a valid scalar value) as UTF-8.
void AppendUtf8(char32_t c, std::string* out);
std::string EncodeUtf8(std::u32string_view text);

// BERT's _is_control: general category C* (Cc, Cf, Cn, Co, Cs), except the
// tab, newline and carriage return, which are whitespace.
bool IsControl(char32_t c);

// BERT's _is_whitespace: space, tab, newline, carriage return or Zs.
bool IsWhitespace(char32_t c);

// The line and paragraph separators (Zl, Zp). BERT's cleaning keeps them,
// but Python's str.split(), its whitespace split, splits at them.
bool IsLineSeparator(char32_t c);

// BERT's _is_punctuation: every non-alphanumeric printable ASCII character
// (33-47, 58-64, 91-96, 123-126) and general category P*.
bool IsPunctuation(char32_t c);

// BERT's _is_chinese_char: the CJK Unified Ideographs block, extensions A
// to E and the compatibility ideographs, exactly BERT's ranges.
bool IsChineseChar(char32_t c);

// Python's str.lower() of `word` (full case mapping, final sigma from the
// word's context), then NFD, then every Mn (non-spacing mark) dropped:
// what uncased BERT does to each whitespace-separated word. INTERNAL only
// when ICU's normalization data cannot be loaded.
absl::StatusOr<std::u32string> LowerAndStripAccents(std::u32string_view word);

// OK when ICU's normalization data is there, so LowerAndStripAccents works.
absl::Status CheckUnicodeData();

}  // namespace adaptd::engine::unicode

#endif  // ADAPTD_SERVER_ENGINE_TEXT_UNICODE_CHARS_H_
