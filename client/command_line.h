#ifndef ADAPTD_CLIENT_COMMAND_LINE_H_
#define ADAPTD_CLIENT_COMMAND_LINE_H_

// Usage errors: a command line that is wrong in itself, as opposed to a
// command that ran and failed. adaptctl exits 2 on the first, 1 on the
// second.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd::client {

// An INVALID_ARGUMENT status marked as a usage error.
absl::Status UsageError(absl::string_view message);

bool IsUsageError(const absl::Status& status);

// Checks argv[1..] against the registered Abseil flags, with the syntax that
// absl::ParseCommandLine accepts (--f=v, --f v, --bool, --nobool, "--" ends
// the flags), and returns a usage error for an unknown flag, a missing value
// or a value that does not parse. It sets the flags it checks, to the values
// that absl::ParseCommandLine then sets again. A help flag
// (--help, --helpfull, --version, ...) ends the check: Abseil prints the
// help. Returns the names of the flags given, in order, "--nojson" as
// "json", so that commands can refuse flags that are not theirs.
//
// absl::ParseCommandLine exits 1 on such errors; calling this first lets
// adaptctl exit 2 with its own usage text instead.
absl::StatusOr<std::vector<std::string>> CheckFlags(int argc, char* argv[]);

// Removes every occurrence of the string flag `name` (--name=V, --name V,
// -name=V, -name V; before any "--") from argv, updating argc, and returns
// the values in order. Abseil keeps only a flag's last value; this makes a
// flag repeatable, such as predict's --text. A usage error for a missing or
// empty value.
absl::StatusOr<std::vector<std::string>> TakeRepeatedFlag(absl::string_view name, int& argc,
                                                          char* argv[]);

// True if argv[1..] asks for help as "--help", "-help" or "-h" (before any
// "--"). Abseil's own --help exits 1 and has no -h; adaptctl answers these
// itself and exits 0.
bool WantsHelp(int argc, char* argv[]);

// Help for the flags defined in files whose path ends in `file_suffix`, e.g.
// "client/adaptctl.cc": name, default and help text, sorted by name.
std::string DescribeFlags(absl::string_view file_suffix);

}  // namespace adaptd::client

#endif  // ADAPTD_CLIENT_COMMAND_LINE_H_
