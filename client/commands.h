#ifndef ADAPTD_CLIENT_COMMANDS_H_
#define ADAPTD_CLIENT_COMMANDS_H_

// adaptctl's commands: each builds a request from the options and its
// arguments, makes the RPCs and prints the result as text or JSON.
//
// Example:
//   CommandOptions options;
//   options.adapter = "a1b2";
//   absl::Status status = RunCommand("get", {}, options, std::cout);

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace adaptd::client {

// The command-line flags, one field each. Commands ignore the fields that do
// not concern them.
struct CommandOptions {
  // The server address, as grpc::CreateChannel takes it.
  std::string target = "localhost:50051";
  // Print each response as JSON instead of text.
  bool json = false;
  // The deadline of each RPC.
  absl::Duration timeout = absl::Seconds(30);
  // The bearer token, sent as "authorization: Bearer <token>" metadata. The
  // first set of: this (--token), the trimmed contents of token_file
  // (--token_file), the environment variable ADAPTD_TOKEN; none: no header.
  // Never printed, nor put in an error message.
  std::string token;
  std::string token_file;
  // TLS: the CA that signed the server's certificate (PEM file); empty for
  // plaintext. With a client certificate and key, for mTLS.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // adapt: the backbone to adapt; list: only this backbone's adapters.
  std::string backbone;
  // adapt: meta, finetune or prototype; empty for the server's default.
  std::string method;
  // adapt: adaptation steps; 0 for the method's default.
  int steps = 0;
  // adapt: the adapter's time to live; zero for the server's default.
  absl::Duration ttl = absl::ZeroDuration();
  // adapt: idempotency key; empty for none.
  std::string request_id;
  // adapt: print only the adapter id, for scripts (ID=$(adaptctl adapt ...)).
  bool id_only = false;
  // predict, get, delete: the adapter id.
  std::string adapter;
  // predict: classes to report per input; 0 for all.
  int top_k = 0;
  // predict: texts to classify (a text backbone's adapter), each --text in
  // order, then each line of text_file ("-": standard input).
  std::vector<std::string> texts;
  std::string text_file;
  // list: adapters per page; 0 for the server's default.
  int page_size = 0;
  // list: fetch only the page at this token instead of every page.
  std::string page_token;

  // The names of the flags set on the command line (e.g. "top_k"). A flag
  // that belongs to other commands only is a usage error naming it and the
  // command; the flags every command takes (kGlobalFlags in commands.cc)
  // and those not adaptctl's own are not checked.
  std::vector<std::string> flags_given;
};

// The environment variable that holds the token when neither --token nor
// --token_file is given.
inline constexpr char kTokenEnvironmentVariable[] = "ADAPTD_TOKEN";

// The commands with their synopses, for usage text.
std::string CommandSummary();

// Runs `command` with its positional `args` against options.target and
// writes the result to `out`, flushed. Returns OK, a usage error (see
// IsUsageError in command_line.h), or why the command failed: the RPC's
// status, a local one such as NOT_FOUND for a missing file, or
// FlushOutput's when the result could not be written.
absl::Status RunCommand(absl::string_view command,
                        const std::vector<std::string>& args,
                        const CommandOptions& options, std::ostream& out);

// Flushes `out` and says whether everything written to it arrived: a full
// disk or a closed pipe is an error (from errno where the flush set it,
// else DATA_LOSS), since a script reading the output would get a torn one.
absl::Status FlushOutput(std::ostream& out);

}  // namespace adaptd::client

#endif  // ADAPTD_CLIENT_COMMANDS_H_
