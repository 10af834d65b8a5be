#include "train/flags.h"

#include "absl/flags/flag.h"
#include "train/loaders.h"

ABSL_FLAG(std::string, out, "", "Output file or folder (each command says which; most have a default).");
ABSL_FLAG(std::string, data, "data/glyphs.bin",
          "A data set cache written by `adapt-train data ...`. Wherever a cache is named, "
          "FILE:groups means its groups as classes (data/clipart.bin:groups: clip-art "
          "categories, one drawing per image).");
ABSL_FLAG(std::string, extra_data, "",
          "More caches, comma-separated, whose meta-train classes (all classes when unsplit) "
          "join training, e.g. data/clipart.bin: pretrain adds them to its classifier, "
          "metatrain draws tasks from each cache in turn.");
ABSL_FLAG(std::string, corpus, "",
          "Unlabelled texts, one per line (`data dictionary` writes data/gcide.txt): vocab "
          "trains on them besides the meta-train texts; pretrain computes the semantic "
          "branch's token vectors from them and the training texts.");
ABSL_FLAG(std::string, val_data, "",
          "metatrain, tune-finetune: more caches, comma-separated, whose meta-val splits join "
          "--data's in choosing the meta-learner kept or FINETUNE's rate, e.g. "
          "data/clipart.bin:groups.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed; the same seed gives the same result.");
ABSL_FLAG(int, threads, 0, "Worker threads (FreeType rendering, LibTorch intra-op); 0 for one per core.");
ABSL_FLAG(std::string, device, "cpu",
          "Where the backbone, training and adaptation run: cpu, cuda or cuda:N. CUDA needs a "
          "LibTorch built with CUDA (Debian's is CPU-only) and a visible GPU; otherwise the "
          "command stops before loading anything.");
ABSL_FLAG(std::string, arch, "conv4", "Native backbone architecture: conv4 or resnet12.");
ABSL_FLAG(bool, resume, false, "Continue from work_dir/checkpoint.pt after an interrupt.");
ABSL_FLAG(double, checkpoint_seconds, 120, "Also checkpoint this often within an epoch.");
ABSL_FLAG(std::string, fashion_dir, adaptd::train::kFashionMnistDir, "Folder with Fashion-MNIST's IDX .gz files.");
ABSL_FLAG(std::string, model, "models/glyphs-conv4", "A model folder (model.pbtxt + weights).");
// Text models (pretrain, export, import).
ABSL_FLAG(std::string, tokenizer, "",
          "Text: the tokenizer file, a WordPiece vocab.txt or a SentencePiece .model (from "
          "`adapt-train vocab`); pretrain tokenizes with it, and the model folder gets a copy.");
ABSL_FLAG(bool, lower_case, true, "Text, WordPiece: lower-case and strip accents (uncased).");
ABSL_FLAG(int, max_len, 64,
          "Text: tokens per text, [CLS] and [SEP] included; longer texts are cut, as adaptd "
          "cuts them (model.pbtxt's text.max_seq_length).");
ABSL_FLAG(std::string, pooling, "mean", "Text: mean (over the tokens) or cls (token 0).");
ABSL_FLAG(std::string, split, "test", "proto-eval, text-examples: the split of --data used: train, val, test or all.");
ABSL_FLAG(int, episodes, 600, "Episodes per setting.");
ABSL_FLAG(int, queries, 15, "Query images per class in each episode.");
ABSL_FLAG(int, val_episodes, 200, "metatrain, tune-finetune: meta-val episodes per check.");
ABSL_FLAG(double, finetune_lr, 0,
          "export: FINETUNE's learning rate written to model.pbtxt (0: leave the default). "
          "eval: FINETUNE's rate (0: the model's).");
ABSL_FLAG(std::string, meta_learner, "", "Optional meta-learner file to ship with the model.");
ABSL_FLAG(std::string, name, "glyphs-conv4", "Model name in model.pbtxt (what clients ask for).");
ABSL_FLAG(std::string, resize_mode, "stretch",
          "import, data folders, data omniglot: stretch (Resize((H, W))) or shorter_side "
          "(Resize(S) then CenterCrop((H, W))).");
ABSL_FLAG(int, resize_shorter_side, 0,
          "shorter_side: S, the shorter side before the crop; 0: min(H, W).");
ABSL_FLAG(std::vector<std::string>, background, {},
          "import, data folders, data omniglot: R,G,B (0-255) that transparent pixels are "
          "composited over; default black.");
ABSL_FLAG(std::string, ways, "",
          "proto-eval, eval: comma-separated ways to evaluate, e.g. 5,20 (default: proto-eval 5, "
          "eval 5,20 in-domain; cross-domain sets are always 5-way).");
ABSL_FLAG(std::string, shots, "", "proto-eval, eval: comma-separated shots (default 1,5).");
