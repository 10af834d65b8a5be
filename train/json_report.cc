#include "train/json_report.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "server/common/file_util.h"

namespace adaptd::train {

double Rounded(double value, int decimals) {
  if (!std::isfinite(value)) return value;
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string JsonText(const nlohmann::ordered_json& json) {
  return json.dump(2, ' ', /*ensure_ascii=*/false,
                   nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

absl::Status WriteJsonFile(const std::string& path, const nlohmann::ordered_json& json) {
  return WriteFileAtomically(path, JsonText(json));
}

}  // namespace adaptd::train
