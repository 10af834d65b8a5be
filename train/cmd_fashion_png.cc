// adapt-train fashion-mnist-png: Fashion-MNIST test images as class folders
// of PNGs, for demos.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "train/command.h"
#include "train/flags.h"
#include "train/loaders.h"
#include "train/png_out.h"

ABSL_FLAG(std::string, classes, "t-shirt,trouser,sandal,bag,ankle-boot", "Comma-separated Fashion-MNIST class names (or 'all').");
ABSL_FLAG(int, per_class, 5, "PNGs written per class.");
ABSL_FLAG(int, offset, 0, "Skip this many test images of each class first (so support and query sets differ).");

namespace adaptd::train {
namespace {

absl::Status RunFashionMnistPng(const std::vector<std::string>&) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return absl::InvalidArgumentError("--out: required (a folder)");
  const int per_class = absl::GetFlag(FLAGS_per_class);
  const int offset = absl::GetFlag(FLAGS_offset);
  ASSIGN_OR_RETURN(Dataset data, LoadFashionMnist(absl::GetFlag(FLAGS_fashion_dir), /*test_split=*/true));
  const std::string classes = absl::GetFlag(FLAGS_classes);
  const std::vector<std::string> names =
      classes == "all" ? FashionMnistClassNames()
                       : std::vector<std::string>(absl::StrSplit(classes, ',', absl::SkipWhitespace()));
  RETURN_IF_ERROR(WriteClassPngs(data, names, per_class, offset, out));
  std::printf("wrote %d PNGs for each of %zu classes under %s (test images %d..%d of each class)\n",
              per_class, names.size(), out.c_str(), offset, offset + per_class - 1);
  return absl::OkStatus();
}

}  // namespace

Command FashionMnistPngCommand() {
  return {"fashion-mnist-png", "--out DIR",
          "Write Fashion-MNIST test images as DIR/<class>/<i>.png (for demos).",
          "Images come from the TEST split, in file order; --offset picks later ones, so\n"
          "  adapt-train fashion-mnist-png --out demo/support --per_class 5\n"
          "  adapt-train fashion-mnist-png --out demo/query --per_class 20 --offset 5\n"
          "give disjoint support and query sets. Never train on these.",
          {"out", "classes", "per_class", "offset", "fashion_dir"}, RunFashionMnistPng};
}

}  // namespace adaptd::train
