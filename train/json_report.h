// JSON reports (pretrain's and metatrain's report.json, eval's REPORT.json)
// built with nlohmann::json: names are escaped, and NaN or infinity is
// written as null, so every report parses. Keys keep the order they are
// added in (nlohmann::ordered_json). No LibTorch. Thread-safe.
//
//   nlohmann::ordered_json report = {{"accuracy", Rounded(accuracy, 5)}};
//   RETURN_IF_ERROR(WriteJsonFile(work_dir + "/report.json", report));
#ifndef ADAPTD_TRAIN_JSON_REPORT_H_
#define ADAPTD_TRAIN_JSON_REPORT_H_

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"

namespace adaptd::train {

// `value` rounded to `decimals` places, the precision a report shows;
// NaN and infinity are kept (and written as null).
double Rounded(double value, int decimals);

// The text of `json`, indented by 2 and ending in a newline. Bytes that are
// not UTF-8 (a file name in another encoding) become U+FFFD instead of
// failing.
std::string JsonText(const nlohmann::ordered_json& json);

// Writes JsonText(json) to `path` with adaptd::WriteFileAtomically.
absl::Status WriteJsonFile(const std::string& path, const nlohmann::ordered_json& json);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_JSON_REPORT_H_
