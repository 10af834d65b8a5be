#include "client/command_line.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace adaptd::client {
namespace {

constexpr absl::string_view kUsagePayload = "adaptd.v1/adaptctl.UsageError";

// The flags that make absl::ParseCommandLine print help and exit.
bool IsUsageFlag(absl::string_view name) {
  for (absl::string_view usage :
       {"help", "helpfull", "helpshort", "helppackage", "helpon", "helpmatch",
        "version", "only_check_args"}) {
    if (name == usage) return true;
  }
  return false;
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord());
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

absl::StatusOr<std::vector<std::string>> CheckFlags(int argc, char* argv[]) {
  std::vector<std::string> given;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;  // A positional argument.
    if (!absl::ConsumePrefix(&arg, "--")) arg.remove_prefix(1);

    const size_t equals = arg.find('=');
    const bool has_value = equals != absl::string_view::npos;
    absl::string_view name = arg.substr(0, equals);
    absl::string_view value = has_value ? arg.substr(equals + 1) : "";

    // Abseil handles these itself; they are not registered flags.
    if (IsUsageFlag(name)) return given;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && !has_value) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        given.emplace_back(name.substr(2));
        continue;
      }
    }
    if (flag == nullptr) {
      return UsageError(absl::StrCat("unknown flag --", name));
    }
    given.emplace_back(name);
    if (!has_value) {
      if (flag->IsOfType<bool>()) continue;
      if (i + 1 == argc) {
        return UsageError(absl::StrCat("missing a value for --", name));
      }
      value = argv[++i];
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return UsageError(absl::StrCat("--", name, ": ", error));
    }
  }
  return given;
}

absl::StatusOr<std::vector<std::string>> TakeRepeatedFlag(absl::string_view name, int& argc,
                                                          char* argv[]) {
  std::vector<std::string> values;
  int kept = 1;
  int i = 1;
  for (; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    absl::string_view rest = arg;
    if (!absl::ConsumePrefix(&rest, "--") && !absl::ConsumePrefix(&rest, "-")) {
      argv[kept++] = argv[i];
      continue;
    }
    if (rest == name) {
      if (i + 1 == argc) return UsageError(absl::StrCat("missing a value for --", name));
      rest = argv[++i];
    } else if (!absl::ConsumePrefix(&rest, name) || !absl::ConsumePrefix(&rest, "=")) {
      argv[kept++] = argv[i];  // Another flag, such as --text_file.
      continue;
    }
    if (absl::StripAsciiWhitespace(rest).empty()) {
      return UsageError(absl::StrCat("--", name, ": empty value"));
    }
    values.emplace_back(rest);
  }
  for (; i < argc; ++i) argv[kept++] = argv[i];
  if (kept < argc) argv[kept] = nullptr;  // argv stays null-terminated.
  argc = kept;
  return values;
}

bool WantsHelp(int argc, char* argv[]) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h") return true;
  }
  return false;
}

std::string DescribeFlags(absl::string_view file_suffix) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), file_suffix)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::string text;
  for (const absl::CommandLineFlag* flag : flags) {
    std::string default_value = flag->DefaultValue();
    if (default_value.empty()) default_value = "\"\"";
    absl::StrAppend(&text, "  --", flag->Name(), " (default ", default_value,
                    ")\n      ", flag->Help(), "\n");
  }
  return text;
}

}  // namespace adaptd::client
