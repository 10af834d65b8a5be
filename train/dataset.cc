#include "train/dataset.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace adaptd::train {

std::string ShapeText(const ImageShape& shape) {
  return absl::StrCat(shape.channels, "x", shape.height, "x", shape.width,
                      shape.channels == 1 ? " grey" : " RGB");
}

const char* SplitName(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kVal:
      return "val";
    case Split::kTest:
      return "test";
    case Split::kUnassigned:
      break;
  }
  return "unassigned";
}

int32_t Dataset::AddGroup(std::string name) {
  group_names.push_back(std::move(name));
  if (!group_splits.empty()) group_splits.push_back(Split::kUnassigned);
  return num_groups() - 1;
}

int32_t Dataset::AddClass(std::string name, int32_t group) {
  class_names.push_back(std::move(name));
  class_groups.push_back(group);
  return num_classes() - 1;
}

void Dataset::AddImage(int32_t label, const uint8_t* image) {
  labels.push_back(label);
  pixels.insert(pixels.end(), image, image + shape.bytes());
}

void Dataset::AddText(int32_t label, std::string text) {
  labels.push_back(label);
  texts.push_back(std::move(text));
}

void Dataset::AddItemOf(const Dataset& from, int64_t i, int32_t label) {
  if (modality == Modality::kText) {
    AddText(label, from.texts[i]);
  } else {
    AddImage(label, from.image(i));
  }
}

std::vector<std::vector<int64_t>> Dataset::IndicesByClass() const {
  std::vector<std::vector<int64_t>> by_class(class_names.size());
  for (int64_t i = 0; i < size(); ++i) by_class[labels[i]].push_back(i);
  return by_class;
}

absl::Status Dataset::Validate() const {
  if (modality == Modality::kText) {
    if (texts.size() != labels.size() || !pixels.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset: ", texts.size(), " texts and ",
                                                     pixels.size(), " pixel bytes for ",
                                                     labels.size(), " text items"));
    }
  } else if (static_cast<int64_t>(pixels.size()) !=
                 static_cast<int64_t>(labels.size()) * shape.bytes() ||
             !texts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("dataset: ", pixels.size(), " pixel bytes for ",
                                                   labels.size(), " images"));
  }
  if (class_groups.size() != class_names.size()) {
    return absl::InvalidArgumentError("dataset: class_groups and class_names differ in length");
  }
  if (!group_splits.empty() && group_splits.size() != group_names.size()) {
    return absl::InvalidArgumentError("dataset: group_splits and group_names differ in length");
  }
  for (int32_t g : class_groups) {
    if (g < 0 || g >= num_groups()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset: class group ", g, " out of range"));
    }
  }
  for (int32_t l : labels) {
    if (l < 0 || l >= num_classes()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset: label ", l, " out of range"));
    }
  }
  return absl::OkStatus();
}

Dataset GroupsAsClasses(const Dataset& data) {
  std::vector<int64_t> first(data.num_classes(), -1);
  for (int64_t i = data.size() - 1; i >= 0; --i) first[data.labels[i]] = i;
  std::vector<std::vector<int64_t>> images(data.num_groups());
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    if (first[c] >= 0) images[data.class_groups[c]].push_back(first[c]);
  }
  Dataset out;
  out.modality = data.modality;
  out.shape = data.shape;
  for (int32_t g = 0; g < data.num_groups(); ++g) {
    if (images[g].empty()) continue;
    const int32_t group = out.AddGroup(data.group_names[g]);
    if (!data.group_splits.empty()) {
      out.group_splits.resize(out.num_groups());  // AddGroup extends it once it is in use.
      out.group_splits[group] = data.group_splits[g];
    }
    const int32_t label = out.AddClass(data.group_names[g], group);
    for (int64_t i : images[g]) out.AddItemOf(data, i, label);
  }
  return out;
}

Dataset SelectClasses(const Dataset& data, const std::vector<int32_t>& classes) {
  Dataset out;
  out.modality = data.modality;
  out.shape = data.shape;
  std::vector<int32_t> class_map(data.num_classes(), -1);
  std::vector<int32_t> group_map(data.num_groups(), -1);
  const bool has_splits = !data.group_splits.empty();
  if (has_splits) out.group_splits.reserve(data.num_groups());
  for (int32_t c : classes) {
    const int32_t g = data.class_groups[c];
    if (group_map[g] < 0) {
      group_map[g] = out.num_groups();
      out.group_names.push_back(data.group_names[g]);
      if (has_splits) out.group_splits.push_back(data.group_splits[g]);
    }
    class_map[c] = out.AddClass(data.class_names[c], group_map[g]);
  }
  for (int64_t i = 0; i < data.size(); ++i) {
    const int32_t c = class_map[data.labels[i]];
    if (c >= 0) out.AddItemOf(data, i, c);
  }
  return out;
}

absl::Status AppendDataset(Dataset part, Dataset* merged) {
  if (merged->size() == 0 && merged->num_classes() == 0) {
    merged->modality = part.modality;
    merged->shape = part.shape;
  }
  if (part.modality != merged->modality) {
    return absl::InvalidArgumentError("cannot merge texts and images into one data set");
  }
  if (part.modality == Modality::kImage && part.shape != merged->shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge images of ", ShapeText(part.shape), " into a data set of ",
        ShapeText(merged->shape)));
  }
  const bool keep_splits = (merged->num_groups() == 0 || !merged->group_splits.empty()) &&
                           (part.num_groups() == 0 || !part.group_splits.empty());
  const int32_t group_base = merged->num_groups(), class_base = merged->num_classes();
  for (auto& g : part.group_names) merged->group_names.push_back(std::move(g));
  if (keep_splits) {
    merged->group_splits.insert(merged->group_splits.end(), part.group_splits.begin(),
                                part.group_splits.end());
  } else {
    merged->group_splits.clear();
  }
  for (int32_t c = 0; c < part.num_classes(); ++c) {
    merged->AddClass(std::move(part.class_names[c]), group_base + part.class_groups[c]);
  }
  merged->labels.reserve(merged->labels.size() + part.labels.size());
  for (int32_t label : part.labels) merged->labels.push_back(class_base + label);
  merged->pixels.insert(merged->pixels.end(), part.pixels.begin(), part.pixels.end());
  for (auto& t : part.texts) merged->texts.push_back(std::move(t));
  return absl::OkStatus();
}

}  // namespace adaptd::train
