#include "tests/test_util/adaptd_process.h"

#include <signal.h>

#include <filesystem>
#include <regex>

#include "absl/strings/str_cat.h"

namespace adaptd::testing {

absl::StatusOr<std::unique_ptr<AdaptdProcess>> AdaptdProcess::Start(
    const std::string& binary, const std::vector<std::string>& flags, const std::string& log) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::filesystem::remove(log);
  auto process = Subprocess::Start(argv, log);
  if (!process.ok()) return process.status();
  std::unique_ptr<AdaptdProcess> adaptd(new AdaptdProcess());
  adaptd->process_ = *std::move(process);
  const std::regex serving("serving on port ([0-9]+)");
  std::smatch match;
  std::string text;
  WaitFor(
      [&] {
        text = ReadWholeFile(log);
        return std::regex_search(text, match, serving) || !adaptd->process_->Running();
      },
      absl::Seconds(120));
  if (!std::regex_search(text, match, serving)) {
    if (text.find("adapter_store") != std::string::npos &&
        text.find("nknown command line flag") != std::string::npos) {
      return absl::NotFoundError("adaptd has no --adapter_store flag (server/main.cc)");
    }
    return absl::UnavailableError(absl::StrCat("adaptd did not start:\n", text));
  }
  adaptd->channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", match[1].str()),
                                         grpc::InsecureChannelCredentials());
  adaptd->stub_ = v1::AdaptationService::NewStub(adaptd->channel_);
  return adaptd;
}

}  // namespace adaptd::testing
