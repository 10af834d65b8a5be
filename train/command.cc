#include "train/command.h"

#include "absl/strings/str_join.h"

namespace adaptd::train {

const std::vector<Command>& AllCommands() {
  static const auto* commands = new std::vector<Command>{
      DataGlyphsCommand(),
      DataOmniglotCommand(),
      DataFoldersCommand(),
      DataClipartCommand(),
      DataEmojiCommand(),
      DataWordNetCommand(),
      DataDebianPackagesCommand(),
      DataFortunesCommand(),
      DataDictionaryCommand(),
      VocabCommand(),
      DataInfoCommand(),
      DataPreviewCommand(),
      FashionMnistPngCommand(),
      TextExamplesCommand(),
      PretrainCommand(),
      ExportCommand(),
      ImportCommand(),
      ProtoEvalCommand(),
      TuneFinetuneCommand(),
      MetaTrainCommand(),
      EvalCommand(),
      ChooseDefaultCommand(),
      TextBaselineCommand(),
  };
  return *commands;
}

const Command* FindCommand(const std::vector<std::string>& words, size_t* used) {
  for (size_t n : {size_t{2}, size_t{1}}) {
    if (words.size() < n) continue;
    const std::string name = absl::StrJoin(words.begin(), words.begin() + n, " ");
    for (const auto& c : AllCommands()) {
      if (name == c.name) {
        *used = n;
        return &c;
      }
    }
  }
  return nullptr;
}

}  // namespace adaptd::train
