// adapt-train: builds data sets, pretrains backbones and exports model
// folders for adaptd. One binary with subcommands, one file each (cmd_*.cc,
// listed in command.h); `adapt-train help` lists them and
// `adapt-train <command> --help` explains one.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "server/common/version.h"
#include "train/command.h"

namespace adaptd::train {
namespace {

std::string GeneralUsage() {
  std::string s =
      "adapt-train: data sets, backbone pretraining and model export for adaptd.\n\n"
      "usage: adapt-train <command> [flags]\n\ncommands:\n";
  for (const auto& c : AllCommands()) {
    absl::StrAppend(&s, absl::StrFormat("  %-18s %s\n", c.name, c.summary));
  }
  absl::StrAppend(&s,
                  "\n`adapt-train <command> --help` shows a command's flags, `adapt-train help all`\n"
                  "every command's; --helpfull lists every flag.\n"
                  "The default model: data glyphs -> pretrain -> export (see `make models`).\n");
  return s;
}

void PrintCommandHelp(const Command& c) {
  std::printf("usage: adapt-train %s %s\n\n%s\n", c.name, c.args, c.summary);
  if (std::strlen(c.details) > 0) std::printf("\n%s\n", c.details);
  std::printf("\nflags:\n");
  for (const char* name : c.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    std::printf("  --%s (%s)\n      default: %s\n", name, flag->Help().c_str(),
                flag->DefaultValue().empty() ? "\"\"" : flag->DefaultValue().c_str());
  }
}

// Help for the command `words` name; the general usage when they name none,
// followed by every command's help for "help all".
void PrintHelp(const std::vector<std::string>& words) {
  size_t used = 0;
  const Command* command = FindCommand(words, &used);
  if (command != nullptr) {
    PrintCommandHelp(*command);
    return;
  }
  std::printf("%s", GeneralUsage().c_str());
  if (words.empty() || words[0] != "all") return;
  for (const auto& c : AllCommands()) {
    std::printf("\n----\n");
    PrintCommandHelp(c);
  }
}

bool IsHelpFlag(absl::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpshort" ||
         arg == "-helpshort" || arg == "help";
}

}  // namespace
}  // namespace adaptd::train

int main(int argc, char** argv) {
  using namespace adaptd::train;
  absl::SetProgramUsageMessage(GeneralUsage());
  adaptd::SetUsageConfig("adapt-train", adaptd::WithLibTorch::kYes);
  // Help is per command, so it is handled before absl's --help would print
  // every flag of every command.
  bool help = false;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    if (IsHelpFlag(argv[i])) {
      help = true;
    } else if (argv[i][0] != '-') {
      words.push_back(argv[i]);
    }
  }
  if (help) {
    PrintHelp(words);
    return 0;
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  size_t used = 0;
  const Command* command = FindCommand(args, &used);
  if (command == nullptr) {
    std::fprintf(stderr, "%s%s\n", GeneralUsage().c_str(),
                 args.empty() ? "error: no command given"
                              : absl::StrCat("error: unknown command \"", absl::StrJoin(args, " "),
                                             "\"")
                                    .c_str());
    return 2;
  }
  args.erase(args.begin(), args.begin() + used);
  const absl::Status status = command->run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "adapt-train %s: %s\n", command->name, status.ToString().c_str());
    return 1;
  }
  return 0;
}
