#include "train/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"

namespace adaptd::train {

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0)) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

Progress::Progress(std::string what, int64_t total, int64_t start, double interval_seconds)
    : what_(std::move(what)),
      total_(total),
      start_(start),
      interval_(interval_seconds),
      tty_(isatty(STDERR_FILENO) != 0),
      begin_(std::chrono::steady_clock::now()),
      last_print_(begin_) {
  if (tty_) interval_ = std::min(interval_, 0.25);
}

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin_).count();
}

void Progress::Update(int64_t done, absl::string_view detail, bool force) {
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= total_;
  if (!force && !last && std::chrono::duration<double>(now - last_print_).count() < interval_) {
    return;
  }
  if (!force && done == printed_) return;
  last_print_ = now;
  printed_ = done;
  const double elapsed = ElapsedSeconds();
  const int64_t progressed = done - start_;
  const double eta =
      progressed > 0 ? elapsed / static_cast<double>(progressed) * static_cast<double>(total_ - done) : -1;
  const std::string line =
      absl::StrFormat("%s %d/%d (%.1f%%) %s | elapsed %s, ETA %s", what_, done, total_,
                      total_ > 0 ? 100.0 * done / total_ : 100.0, detail, FormatDuration(elapsed),
                      last ? "0s" : FormatDuration(eta));
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    dirty_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::Finish(absl::string_view detail) {
  if (printed_ != total_) Update(total_, detail, /*force=*/true);
  if (tty_ && dirty_) std::fprintf(stderr, "\n");
  dirty_ = false;
}

}  // namespace adaptd::train
