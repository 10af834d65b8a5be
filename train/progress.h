// Progress lines for long adapt-train commands, on stderr: the position, the
// caller's figures (loss, accuracy), the rate and an ETA. On a terminal the
// line is rewritten in place; otherwise a new line is printed every few
// seconds, so logs stay short. Not thread-safe: call from one thread.
#ifndef ADAPTD_TRAIN_PROGRESS_H_
#define ADAPTD_TRAIN_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace adaptd::train {

// "1h02m", "4m05s", "12s".
std::string FormatDuration(double seconds);

class Progress {
 public:
  // `total` units (steps, classes) of which `start` are already done (a
  // resumed run): the ETA uses only the rate of this run.
  Progress(std::string what, int64_t total, int64_t start = 0, double interval_seconds = 5.0);

  // Reports that `done` units are finished; prints when the interval has
  // passed, at the end, or when `force`.
  void Update(int64_t done, absl::string_view detail, bool force = false);
  // Ends the line (a newline on a terminal) after a last Update.
  void Finish(absl::string_view detail);
  double ElapsedSeconds() const;

 private:
  std::string what_;
  int64_t total_;
  int64_t start_;
  double interval_;
  bool tty_;
  bool dirty_ = false;
  int64_t printed_ = -1;  // `done` at the last print.
  std::chrono::steady_clock::time_point begin_;
  std::chrono::steady_clock::time_point last_print_;
};

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_PROGRESS_H_
