// Colour emoji exemplar classes (exemplars.h): every emoji of a colour
// bitmap font (Debian's fonts-noto-color-emoji) becomes one class of
// randomly warped renders. Groups are runs of 64 code points within a
// Unicode block ("pictographs/1F400": animals), so related emoji share a
// split.
//
// Keycaps, flags' regional indicators, skin-tone modifiers and joiners are
// left out: alone they are not pictures.
//
// Deterministic for a seed and the font. No LibTorch.
#ifndef ADAPTD_TRAIN_EMOJI_H_
#define ADAPTD_TRAIN_EMOJI_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/exemplars.h"

namespace adaptd::train {

inline constexpr char kEmojiFont[] = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

struct EmojiOptions {
  std::string font = kEmojiFont;
  ExemplarOptions render;
};

// NOT_FOUND when the font is missing; INVALID_ARGUMENT when it has no
// colour bitmaps.
absl::StatusOr<Dataset> RenderEmoji(const EmojiOptions& options, int* skipped,
                                    const std::function<void(int done, int total)>& progress);

// The options and the font file's size, for the cache's up-to-date check.
std::string EmojiFingerprint(const EmojiOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_EMOJI_H_
