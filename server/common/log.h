// Structured log lines: a time (RFC 3339, UTC), a level, a message and
// named fields, one line each, as JSON (the default) or as plain text.
// Thread-safe: lines from many threads never interleave.
//
//   adaptd::ProcessLogger().Info("loaded backbone", {{"backbone", name}, {"parameters", n}});
//
// JSON:  {"time":"2024-05-01T12:00:00.123456Z","level":"info","message":"loaded backbone",
//         "backbone":"glyphs","parameters":112000}
// text:  2024-05-01T12:00:00.123456Z INFO loaded backbone backbone=glyphs parameters=112000
//
// Strings are escaped so that every line is valid JSON whatever they hold:
// quotes, backslashes and control characters are escaped, and bytes that are
// not UTF-8 become U+FFFD. Field names "time", "level" and "message" are
// taken by the line itself: fields so named are written as "field_time",
// "field_level" and "field_message", so that no key is repeated.
#ifndef ADAPTD_SERVER_COMMON_LOG_H_
#define ADAPTD_SERVER_COMMON_LOG_H_

#include <functional>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "server/common/clock.h"

namespace adaptd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kJson, kText };

// "debug", "info", "warning" ("warn"), "error"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
// "json" or "text"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

// One named value of a line: a string, a number or a boolean. It refers to
// the caller's strings, so it lives only as long as the call it is built for.
class LogField {
 public:
  LogField(absl::string_view key, absl::string_view value)
      : key_(key), kind_(Kind::kString), text_(value) {}
  LogField(absl::string_view key, const char* value)
      : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, const std::string& value)
      : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, bool value)
      : key_(key), kind_(Kind::kLiteral), text_(value ? "true" : "false") {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T> &&
                                                    !std::is_same_v<T, bool>>>
  LogField(absl::string_view key, T value)
      : key_(key), kind_(Kind::kNumber), number_(absl::StrCat(value)) {}
  // Non-finite numbers are written as null, which JSON can hold.
  LogField(absl::string_view key, double value);

  absl::string_view key() const { return key_; }
  // Strings are quoted; numbers, booleans and null are not.
  bool is_string() const { return kind_ == Kind::kString; }
  absl::string_view text() const { return kind_ == Kind::kNumber ? number_ : text_; }

 private:
  enum class Kind { kString, kLiteral, kNumber };
  absl::string_view key_;
  Kind kind_;
  std::string number_;
  absl::string_view text_;
};

// Appends `text` to `out` as a quoted JSON string (see the escaping above).
void AppendJsonString(absl::string_view text, std::string* out);

class Logger {
 public:
  struct Options {
    // JSON lines, or plain text for people reading a terminal.
    LogFormat format = LogFormat::kJson;
    // Lines below this level are dropped.
    LogLevel min_level = LogLevel::kInfo;
    // Receives each line, newline included, one call at a time; empty:
    // stderr. It must not log itself.
    std::function<void(absl::string_view line)> sink;
    // The time of each line; null: the real clock.
    Clock* clock = nullptr;
  };

  explicit Logger(Options options);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Replaces the options; lines already being written finish with the old ones.
  void Configure(Options options);
  bool Enabled(LogLevel level) const;

  void Log(LogLevel level, absl::string_view message, absl::Span<const LogField> fields = {});
  void Debug(absl::string_view message, absl::Span<const LogField> fields = {}) {
    Log(LogLevel::kDebug, message, fields);
  }
  void Info(absl::string_view message, absl::Span<const LogField> fields = {}) {
    Log(LogLevel::kInfo, message, fields);
  }
  void Warning(absl::string_view message, absl::Span<const LogField> fields = {}) {
    Log(LogLevel::kWarning, message, fields);
  }
  void Error(absl::string_view message, absl::Span<const LogField> fields = {}) {
    Log(LogLevel::kError, message, fields);
  }

 private:
  mutable absl::Mutex mu_;
  Options options_ ABSL_GUARDED_BY(mu_);
  // Held while a line is handed to the sink, so that lines never interleave.
  absl::Mutex write_mu_ ABSL_ACQUIRED_AFTER(mu_);
};

// The process's logger: JSON on stderr at INFO until main() configures it
// from its flags. Code without a logger of its own (the engine's defaults,
// main()) writes here; never deleted.
Logger& ProcessLogger();

}  // namespace adaptd

#endif  // ADAPTD_SERVER_COMMON_LOG_H_
