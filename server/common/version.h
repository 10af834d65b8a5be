// What every binary's --version prints: the project's version, the git
// commit and build type it was built from and, for the binaries that run
// LibTorch, the LibTorch it was built against and whether that has CUDA.
// The values are fixed when CMake configures the build
// (server/common/CMakeLists.txt), so the commit is the one checked out then;
// "unknown" outside a git checkout. No LibTorch here: the client links it too.
//
//   int main(int argc, char** argv) {
//     adaptd::SetUsageConfig("adaptctl", adaptd::WithLibTorch::kNo);
//     absl::ParseCommandLine(argc, argv);  // --version prints and exits 0.
//
// Thread-safe: the values are constants.
#ifndef ADAPTD_SERVER_COMMON_VERSION_H_
#define ADAPTD_SERVER_COMMON_VERSION_H_

#include <string>

#include "absl/flags/usage_config.h"
#include "absl/strings/string_view.h"

namespace adaptd {

struct BuildInfo {
  absl::string_view version;       // CMake's PROJECT_VERSION, e.g. "0.1.0".
  absl::string_view git_commit;    // Abbreviated hash, or "unknown".
  absl::string_view build_type;    // CMAKE_BUILD_TYPE, e.g. "Release".
  absl::string_view torch_version; // The LibTorch CMake found, e.g. "1.13.0".
  bool torch_cuda = false;         // That LibTorch was built with CUDA.
};

const BuildInfo& GetBuildInfo();

enum class WithLibTorch { kNo, kYes };

// Lines such as
//   adaptd 0.1.0
//   commit: 1a2b3c4d5e6f
//   build type: Release
//   LibTorch: 1.13.0 (CPU only)
// with the LibTorch line only for kYes. Ends with a newline.
std::string VersionText(absl::string_view program, WithLibTorch torch);

// Sets Abseil's flags usage configuration to `usage` with its version_string
// replaced, so that --version prints VersionText(program, torch) instead of
// Abseil's default ("Debug build (NDEBUG not #defined)" and the like).
// Abseil resets every field left unset to its default, so a binary passes its
// whole configuration here, once, before absl::ParseCommandLine.
void SetUsageConfig(absl::string_view program, WithLibTorch torch,
                    absl::FlagsUsageConfig usage = {});

}  // namespace adaptd

#endif  // ADAPTD_SERVER_COMMON_VERSION_H_
