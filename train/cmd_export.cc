// adapt-train export: a model repository folder adaptd loads.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/export.h"
#include "train/flags.h"

ABSL_FLAG(std::string, default_method, "",
          "The method adaptd uses when a request names none: prototype, finetune or meta "
          "(choose-default's `default:`); empty: META with a meta-learner, else PROTOTYPE.");
ABSL_FLAG(std::string, default_reason, "", "Why (choose-default's `reason:`), shown by ListBackbones.");
ABSL_FLAG(std::string, weights, "data/pretrain-conv4/backbone.pt", "Backbone weights written by pretrain.");

namespace adaptd::train {
namespace {

absl::Status RunExport(const std::vector<std::string>&) {
  ExportOptions o;
  o.arch = absl::GetFlag(FLAGS_arch);
  o.weights = absl::GetFlag(FLAGS_weights);
  o.meta_learner = absl::GetFlag(FLAGS_meta_learner);
  o.name = absl::GetFlag(FLAGS_name);
  o.out_dir = OutOr(absl::StrCat("models/", o.name));
  o.finetune_lr = absl::GetFlag(FLAGS_finetune_lr);
  o.default_method = absl::GetFlag(FLAGS_default_method);
  o.default_method_reason = absl::GetFlag(FLAGS_default_reason);
  ASSIGN_OR_RETURN(o.resize, ImageFlags());
  o.tokenizer = absl::GetFlag(FLAGS_tokenizer);
  RETURN_IF_ERROR(ExportPretrained(o));
  std::printf("exported %s to %s\n", o.name.c_str(), o.out_dir.c_str());
  return absl::OkStatus();
}

}  // namespace

Command ExportCommand() {
  return {"export", "[--weights data/pretrain-conv4/backbone.pt] [--out models/NAME]",
          "Write a model repository folder (model.pbtxt + weights) that adaptd loads.",
          "The input shape is the one pretrain recorded in report.json beside the weights\n"
          "(1x28x28 grey without one); --resize_mode and --background say how adaptd fits\n"
          "images of other sizes to it. The folder is loaded back the way adaptd loads it\n"
          "before the command succeeds.\n"
          "Weights of the text encoder (report.json says modality text) become a text model:\n"
          "model.pbtxt with modality text and format text-transformer, backbone.pt, and the\n"
          "tokenizer pretraining used copied in (or --tokenizer, which must give the same ids).",
          {"weights", "arch", "name", "out", "tokenizer", "meta_learner", "finetune_lr",
           "default_method", "default_reason", "resize_mode", "resize_shorter_side",
           "background"},
          RunExport};
}

}  // namespace adaptd::train
