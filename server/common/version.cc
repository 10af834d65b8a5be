#include "server/common/version.h"

#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"

// Defined by CMake for this file only (server/common/CMakeLists.txt), so that
// a new commit or build type recompiles one file.
#ifndef ADAPTD_VERSION
#error "ADAPTD_VERSION must be defined by the build"
#endif

namespace adaptd {

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info = {ADAPTD_VERSION, ADAPTD_GIT_COMMIT, ADAPTD_BUILD_TYPE,
                                 ADAPTD_TORCH_VERSION, ADAPTD_TORCH_CUDA != 0};
  return info;
}

std::string VersionText(absl::string_view program, WithLibTorch torch) {
  const BuildInfo& info = GetBuildInfo();
  std::string text = absl::StrCat(program, " ", info.version, "\ncommit: ", info.git_commit,
                                  "\nbuild type: ", info.build_type, "\n");
  if (torch == WithLibTorch::kYes) {
    absl::StrAppend(&text, "LibTorch: ", info.torch_version,
                    info.torch_cuda ? " (with CUDA)" : " (CPU only)", "\n");
  }
  return text;
}

void SetUsageConfig(absl::string_view program, WithLibTorch torch,
                    absl::FlagsUsageConfig usage) {
  // Abseil prints the string as it is, with no newline of its own.
  usage.version_string = [name = std::string(program), torch] {
    return VersionText(name, torch);
  };
  absl::SetFlagsUsageConfig(usage);
}

}  // namespace adaptd
