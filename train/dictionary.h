// Unlabelled English text from a dictd dictionary: Debian's dict-gcide (the
// Collaborative International Dictionary of English, Webster's 1913 with
// additions). A text model learns from it without labels: the SentencePiece
// vocabulary (vocab --corpus) and the token vectors of the text encoder's
// semantic branch (pretrain --corpus), which place words used in the same
// definitions near each other.
//
// One text per headword: the headword and all its entries' definitions,
// with pronunciations (\...\) and bracketed notes (sources, etymologies)
// taken out and whitespace collapsed. Paragraphs the dictionary took from
// WordNet ("[WordNet 1.5]") are left out, so that none of WordNet's
// glosses, on which the default text model is evaluated, enter this way.
// Headwords in first-seen order; deterministic for the file.
//
//   ASSIGN_OR_RETURN(std::vector<std::string> texts, ReadDictionaryTexts(kGcideDict));
//
// No LibTorch. Thread-safe.
#ifndef ADAPTD_TRAIN_DICTIONARY_H_
#define ADAPTD_TRAIN_DICTIONARY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace adaptd::train {

inline constexpr char kGcideDict[] = "/usr/share/dictd/gcide.dict.dz";

// Reads a dictd .dict or .dict.dz file. NOT_FOUND for a missing file (the
// message names the package to install for the default one), DATA_LOSS for
// a damaged one, INVALID_ARGUMENT when it holds no entry.
absl::StatusOr<std::vector<std::string>> ReadDictionaryTexts(const std::string& path);

// Texts, one per line, from a file that WriteLines wrote (or any UTF-8 text
// file; blank lines are skipped). NOT_FOUND when it cannot be read,
// INVALID_ARGUMENT when it holds no text.
absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path);
absl::Status WriteLines(const std::vector<std::string>& texts, const std::string& path);

// ReadLines of a --corpus file, its errors starting "corpus: ".
absl::StatusOr<std::vector<std::string>> ReadCorpus(const std::string& path);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_DICTIONARY_H_
