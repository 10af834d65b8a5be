// adapt-train's subcommands. Each command file (cmd_*.cc) defines the flags
// only it reads and its Command: the name, what help says about it, the
// flags it reads and the function that runs it. AllCommands() lists them in
// the order help shows them; main.cc dispatches and prints help.
#ifndef ADAPTD_TRAIN_COMMAND_H_
#define ADAPTD_TRAIN_COMMAND_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace adaptd::train {

struct Command {
  const char* name;     // One or two words: "pretrain", "data glyphs".
  const char* args;     // What follows the name on the usage line.
  const char* summary;  // One line, in the command list.
  const char* details;  // More, for `<command> --help`; "" for none.
  // The flags the command reads, in the order its help lists them.
  std::vector<const char*> flags;
  // Runs the command on the positional arguments after its name. Called
  // once, on the main thread, after the flags are parsed.
  absl::Status (*run)(const std::vector<std::string>& args);
};

// The commands, by file.
Command DataGlyphsCommand();       // cmd_data.cc
Command DataOmniglotCommand();     // cmd_data.cc
Command DataFoldersCommand();      // cmd_data.cc
Command DataClipartCommand();      // cmd_data.cc
Command DataEmojiCommand();        // cmd_data.cc
Command DataWordNetCommand();      // cmd_data.cc
Command DataDebianPackagesCommand();  // cmd_data.cc
Command DataFortunesCommand();        // cmd_data.cc
Command DataDictionaryCommand();      // cmd_data.cc
Command TextBaselineCommand();     // cmd_text_baseline.cc
Command VocabCommand();            // cmd_vocab.cc
Command ChooseDefaultCommand();    // cmd_choose_default.cc
Command DataInfoCommand();         // cmd_data.cc
Command DataPreviewCommand();      // cmd_data.cc
Command FashionMnistPngCommand();  // cmd_fashion_png.cc
Command TextExamplesCommand();     // cmd_text_examples.cc
Command PretrainCommand();         // cmd_pretrain.cc
Command ExportCommand();           // cmd_export.cc
Command ImportCommand();           // cmd_import.cc
Command ProtoEvalCommand();        // cmd_proto_eval.cc
Command TuneFinetuneCommand();     // cmd_tune_finetune.cc
Command MetaTrainCommand();        // cmd_metatrain.cc
Command EvalCommand();             // cmd_eval.cc

// Every command, in help order.
const std::vector<Command>& AllCommands();

// The command named by the first two words of `words`, else by the first
// one; *used is set to the number of words its name took. Null when none.
const Command* FindCommand(const std::vector<std::string>& words, size_t* used);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_COMMAND_H_
