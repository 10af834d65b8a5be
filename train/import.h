// Wraps a user's TorchScript backbone into a model repository folder that
// adaptd serves. An image backbone: any [C,H,W] input, any feature size,
// torchvision-style preprocessing; a probe batch must come out as [B,D]
// features. A text encoder (a BERT or MiniLM export) with its tokenizer, a
// WordPiece vocab.txt or a SentencePiece .model: forward(input_ids,
// attention_mask[, token_type_ids]) must give [B,D] or [B,T,D] features for
// the tokenizer's ids. Anything else is refused with what was found. No
// LibTorch in this header.
//
//   ImportOptions o;
//   o.torchscript = "resnet50.pt";
//   o.input_shape = {3, 224, 224};
//   o.preprocessing.set_resize_mode("shorter_side");
//   o.preprocessing.set_resize_shorter_side(256);
//   o.name = "resnet50";
//   o.out_dir = "models/resnet50";
//   ASSIGN_OR_RETURN(ImportReport report, ImportTorchScript(o));
//
//   ImportOptions t;  // A text encoder.
//   t.torchscript = "minilm.pt";
//   t.text.tokenizer = "vocab.txt";
//   t.text.pooling = "mean";
//   t.name = "minilm";
//   t.out_dir = "models/minilm";
//   ASSIGN_OR_RETURN(ImportReport report, ImportTorchScript(t));
#ifndef ADAPTD_TRAIN_IMPORT_H_
#define ADAPTD_TRAIN_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adaptd/v1/adaptd.pb.h"

namespace adaptd::train {

// A text encoder's tokenizer and inputs (model.pbtxt's TextConfig).
struct TextImportOptions {
  // A WordPiece vocab.txt or a SentencePiece .model; which one is found
  // from the file. Setting it makes the import a text encoder's.
  std::string tokenizer;
  // WordPiece only: lower-case and strip accents (uncased models).
  bool lower_case = true;
  // Tokens per text, [CLS] and [SEP] included; longer texts are cut.
  int max_seq_length = 64;
  // For [B,T,D] outputs: "cls" (token 0) or "mean" (over the attention
  // mask); the encoder's own pooling is used when it returns [B,D].
  std::string pooling = "mean";
  // The encoder takes token_type_ids (zeros) as a third input.
  bool token_type_ids = false;
};

struct ImportOptions {
  // A module saved by torch.jit.save (scripted or traced). Required.
  std::string torchscript;
  // Images: [C,H,W] of one input, C 1 (grey) or 3 (RGB). Required for an
  // image backbone; must be empty for a text encoder.
  std::vector<int64_t> input_shape;
  // mean, std, resize_mode, resize_shorter_side, background; the sizes and
  // channels come from input_shape.
  v1::Preprocessing preprocessing;
  // The model's name (what clients ask for) and its folder. Required.
  std::string name;
  std::string out_dir;
  // A meta-learner file to ship with it; empty for none.
  std::string meta_learner;
  // FINETUNE's learning rate in model.pbtxt; 0 leaves the engine's default.
  double finetune_lr = 0;
  // A text encoder's tokenizer; text.tokenizer empty for an image backbone.
  TextImportOptions text;
};

struct ImportReport {
  int64_t feature_dim = 0;
  int64_t parameters = 0;
  // Text encoders: "wordpiece" or "sentencepiece", its vocabulary size, and
  // the pooling adaptd applies ("none" when the encoder pools itself).
  std::string tokenizer;
  int vocab_size = 0;
  std::string pooling;
};

// Checks the module (it loads; a batch of 2 zero inputs of input_shape
// gives [2,D] floats; for a text encoder, 2 rows of the tokenizer's ids
// give [2,D] or [2,T,D] floats), writes out_dir (model.pbtxt, backbone.pt,
// the tokenizer as vocab.txt or spm.model, and the meta-learner) and loads
// it back as adaptd does. INVALID_ARGUMENT names the option and what is
// wrong; NOT_FOUND for a missing file.
absl::StatusOr<ImportReport> ImportTorchScript(const ImportOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_IMPORT_H_
