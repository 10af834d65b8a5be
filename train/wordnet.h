// A text corpus from WordNet 3.0 (Debian's wordnet-base), for text
// few-shot tasks: each class is a subtree of the noun hierarchy (a synset
// and its hyponyms, instances included) of a bounded size, and its texts
// are its synsets' definitions ("either of two Welsh breeds of ...") and
// example sentences. Classes are grouped by the
// lexicographer file of their root (noun.animal, noun.artifact, ...: 26
// groups), so a split by group keeps whole topics out of training.
//
// Construction: from the root synset "entity" down, a synset whose subtree
// holds between min_synsets and max_synsets synsets not yet taken becomes a
// class of them; a larger one is split among its hyponyms; a smaller one is
// left out. Deterministic for the files.
//
// No LibTorch. Thread-safe.
#ifndef ADAPTD_TRAIN_WORDNET_H_
#define ADAPTD_TRAIN_WORDNET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/splits.h"

namespace adaptd::train {

inline constexpr char kWordNetDir[] = "/usr/share/wordnet";

struct WordNetOptions {
  std::string dir = kWordNetDir;  // Holds data.noun.
  int min_synsets = 10;
  int max_synsets = 40;
  // Example sentences become texts of their own.
  bool examples = true;
  // Entries start with their lemmas ("corgi, Welsh corgi: either of ...").
  // Off by default: a subtree's lemmas share its head noun ("forest fire",
  // "brush fire"), which makes the tasks a matter of word overlap.
  bool lemmas = false;
  // Only classes rooted in these lexicographer files ("noun.plant", ...);
  // empty: every file.
  std::vector<std::string> only_files;
  // Non-empty: every class in this one group, its file moved into its name
  // ("levels/noun.plant:wilding"). With fewer than 3 groups a set is all
  // meta-train, so `pretrain --extra_data` takes every class: with
  // only_files = a corpus's meta-train files and other class sizes, the
  // same subtrees' texts under coarser or finer labels.
  std::string one_group;
  SplitOptions split;
};

// NOT_FOUND without dir/data.noun; INVALID_ARGUMENT for a line that does
// not parse (naming the line) or bad options.
absl::StatusOr<Dataset> BuildWordNetCorpus(const WordNetOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_WORDNET_H_
