// adapt-train import: a user's TorchScript image backbone, or text encoder
// with its tokenizer, as a model folder.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/flags.h"
#include "train/import.h"

ABSL_FLAG(std::string, torchscript, "",
          "import: the module, saved by torch.jit.save (scripted or traced); forward takes "
          "[B,C,H,W] floats and returns [B,D] features.");
ABSL_FLAG(std::vector<std::string>, input_shape, {},
          "import: C,H,W of one input, e.g. 3,224,224 (C is 1 for grey, 3 for RGB).");
ABSL_FLAG(std::vector<std::string>, mean, {},
          "import: per-channel mean, after scaling to [0,1], e.g. 0.485,0.456,0.406.");
ABSL_FLAG(std::vector<std::string>, std, {}, "import: per-channel std, e.g. 0.229,0.224,0.225.");
ABSL_FLAG(bool, token_type_ids, false,
          "import, text encoders: forward takes token_type_ids (zeros) as a third input.");
// The text encoder's tokenizer, shared with pretrain (cmd_pretrain.cc).

namespace adaptd::train {
namespace {

absl::StatusOr<ImportOptions> OptionsFromFlags() {
  ImportOptions o;
  o.torchscript = absl::GetFlag(FLAGS_torchscript);
  ASSIGN_OR_RETURN(o.input_shape,
                   Numbers<int64_t>("input_shape", absl::GetFlag(FLAGS_input_shape)));
  ASSIGN_OR_RETURN(std::vector<float> mean, Numbers<float>("mean", absl::GetFlag(FLAGS_mean)));
  ASSIGN_OR_RETURN(std::vector<float> std, Numbers<float>("std", absl::GetFlag(FLAGS_std)));
  ASSIGN_OR_RETURN(o.preprocessing, ImageFlags());
  for (float m : mean) o.preprocessing.add_mean(m);
  for (float s : std) o.preprocessing.add_std(s);
  // The file's name unless --name is given (its default is the glyph model's).
  const absl::CommandLineFlag* name = absl::FindCommandLineFlag("name");
  const bool named = name->CurrentValue() != name->DefaultValue();
  o.name = named ? absl::GetFlag(FLAGS_name) : std::filesystem::path(o.torchscript).stem().string();
  o.out_dir = OutOr(absl::StrCat("models/", o.name));
  o.meta_learner = absl::GetFlag(FLAGS_meta_learner);
  o.finetune_lr = absl::GetFlag(FLAGS_finetune_lr);
  o.text.tokenizer = absl::GetFlag(FLAGS_tokenizer);
  o.text.lower_case = absl::GetFlag(FLAGS_lower_case);
  o.text.max_seq_length = absl::GetFlag(FLAGS_max_len);
  o.text.pooling = absl::GetFlag(FLAGS_pooling);
  o.text.token_type_ids = absl::GetFlag(FLAGS_token_type_ids);
  return o;
}

absl::Status RunImport(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(ImportOptions o, OptionsFromFlags());
  ASSIGN_OR_RETURN(ImportReport report, ImportTorchScript(o));
  std::printf("imported %s: %lld-dimensional features, %lld parameters, into %s\n", o.name.c_str(),
              static_cast<long long>(report.feature_dim), static_cast<long long>(report.parameters),
              o.out_dir.c_str());
  if (!report.tokenizer.empty()) {
    std::printf("  text: %s tokenizer, %d tokens, max length %d, pooling %s\n",
                report.tokenizer.c_str(), report.vocab_size, o.text.max_seq_length,
                report.pooling.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

Command ImportCommand() {
  return {"import",
          "--torchscript FILE (--input_shape C,H,W | --tokenizer VOCAB) [--out models/NAME]",
          "Wrap a TorchScript image backbone or text encoder into a model folder for adaptd.",
          "Checks that FILE loads and that a batch of the declared shape gives [B,D]\n"
          "features, then writes model.pbtxt (with the preprocessing flags: torchvision's\n"
          "Resize, CenterCrop, ToTensor and Normalize), backbone.pt and, with\n"
          "--meta_learner, the meta-learner, and loads the folder back as adaptd does.\n"
          "--name defaults to FILE's name without its extension.\n"
          "For a torchvision ResNet-50 with its classifier removed:\n"
          "  adapt-train import --torchscript resnet50.pt --input_shape 3,224,224 \\\n"
          "    --resize_mode shorter_side --resize_shorter_side 256 \\\n"
          "    --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225\n"
          "With --tokenizer, FILE is a text encoder (a BERT or MiniLM export) whose forward\n"
          "takes input_ids and attention_mask ([B,T] int64; with --token_type_ids a third\n"
          "input of zeros) and returns [B,D] features or [B,T,D] token features, pooled by\n"
          "--pooling (cls: token 0; mean: over the attention mask). --tokenizer is its\n"
          "WordPiece vocab.txt (--lower_case for uncased models, --nolower_case for cased) or\n"
          "its SentencePiece .model (ids are the model's own; [CLS]/[SEP] are its \"[CLS]\" and\n"
          "\"[SEP]\" pieces, else its bos and eos). Texts are cut to --max_len tokens. The\n"
          "folder gets vocab.txt or spm.model beside backbone.pt. For an uncased MiniLM:\n"
          "  adapt-train import --torchscript minilm.pt --tokenizer vocab.txt --lower_case \\\n"
          "    --max_len 128 --pooling mean --token_type_ids",
          {"torchscript", "input_shape", "tokenizer", "lower_case", "max_len", "pooling",
           "token_type_ids", "name", "out", "mean", "std", "resize_mode", "resize_shorter_side",
           "background", "meta_learner", "finetune_lr"},
          RunImport};
}

}  // namespace adaptd::train
