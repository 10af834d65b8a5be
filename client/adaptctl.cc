// adaptctl: the command-line client for adaptd. See kDetails below, or run
// `adaptctl --help`.

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/command_line.h"
#include "client/commands.h"

ABSL_FLAG(std::string, target, "localhost:50051",
          "adaptd's address, host:port.");
ABSL_FLAG(bool, json, false,
          "Print the response as one line of proto3 JSON instead of text.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30),
          "Deadline of each RPC, e.g. 500ms, 30s, 2m.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, sent as 'authorization: Bearer <token>' when set.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the CA that signed adaptd's certificate; empty for plaintext.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for mTLS (with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, backbone, "",
          "adapt: the backbone to adapt (required). list: only its adapters.");
ABSL_FLAG(std::string, method, "",
          "adapt: meta, finetune or prototype; empty for the server's "
          "default.");
ABSL_FLAG(int, steps, 0,
          "adapt: adaptation steps; 0 for the method's default.");
ABSL_FLAG(absl::Duration, ttl, absl::ZeroDuration(),
          "adapt: the adapter's time to live, e.g. 1h; 0 for the server's "
          "default.");
ABSL_FLAG(std::string, request_id, "",
          "adapt: idempotency key; repeating it returns the same adapter.");
ABSL_FLAG(std::string, adapter, "",
          "predict, get, delete: the adapter id (required).");
ABSL_FLAG(int, top_k, 0, "predict: classes to report per input; 0 for all.");
ABSL_FLAG(int, page_size, 0,
          "list: adapters per request; 0 for the server's default.");
ABSL_FLAG(std::string, page_token, "",
          "list: fetch only the page at this token instead of every page.");

namespace {

using adaptd::client::CommandOptions;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kIntro[] =
    "the command-line client for adaptd, the few-shot adaptation server.\n\n"
    "Usage: adaptctl <command> [flags] [arguments]\n\n";

constexpr char kDetails[] = R"text(
Every command takes --target (default localhost:50051), --json, --timeout
(default 30s) and --token. Flags may come before or after the arguments.
`adaptctl help`, --help or -h prints this help.

adapt reads DIR as one sub-folder per class: the folder's name is the label
and its PNG/JPEG files (searched recursively, sent in sorted order) are that
class's examples. predict takes image files, or directories whose images are
labelled with their parent folder's name; where those names are classes of
the adapter, it prints "accuracy: X/Y (Z%)".

Examples:
  adaptctl backbones
  adaptctl adapt --backbone glyph-cnn --method meta --ttl 1h support/
      (support/coat/*.png, support/dress/*.png, ...)
  adaptctl predict --adapter 9b1f0c2e --top_k 3 query/
  adaptctl predict --adapter 9b1f0c2e --json shirt.png boot.jpg
  adaptctl list --backbone glyph-cnn
  adaptctl delete --adapter 9b1f0c2e
  adaptctl --target adaptd.internal:50051 --token "$TOKEN" health

Errors go to stderr as "error: <CODE>: <message>". Exit status: 0 on
success; 1 when an RPC fails, a file cannot be read or the server is not
SERVING; 2 for a usage error.
)text";

std::string HelpText() {
  return absl::StrCat(kIntro, adaptd::client::CommandSummary(), kDetails);
}

// What --help, -h and the help command print: all but the "adaptctl: " that
// Abseil puts before a usage message.
std::string FullHelp() {
  return absl::StrCat("adaptctl: ", HelpText(), "\nFlags:\n",
                      adaptd::client::DescribeFlags("client/adaptctl.cc"));
}

int ExitWithError(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return kExitFailure;
}

int PrintHelp() {
  std::cout << FullHelp();
  absl::Status written = adaptd::client::FlushOutput(std::cout);
  return written.ok() ? 0 : ExitWithError(written);
}

int ExitWithUsageError(absl::string_view message) {
  std::cerr << "error: " << message << "\n\n"
            << adaptd::client::CommandSummary()
            << "\nRun 'adaptctl --help' for flags and examples.\n";
  return kExitUsage;
}

CommandOptions OptionsFromFlags() {
  CommandOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.token = absl::GetFlag(FLAGS_token);
  options.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.backbone = absl::GetFlag(FLAGS_backbone);
  options.method = absl::GetFlag(FLAGS_method);
  options.steps = absl::GetFlag(FLAGS_steps);
  options.ttl = absl::GetFlag(FLAGS_ttl);
  options.request_id = absl::GetFlag(FLAGS_request_id);
  options.adapter = absl::GetFlag(FLAGS_adapter);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.page_size = absl::GetFlag(FLAGS_page_size);
  options.page_token = absl::GetFlag(FLAGS_page_token);
  return options;
}

}  // namespace

int main(int argc, char* argv[]) {
  absl::SetProgramUsageMessage(HelpText());
  if (adaptd::client::WantsHelp(argc, argv)) return PrintHelp();
  absl::Status flags = adaptd::client::CheckFlags(argc, argv);
  if (!flags.ok()) return ExitWithUsageError(flags.message());
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return ExitWithUsageError("missing command");
  if (absl::string_view(positional[1]) == "help") return PrintHelp();

  const std::vector<std::string> args(positional.begin() + 2, positional.end());
  absl::Status status = adaptd::client::RunCommand(
      positional[1], args, OptionsFromFlags(), std::cout);
  if (adaptd::client::IsUsageError(status)) {
    return ExitWithUsageError(status.message());
  }
  if (!status.ok()) return ExitWithError(status);
  return 0;
}
