// adapt-train vocab: a SentencePiece vocabulary for a text set, trained in
// process on its meta-train texts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/text/sentencepiece_tokenizer.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/data_cache.h"
#include "train/dictionary.h"
#include "train/flags.h"
#include "train/splits.h"
#include "train/vocab.h"

ABSL_FLAG(int, vocab_size, 8000, "vocab: pieces in the model, the 5 specials included.");
ABSL_FLAG(std::string, model_type, "unigram", "vocab: unigram or bpe.");
ABSL_FLAG(double, character_coverage, 0.9995,
          "vocab: share of characters the pieces cover; rarer ones become [UNK].");
ABSL_FLAG(std::string, normalization, "nmt_nfkc",
          "vocab: SentencePiece's normalization: nmt_nfkc, nmt_nfkc_cf (case-folded), nfkc, "
          "nfkc_cf or identity.");
ABSL_FLAG(bool, all_splits, false,
          "vocab: train on every text of --data, not only its meta-train classes.");

namespace adaptd::train {
namespace {

// --data as a text set: a .tsv, a folder of <label>/*.txt, or a data cache.
absl::StatusOr<Dataset> TextSet(const std::string& spec) {
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(spec));
  if (data.modality != Modality::kText) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", spec, " is not a text set"));
  }
  return data;
}

absl::StatusOr<VocabOptions> OptionsFromFlags() {
  VocabOptions o;
  o.vocab_size = absl::GetFlag(FLAGS_vocab_size);
  o.model_type = absl::GetFlag(FLAGS_model_type);
  o.character_coverage = absl::GetFlag(FLAGS_character_coverage);
  o.normalization = absl::GetFlag(FLAGS_normalization);
  o.seed = absl::GetFlag(FLAGS_seed);
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0) {
    return absl::InvalidArgumentError(absl::StrCat("threads: must be 0 or more, got ", threads));
  }
  o.threads = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  return o;
}

void PrintStats(const char* what, const VocabStats& s) {
  std::printf("  %s: %lld texts, %.1f pieces per text, [UNK] %.3f%% of pieces\n", what,
              static_cast<long long>(s.texts), s.pieces_per_text, 100 * s.unknown_fraction);
}

absl::Status RunVocab(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(const VocabOptions o, OptionsFromFlags());
  const std::string spec = absl::GetFlag(FLAGS_data);
  ASSIGN_OR_RETURN(const Dataset data, TextSet(spec));
  const bool all = absl::GetFlag(FLAGS_all_splits) || data.group_splits.empty();
  const Dataset train = all ? data : SplitClasses(data, Split::kTrain);
  const Dataset val = all ? Dataset() : SplitClasses(data, Split::kVal);
  std::string out = OutOr("data/spm");
  if (absl::EndsWith(out, ".model")) out.resize(out.size() - 6);
  const std::string path = absl::StrCat(out, ".model");

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> texts = train.texts;
  const std::string corpus = absl::GetFlag(FLAGS_corpus);
  if (!corpus.empty()) {
    ASSIGN_OR_RETURN(const std::vector<std::string> lines, ReadCorpus(corpus));
    texts.insert(texts.end(), lines.begin(), lines.end());
  }
  ASSIGN_OR_RETURN(const std::string model, TrainVocab(texts, o));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  RETURN_IF_ERROR(WriteFileAtomically(path, model));
  ASSIGN_OR_RETURN(auto tokenizer, engine::SentencePieceTokenizer::CreateFromModel(model, path));

  std::printf("wrote %s: %s, %d pieces, from %lld %s texts of %d classes%s in %.1f s (seed %llu)\n",
              path.c_str(), o.model_type.c_str(), tokenizer->vocab_size(),
              static_cast<long long>(train.size()), all ? "" : "meta-train", train.num_classes(),
              corpus.empty()
                  ? ""
                  : absl::StrFormat(" and %zu lines of %s", texts.size() - train.size(), corpus)
                        .c_str(),
              seconds, static_cast<unsigned long long>(o.seed));
  ASSIGN_OR_RETURN(const VocabStats train_stats, MeasureVocab(*tokenizer, train.texts));
  PrintStats("meta-train", train_stats);
  if (val.size() > 0) {
    ASSIGN_OR_RETURN(const VocabStats val_stats, MeasureVocab(*tokenizer, val.texts));
    PrintStats("meta-val  ", val_stats);
  }
  const std::string& example = val.size() > 0 ? val.texts[0] : train.texts[0];
  ASSIGN_OR_RETURN(const std::vector<int32_t> ids, tokenizer->Tokenize(example));
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(tokenizer->Token(id));
  std::printf("  e.g. \"%s\"\n    -> %s\n", example.c_str(), absl::StrJoin(pieces, " ").c_str());
  return absl::OkStatus();
}

}  // namespace

Command VocabCommand() {
  return {"vocab", "--data FILE.tsv|DIR|CACHE [--vocab_size 8000] [--out data/spm]",
          "Train a SentencePiece vocabulary (OUT.model) on a text set's meta-train texts.",
          "Trains in process with SentencePiece (Debian's libsentencepiece) on the texts of\n"
          "--data's meta-train classes (every text with --all_splits, or when --data has no\n"
          "split), so that meta-val and meta-test text never shapes the vocabulary. The model\n"
          "has [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3 and [MASK]=4, as the text encoders expect;\n"
          "pretrain --tokenizer OUT.model uses it and export copies it into the model folder.\n"
          "The same data, flags, --seed and --threads give the same model. Prints the pieces\n"
          "per text and the [UNK] rate on meta-train and meta-val, and an example.\n"
          "  adapt-train data wordnet --out data/wordnet.tsv\n"
          "  adapt-train vocab --data data/wordnet.tsv --vocab_size 8000 --out data/wordnet-spm\n"
          "--corpus FILE adds unlabelled lines (`data dictionary`'s definitions) to train on.",
          {"data", "corpus", "out", "vocab_size", "model_type", "character_coverage",
           "normalization",
           "all_splits", "seed", "threads"},
          RunVocab};
}

}  // namespace adaptd::train
