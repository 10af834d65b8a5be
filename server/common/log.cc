#include "server/common/log.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"

namespace adaptd {
namespace {

constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0
// (overlong forms, surrogates and code points past U+10FFFF are not).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // The second byte's range.
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// `quotes`: escape '"' and '\\' too, as inside a JSON string.
void AppendEscapedAscii(char c, bool quotes, std::string* out) {
  if (!quotes && (c == '"' || c == '\\')) {
    out->push_back(c);
    return;
  }
  switch (c) {
    case '"': out->append("\\\""); return;
    case '\\': out->append("\\\\"); return;
    case '\b': out->append("\\b"); return;
    case '\f': out->append("\\f"); return;
    case '\n': out->append("\\n"); return;
    case '\r': out->append("\\r"); return;
    case '\t': out->append("\\t"); return;
    default: break;
  }
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u == 0x7F) {
    static constexpr char kHex[] = "0123456789abcdef";
    out->append("\\u00");
    out->push_back(kHex[u >> 4]);
    out->push_back(kHex[u & 0xF]);
    return;
  }
  out->push_back(c);
}

// The body of a JSON string, without its quotes. Without `quotes`, quotes
// and backslashes stay as they are (a text line's message).
void AppendJsonBody(absl::string_view text, std::string* out, bool quotes = true) {
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      AppendEscapedAscii(text[i], quotes, out);
      ++i;
      continue;
    }
    const size_t length = Utf8SequenceLength(text.substr(i));
    if (length == 0) {
      out->append(kReplacement.data(), kReplacement.size());
      ++i;
    } else {
      out->append(text.data() + i, length);
      i += length;
    }
  }
}

// Plain text: bare when the value reads unambiguously (no space, quote,
// '=' or escape needed), quoted as JSON otherwise.
void AppendTextValue(const LogField& field, std::string* out) {
  if (!field.is_string()) {
    out->append(field.text().data(), field.text().size());
    return;
  }
  std::string body;
  AppendJsonBody(field.text(), &body);
  const bool bare = !body.empty() && body == field.text() &&
                    body.find_first_of(" \"=\\") == std::string::npos;
  if (bare) {
    out->append(body);
  } else {
    out->push_back('"');
    out->append(body);
    out->push_back('"');
  }
}

// A field may not take the name of the line's own time, level or message.
std::string FieldKey(absl::string_view key) {
  if (key == "time" || key == "level" || key == "message") return absl::StrCat("field_", key);
  return std::string(key);
}

std::string FormatLine(LogFormat format, absl::Time time, LogLevel level,
                       absl::string_view message, absl::Span<const LogField> fields) {
  const std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  std::string line;
  if (format == LogFormat::kText) {
    absl::StrAppend(&line, stamp, " ", absl::AsciiStrToUpper(LogLevelName(level)), " ");
    AppendJsonBody(message, &line, /*quotes=*/false);
    for (const LogField& field : fields) {
      line.push_back(' ');
      AppendJsonBody(FieldKey(field.key()), &line);
      line.push_back('=');
      AppendTextValue(field, &line);
    }
  } else {
    absl::StrAppend(&line, "{\"time\":\"", stamp, "\",\"level\":\"", LogLevelName(level),
                    "\",\"message\":");
    AppendJsonString(message, &line);
    for (const LogField& field : fields) {
      line.push_back(',');
      AppendJsonString(FieldKey(field.key()), &line);
      line.push_back(':');
      if (field.is_string()) {
        AppendJsonString(field.text(), &line);
      } else {
        line.append(field.text().data(), field.text().size());
      }
    }
    line.push_back('}');
  }
  line.push_back('\n');
  return line;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("log_level: expected debug, info, warning or error, got \"", name, "\""));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "json") return LogFormat::kJson;
  if (lower == "text") return LogFormat::kText;
  return absl::InvalidArgumentError(
      absl::StrCat("log_format: expected json or text, got \"", name, "\""));
}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

LogField::LogField(absl::string_view key, double value) : key_(key) {
  if (std::isfinite(value)) {
    kind_ = Kind::kNumber;
    number_ = absl::StrCat(value);
  } else {
    kind_ = Kind::kLiteral;
    text_ = "null";
  }
}

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  AppendJsonBody(text, out);
  out->push_back('"');
}

Logger::Logger(Options options) : options_(std::move(options)) {}

void Logger::Configure(Options options) {
  absl::MutexLock lock(&mu_);
  options_ = std::move(options);
}

bool Logger::Enabled(LogLevel level) const {
  absl::ReaderMutexLock lock(&mu_);
  return level >= options_.min_level;
}

void Logger::Log(LogLevel level, absl::string_view message, absl::Span<const LogField> fields) {
  // Held while writing too, so that Configure never swaps the sink under a
  // line; writers share it and serialize on write_mu_ alone.
  absl::ReaderMutexLock lock(&mu_);
  if (level < options_.min_level) return;
  const absl::Time now = options_.clock != nullptr ? options_.clock->Now() : absl::Now();
  const std::string line = FormatLine(options_.format, now, level, message, fields);
  absl::MutexLock write(&write_mu_);
  if (options_.sink) {
    options_.sink(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
}

Logger& ProcessLogger() {
  static Logger* logger = new Logger(Logger::Options{});
  return *logger;
}

}  // namespace adaptd
