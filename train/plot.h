// A small line plot written as PNG: axes, ticks, labels (FreeType, Noto
// Sans) and one coloured line per series. No LibTorch.
#ifndef ADAPTD_TRAIN_PLOT_H_
#define ADAPTD_TRAIN_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace adaptd::train {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
};

// X values are placed evenly by rank (steps 0,1,2,5,10,50 stay readable);
// the y range fits the data. INVALID_ARGUMENT for no data.
absl::Status WriteLinePlot(const std::string& path, const std::string& title,
                           const std::string& x_label, const std::string& y_label,
                           const std::vector<PlotSeries>& series,
                           const std::string& font = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf");

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_PLOT_H_
