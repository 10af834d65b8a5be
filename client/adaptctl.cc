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
#include "server/common/version.h"

ABSL_FLAG(std::string, target, "localhost:50051",
          "adaptd's address, host:port.");
ABSL_FLAG(bool, json, false,
          "Print the response as one line of proto3 JSON instead of text.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30),
          "Deadline of each RPC, e.g. 500ms, 30s, 2m.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, sent as 'authorization: Bearer <token>'. Visible to ps and "
          "shell history: prefer --token_file or $ADAPTD_TOKEN.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token (surrounding whitespace ignored); used when "
          "--token is not given. Without either, $ADAPTD_TOKEN; without that, no token.");
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
ABSL_FLAG(bool, id_only, false,
          "adapt: print only the adapter id, e.g. for ID=$(adaptctl adapt ...).");
ABSL_FLAG(std::string, adapter, "",
          "predict, get, delete: the adapter id (required).");
ABSL_FLAG(int, top_k, 0, "predict: classes to report per input; 0 for all.");
// Read by TakeRepeatedFlag before Abseil parses the command line, as Abseil
// keeps a flag's last value only; registered for the help and the checks.
ABSL_FLAG(std::string, text, "",
          "predict: a text to classify, with a text backbone's adapter; repeat the flag "
          "for more.");
ABSL_FLAG(std::string, text_file, "",
          "predict: a file of texts to classify, one per line (\"-\": standard input); "
          "after the --text ones.");
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
(default 30s), the TLS flags, and a token: --token, else --token_file, else
the environment variable ADAPTD_TOKEN. A flag of another command is an error.
Flags may come before or after the arguments. `adaptctl help`, --help or -h
prints this help; --version prints the version and commit.

adapt asks the server for the backbone's modality, and reads SET as it says.
Image backbones: SET is a folder with one sub-folder per class; the folder's
name is the label and its PNG/JPEG files (searched recursively, sent in
sorted order) are that class's examples. Text backbones: SET is a TSV file of
<label><TAB><text> lines (blank lines skipped; "-" reads standard input) or a
folder of <label>/*.txt with one text per file, as adapt-train reads them.
predict takes image files, or directories whose images are labelled with
their parent folder's name; where those names are classes of the adapter, it
prints "accuracy: X/Y (Z%)". For a text adapter, predict takes --text
(repeatable) or --text_file with one text per line, or labelled texts as adapt
reads them (a .tsv file or a folder of <label>/*.txt), scored the same way.

load, reload and unload take a folder name of the server's model repository
(the MODEL column of `adaptctl models`, usually the backbone's name) and
print the folder's status; a folder that fails to load exits 1 with the
server's reason, and what was serving keeps serving. Tables cut fingerprints
to 12 hex digits; the status of one folder and --json give them whole.

Examples, against adaptd on the default models (./models), with demo/ made
by `make run` (demo/support/<class>/*.png, demo/query/<class>/*.png):
  adaptctl backbones
  ID=$(adaptctl adapt --backbone glyphs-conv4 --method meta --ttl 1h --id_only demo/support)
  adaptctl predict --adapter "$ID" --top_k 3 demo/query
  adaptctl predict --adapter "$ID" --json demo/query/bag/5.png demo/query/sandal/5.png
  adaptctl adapt --backbone pictures-conv4 --method prototype demo/support
  adaptctl list --backbone glyphs-conv4
  adaptctl models
  adaptctl reload glyphs-conv4
  adaptctl unload pictures-conv4
  adaptctl load pictures-conv4
  adaptctl delete --adapter "$ID"
  adaptctl --timeout 5s health
A text backbone (wordnet-text), from a TSV on standard input:
  printf 'weather\tcold rain all night\nweather\tsunny and warm\nfood\tfresh bread and butter\nfood\ta bowl of hot soup\n' |
      adaptctl adapt --backbone wordnet-text --id_only - > adapter.id
  adaptctl predict --adapter "$(cat adapter.id)" --text "snow and wind" --text "grilled cheese"

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
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.backbone = absl::GetFlag(FLAGS_backbone);
  options.method = absl::GetFlag(FLAGS_method);
  options.steps = absl::GetFlag(FLAGS_steps);
  options.ttl = absl::GetFlag(FLAGS_ttl);
  options.request_id = absl::GetFlag(FLAGS_request_id);
  options.id_only = absl::GetFlag(FLAGS_id_only);
  options.adapter = absl::GetFlag(FLAGS_adapter);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.text_file = absl::GetFlag(FLAGS_text_file);
  options.page_size = absl::GetFlag(FLAGS_page_size);
  options.page_token = absl::GetFlag(FLAGS_page_token);
  return options;
}

}  // namespace

int main(int argc, char* argv[]) {
  absl::SetProgramUsageMessage(HelpText());
  adaptd::SetUsageConfig("adaptctl", adaptd::WithLibTorch::kNo);
  if (adaptd::client::WantsHelp(argc, argv)) return PrintHelp();
  absl::StatusOr<std::vector<std::string>> texts =
      adaptd::client::TakeRepeatedFlag("text", argc, argv);
  if (!texts.ok()) return ExitWithUsageError(texts.status().message());
  absl::StatusOr<std::vector<std::string>> given = adaptd::client::CheckFlags(argc, argv);
  if (!given.ok()) return ExitWithUsageError(given.status().message());
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return ExitWithUsageError("missing command");
  if (absl::string_view(positional[1]) == "help") return PrintHelp();

  CommandOptions options = OptionsFromFlags();
  options.texts = *std::move(texts);
  options.flags_given = *std::move(given);
  if (!options.texts.empty()) options.flags_given.push_back("text");
  const std::vector<std::string> args(positional.begin() + 2, positional.end());
  absl::Status status =
      adaptd::client::RunCommand(positional[1], args, options, std::cout);
  if (adaptd::client::IsUsageError(status)) {
    return ExitWithUsageError(status.message());
  }
  if (!status.ok()) return ExitWithError(status);
  return 0;
}
