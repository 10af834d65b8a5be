#include "server/engine/text/unicode_chars.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"

namespace adaptd::engine::unicode {
namespace {

const icu::Normalizer2* NfdOrNull() {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(error);
  return U_SUCCESS(error) ? nfd : nullptr;
}

absl::Status NoNormalizationData() {
  return absl::InternalError("ICU's NFD normalization data cannot be loaded (libicu72)");
}

}  // namespace

absl::StatusOr<std::u32string> DecodeUtf8(absl::string_view text, absl::string_view field) {
  if (text.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": longer than 2 GiB"));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t length = static_cast<int32_t>(text.size());
  std::u32string out;
  out.reserve(text.size());
  for (int32_t i = 0; i < length;) {
    const int32_t start = i;
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if (c < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": invalid UTF-8 at byte ", start));
    }
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) AppendUtf8(c, &out);
  return out;
}

bool IsControl(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_C_MASK) != 0;
}

bool IsWhitespace(char32_t c) {
  if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r') return true;
  return u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR;
}

bool IsLineSeparator(char32_t c) {
  const int8_t type = u_charType(static_cast<UChar32>(c));
  return type == U_LINE_SEPARATOR || type == U_PARAGRAPH_SEPARATOR;
}

bool IsPunctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0;
}

bool IsChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

absl::StatusOr<std::u32string> LowerAndStripAccents(std::u32string_view word) {
  static const icu::Normalizer2* const nfd = NfdOrNull();
  if (nfd == nullptr) return NoNormalizationData();
  icu::UnicodeString lower = icu::UnicodeString::fromUTF32(
      reinterpret_cast<const UChar32*>(word.data()), static_cast<int32_t>(word.size()));
  // The root locale: the language-neutral mappings Python's str.lower()
  // applies, with no Turkish or Lithuanian rules.
  lower.toLower(icu::Locale::getRoot());
  UErrorCode error = U_ZERO_ERROR;
  const icu::UnicodeString decomposed = nfd->normalize(lower, error);
  if (U_FAILURE(error)) {
    return absl::InternalError(absl::StrCat("ICU's NFD failed: ", u_errorName(error)));
  }
  std::u32string out;
  out.reserve(static_cast<size_t>(decomposed.length()));
  for (int32_t i = 0; i < decomposed.length();) {
    const UChar32 c = decomposed.char32At(i);
    i += U16_LENGTH(c);
    if (u_charType(c) != U_NON_SPACING_MARK) out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

absl::Status CheckUnicodeData() {
  return NfdOrNull() != nullptr ? absl::OkStatus() : NoNormalizationData();
}

}  // namespace adaptd::engine::unicode
