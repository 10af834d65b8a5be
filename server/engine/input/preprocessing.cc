#include "server/engine/input/preprocessing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace adaptd::engine {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("preprocessing.", field, ": ", message));
}

}  // namespace

absl::StatusOr<Preprocessing> PreprocessingFromProto(const v1::Preprocessing& proto,
                                                     const std::vector<int64_t>& shape) {
  if (shape.size() != 3) return Invalid("shape", "the input shape is not [C,H,W]");
  Preprocessing pre;
  pre.channels = static_cast<int>(shape[0]);
  pre.resize_height = static_cast<int>(shape[1]);
  pre.resize_width = static_cast<int>(shape[2]);
  if ((proto.mean_size() != 0 && proto.mean_size() != pre.channels) ||
      (proto.std_size() != 0 && proto.std_size() != pre.channels)) {
    return Invalid("mean",
                   absl::StrCat("mean and std need one value per channel (", pre.channels, ")"));
  }
  for (float s : proto.std()) {
    if (!(s > 0)) return Invalid("std", "must be positive");
  }
  pre.mean.assign(proto.mean().begin(), proto.mean().end());
  pre.std.assign(proto.std().begin(), proto.std().end());
  if (proto.resize_mode() == "shorter_side") {
    pre.resize_mode = Preprocessing::ResizeMode::kShorterSide;
  } else if (!proto.resize_mode().empty() && proto.resize_mode() != "stretch") {
    return Invalid("resize_mode", absl::StrCat("unknown mode \"", proto.resize_mode(),
                                               "\"; use stretch or shorter_side"));
  }
  if (proto.resize_shorter_side() < 0 || proto.resize_shorter_side() > 4096) {
    return Invalid("resize_shorter_side", "must be in [0, 4096]");
  }
  pre.resize_shorter_side = proto.resize_shorter_side();
  if (pre.resize_shorter_side == 0) {
    pre.resize_shorter_side = std::min(pre.resize_height, pre.resize_width);
  }
  if (!proto.interpolation().empty() && proto.interpolation() != "bilinear") {
    return Invalid("interpolation", absl::StrCat("unknown interpolation \"", proto.interpolation(),
                                                 "\"; use bilinear"));
  }
  if (proto.background_size() != 0 && proto.background_size() != 3) {
    return Invalid("background", "needs 3 values (R, G, B)");
  }
  for (int c = 0; c < proto.background_size(); ++c) {
    const int v = proto.background(c);
    if (v < 0 || v > 255) return Invalid("background", "values must be in [0, 255]");
    pre.background[c] = static_cast<uint8_t>(v);
  }
  return pre;
}

void PreprocessingToProto(const Preprocessing& pre, v1::Preprocessing* proto) {
  proto->set_resize_height(pre.resize_height);
  proto->set_resize_width(pre.resize_width);
  proto->set_channels(pre.channels);
  proto->clear_mean();
  proto->clear_std();
  for (float m : pre.mean) proto->add_mean(m);
  for (float s : pre.std) proto->add_std(s);
  const bool crop = pre.resize_mode == Preprocessing::ResizeMode::kShorterSide;
  proto->set_resize_mode(crop ? "shorter_side" : "stretch");
  proto->set_resize_shorter_side(crop ? pre.resize_shorter_side : 0);
  proto->set_interpolation("bilinear");
  proto->clear_background();
  for (uint8_t v : pre.background) proto->add_background(v);
}

}  // namespace adaptd::engine
