#include "train/pretrain.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/nn/functional.h>
#include <torch/nn/modules/dropout.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/input/image_ops.h"
#include "server/engine/model/backbone.h"
#include "server/engine/model/nets.h"
#include "server/engine/model/text_nets.h"
#include "server/engine/text/load_tokenizer.h"
#include "server/engine/runtime/torch_util.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/dictionary.h"
#include "train/episodes.h"
#include "train/export.h"
#include "train/features.h"
#include "train/json_report.h"
#include "train/progress.h"
#include "train/random.h"
#include "train/token_vectors.h"

namespace adaptd::train {
namespace fs = std::filesystem;
using torch::Tensor;

namespace {

constexpr char kCheckpointFile[] = "checkpoint.pt";
constexpr char kWeightsFile[] = "backbone.pt";
// The longest --max_len: model.pbtxt's limit on text.max_seq_length.
constexpr int kMaxTextLength = 8192;

// The encoder `t` describes over a vocabulary of `vocab_size`, as the
// exported model.pbtxt will describe it, with t's training dropout.
engine::TextTransformerOptions TextTransformerOptionsOf(const TextEncoderOptions& t,
                                                        int64_t vocab_size) {
  engine::TextTransformerOptions o =
      engine::TextTransformerOptionsFromConfig(MakeTextModelConfig("pretrain", t, vocab_size));
  o.dropout = t.dropout;
  return o;
}

// The schedule's part of a run's checkpoint key; empty for the plain
// constant rate, so that such checkpoints keep their key.
std::string ScheduleKey(const PretrainOptions& o) {
  if (o.lr_schedule == "constant" && o.warmup_steps == 0) return "";
  return absl::StrCat(" lr=", o.lr, " schedule=", o.lr_schedule, " warmup=", o.warmup_steps);
}

// The backbone (registered as "net", so that its parameters train and
// checkpoint with the head), dropout on its raw features, then the engine's
// head over the normalised features: logits = kHeadScale * (f . W^T + b).
// The backbone's forward is the PretrainNet's; forward() takes its output.
class ClassifierImpl : public torch::nn::Module {
 public:
  ClassifierImpl(std::shared_ptr<torch::nn::Module> net, int64_t dim, int64_t classes,
                 double dropout)
      : dropout_(register_module("dropout", torch::nn::Dropout(dropout))) {
    register_module("net", std::move(net));
    weight_ = register_parameter("weight", torch::randn({classes, dim}) / std::sqrt(double(dim)));
    bias_ = register_parameter("bias", torch::zeros({classes}));
  }
  // Raw features [B,D] -> logits [B,classes].
  Tensor forward(const Tensor& features) {
    return engine::HeadLogits(engine::NormalizeFeatures(dropout_(features)), weight_, bias_);
  }

 private:
  torch::nn::Dropout dropout_;
  Tensor weight_, bias_;
};
TORCH_MODULE(Classifier);

// uint8 images -> [n,C,H,W] floats with the model's preprocessing, on the
// host (page-locked with `pinned`, for a copy to a GPU that does not block).
// With `rng` set, each is shifted by up to `max_shift` pixels (zeros fill in)
// and, with `flip`, mirrored left to right half of the time; an RGB image
// turns grey (PIL's luma in every channel) with probability `grey`.
Tensor MakeBatch(const Dataset& data, const int64_t* indices, int64_t n, int max_shift, bool flip,
                 double grey, Rng* rng, bool pinned) {
  const ImageShape& shape = data.shape;
  const engine::Preprocessing pre = DefaultPreprocessing(shape);
  const int64_t plane = int64_t{shape.height} * shape.width;
  Tensor x = torch::empty({n, shape.channels, shape.height, shape.width},
                          torch::TensorOptions(torch::kFloat).pinned_memory(pinned));
  float* out = x.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    int dx = 0, dy = 0;
    bool mirror = false;
    if (rng != nullptr && max_shift > 0) {
      dx = static_cast<int>(rng->Below(2 * max_shift + 1)) - max_shift;
      dy = static_cast<int>(rng->Below(2 * max_shift + 1)) - max_shift;
    }
    if (rng != nullptr && flip) mirror = rng->Below(2) == 1;
    const uint8_t* image = data.image(indices[i]);
    std::vector<uint8_t> luma;
    if (rng != nullptr && shape.channels == 3 && grey > 0 && rng->Uniform() < grey) {
      luma = engine::ToCHW(
          engine::ToColour(engine::FromCHW(image, 3, shape.height, shape.width), 1, {0, 0, 0}));
      luma.resize(3 * plane);
      std::copy_n(luma.begin(), plane, luma.begin() + plane);
      std::copy_n(luma.begin(), plane, luma.begin() + 2 * plane);
      image = luma.data();
    }
    for (int c = 0; c < shape.channels; ++c) {
      // The same arithmetic as adaptd's UINT8 path (input_decoder.cc).
      const float scale = 1.f / (255.f * pre.std[c]);
      const float offset = pre.mean[c] / pre.std[c];
      const uint8_t* in = image + c * plane;
      float* o = out + (i * shape.channels + c) * plane;
      for (int y = 0; y < shape.height; ++y) {
        const int sy = y - dy;
        for (int xx = 0; xx < shape.width; ++xx) {
          const int sx = (mirror ? shape.width - 1 - xx : xx) - dx;
          const uint8_t v = (sy >= 0 && sy < shape.height && sx >= 0 && sx < shape.width)
                                ? in[sy * shape.width + sx]
                                : 0;
          o[y * shape.width + xx] = v * scale - offset;
        }
      }
    }
  }
  return x;
}

// What image and text pretraining differ in: the network, how a batch of
// training items becomes its raw features, and the backbone adaptd would
// serve it as (for meta-val). The loop, the classifier head, the schedule,
// checkpoints and the report are shared.
class PretrainNet {
 public:
  virtual ~PretrainNet() = default;
  // The network: what backbone.pt holds.
  virtual std::shared_ptr<torch::nn::Module> module() const = 0;
  virtual int64_t feature_dim() const = 0;
  // Raw features [n,D] of training items indices[0..n), computed on
  // `device` in the module's current mode; `rng` drives augmentation.
  virtual Tensor Forward(const int64_t* indices, int64_t n, Rng& rng, c10::Device device) = 0;
  // The network wrapped as adaptd would wrap the exported folder.
  virtual absl::StatusOr<std::shared_ptr<engine::Backbone>> ToBackbone(
      c10::Device device) const = 0;
  // What a checkpoint must also match: the architecture ("arch=...") and,
  // after the shared options, the input (" images=3x32x32 RGB", or "").
  virtual std::string Key() const = 0;
  virtual std::string InputKey() const = 0;
  // report.json's description of the network and its input, from which
  // `export` rebuilds the network.
  virtual nlohmann::ordered_json Describe() const = 0;
};

// A native image architecture over `train`'s images, augmented as `options`
// say.
class ImagePretrainNet : public PretrainNet {
 public:
  ImagePretrainNet(const Dataset& train, const PretrainOptions& options,
                   std::shared_ptr<engine::FeatureNet> net)
      : train_(train), options_(options), net_(std::move(net)) {}
  std::shared_ptr<torch::nn::Module> module() const override { return net_; }
  int64_t feature_dim() const override { return net_->feature_dim(); }
  Tensor Forward(const int64_t* indices, int64_t n, Rng& rng, c10::Device device) override {
    // Built on the host; on a GPU copied from page-locked memory without
    // blocking, so that the copy overlaps what the device still runs.
    Tensor x = MakeBatch(train_, indices, n, options_.max_shift, options_.flip, options_.grey,
                         &rng, device.is_cuda());
    return net_->forward(x.to(device, x.scalar_type(), /*non_blocking=*/true));
  }
  absl::StatusOr<std::shared_ptr<engine::Backbone>> ToBackbone(
      c10::Device device) const override {
    return engine::Backbone::FromNet(
        MakeModelConfig("pretrain", options_.arch, net_->feature_dim(),
                        DefaultPreprocessing(train_.shape)),
        net_, engine::MetaLearner(nullptr), device);
  }
  std::string Key() const override { return "arch=" + options_.arch; }
  std::string InputKey() const override {
    // The shape is named only when it is not the native 1x28x28 grey.
    return train_.shape == ImageShape{} ? "" : " images=" + ShapeText(train_.shape);
  }
  nlohmann::ordered_json Describe() const override {
    return {{"arch", options_.arch},
            {"input_shape", train_.shape.dims()},
            {"images", train_.size()},
            {"max_shift", options_.max_shift},
            {"flip", options_.flip},
            {"grey", options_.grey}};
  }

 private:
  const Dataset& train_;
  const PretrainOptions& options_;
  std::shared_ptr<engine::FeatureNet> net_;
};

// The native text encoder over `train`'s texts, tokenized once by the
// tokenizer the exported model will serve with.
class TextPretrainNet : public PretrainNet {
 public:
  TextPretrainNet(const PretrainOptions& options, std::shared_ptr<engine::TextTransformer> net,
                  std::shared_ptr<const engine::Tokenizer> tokenizer, TokenizedTexts texts)
      : options_(options),
        net_(std::move(net)),
        tokenizer_(std::move(tokenizer)),
        texts_(std::move(texts)) {}
  std::shared_ptr<torch::nn::Module> module() const override { return net_; }
  int64_t feature_dim() const override { return net_->options().dim; }
  Tensor Forward(const int64_t* indices, int64_t n, Rng&, c10::Device device) override {
    const engine::BackboneInput batch = TextBatch(texts_, indices, n);
    return net_->Encode(batch.values.to(device), batch.attention_mask.to(device));
  }
  absl::StatusOr<std::shared_ptr<engine::Backbone>> ToBackbone(
      c10::Device device) const override {
    return engine::Backbone::FromTextNet(
        MakeTextModelConfig("pretrain", options_.text, tokenizer_->vocab_size()), net_,
        tokenizer_, engine::MetaLearner(nullptr), device);
  }
  std::string Key() const override {
    const TextEncoderOptions& t = options_.text;
    return absl::StrFormat(
        "arch=text-transformer vocab=%d dim=%d layers=%d heads=%d mlp=%d max_len=%d "
        "pooling=%s%s%s%s",
        tokenizer_->vocab_size(), t.dim, t.layers, t.heads, t.mlp_dim, t.max_len, t.pooling,
        t.positions > 0 ? absl::StrFormat(" positions=%d", t.positions) : "",
        t.lexical_dim > 0 ? absl::StrFormat(" lexical=%d", t.lexical_dim) : "",
        t.semantic_dim > 0 ? absl::StrFormat(" semantic=%d corpus=%s", t.semantic_dim, t.corpus)
                           : "");
  }
  std::string InputKey() const override { return ""; }
  nlohmann::ordered_json Describe() const override {
    const TextEncoderOptions& t = options_.text;
    std::error_code ec;
    const fs::path tokenizer = fs::absolute(t.tokenizer, ec);
    return {{"modality", "text"},
            {"arch", "text-transformer"},
            {"texts", texts_.lengths.size()},
            {"texts_truncated", texts_.truncated},
            {"text_encoder",
             {{"tokenizer", ec ? t.tokenizer : tokenizer.lexically_normal().string()},
              {"tokenizer_kind", std::string(tokenizer_->kind())},
              {"lower_case", t.lower_case},
              {"vocab_size", tokenizer_->vocab_size()},
              {"dim", t.dim},
              {"layers", t.layers},
              {"heads", t.heads},
              {"mlp_dim", t.mlp_dim},
              {"max_len", t.max_len},
              {"positions", t.positions},
              {"pooling", t.pooling},
              {"dropout", t.dropout},
              {"lexical_dim", t.lexical_dim},
              {"lexical_weight", t.lexical_weight},
              {"semantic_dim", t.semantic_dim},
              {"semantic_weight", t.semantic_weight},
              {"semantic_agreement", t.semantic_agreement},
              {"corpus", t.corpus}}}};
  }

 private:
  const PretrainOptions& options_;
  std::shared_ptr<engine::TextTransformer> net_;
  std::shared_ptr<const engine::Tokenizer> tokenizer_;
  const TokenizedTexts texts_;
};

// The semantic branch's token vectors, from the corpus's lines and the
// training texts; errors name the flag at fault.
absl::StatusOr<Tensor> SemanticVectors(const engine::Tokenizer& tokenizer,
                                       const std::vector<std::string>& train_texts,
                                       const PretrainOptions& options) {
  const TextEncoderOptions& t = options.text;
  if (t.corpus.empty()) {
    return absl::InvalidArgumentError(
        "corpus: the semantic branch (semantic_dim > 0) needs a corpus, e.g. data/gcide.txt");
  }
  if (t.semantic_dim >= tokenizer.vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "semantic_dim: must be below the vocabulary size (", tokenizer.vocab_size(), "), got ",
        t.semantic_dim));
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> corpus, ReadCorpus(t.corpus));
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<int32_t>> docs;
  docs.reserve(corpus.size() + train_texts.size());
  for (const std::vector<std::string>* texts : {&corpus, &train_texts}) {
    for (const std::string& text : *texts) {
      auto ids = tokenizer.Tokenize(text);
      if (!ids.ok()) continue;  // Invalid UTF-8 in a corpus line: that line only.
      docs.push_back(*std::move(ids));
    }
  }
  const engine::SpecialTokenIds& special = tokenizer.special_ids();
  TokenVectorOptions o;
  o.dim = t.semantic_dim;
  o.seed = options.seed;
  Tensor vectors = TokenVectors(docs, tokenizer.vocab_size(),
                                {special.pad, special.unk, special.cls, special.sep}, o);
  if (options.progress) {
    std::fprintf(stderr, "pretrain: semantic vectors (%d wide) from %zu texts of %s in %.1f s\n",
                 t.semantic_dim, docs.size(), t.corpus.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return vectors;
}

// The encoder options.text describes, fed by its tokenizer over every text
// of `train`; errors name the flag at fault.
absl::StatusOr<std::unique_ptr<PretrainNet>> MakeTextPretrainNet(const Dataset& train,
                                                                 const PretrainOptions& options) {
  const TextEncoderOptions& t = options.text;
  const std::string folder = fs::path(t.tokenizer).parent_path().string();
  auto tokenizer = engine::LoadTokenizer(TokenizerConfig(t.tokenizer, t.lower_case),
                                         folder.empty() ? "." : folder);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat("tokenizer: ", tokenizer.status().message()));
  }
  ASSIGN_OR_RETURN(TokenizedTexts texts, TokenizeTexts(**tokenizer, train.texts, t.max_len));
  if (options.progress) {
    std::fprintf(stderr,
                 "pretrain: %lld texts tokenized by %s (%d tokens), %lld cut to %d tokens\n",
                 static_cast<long long>(train.size()), t.tokenizer.c_str(),
                 (*tokenizer)->vocab_size(), static_cast<long long>(texts.truncated), t.max_len);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<engine::TextTransformer> net,
                   engine::MakeTextTransformer(
                       TextTransformerOptionsOf(t, (*tokenizer)->vocab_size())));
  if (t.lexical_dim > 0 || t.semantic_dim > 0) {
    // The branches' idf, from the training texts alone.
    const int64_t longest = texts.ids.size(1);
    const Tensor lengths = torch::tensor(texts.lengths, torch::kLong).unsqueeze(1);
    const Tensor mask = torch::arange(longest, torch::kLong).unsqueeze(0) < lengths;
    net->SetTokenIdf(engine::TokenIdf(texts.ids, mask, (*tokenizer)->vocab_size()));
  }
  if (t.semantic_dim > 0) {
    ASSIGN_OR_RETURN(Tensor vectors, SemanticVectors(**tokenizer, train.texts, options));
    net->SetTokenVectors(vectors);
  }
  return std::make_unique<TextPretrainNet>(options, std::move(net), *std::move(tokenizer),
                                           std::move(texts));
}

absl::StatusOr<std::unique_ptr<PretrainNet>> MakePretrainNet(const Dataset& train,
                                                             const PretrainOptions& options) {
  if (train.modality == Modality::kText) return MakeTextPretrainNet(train, options);
  ASSIGN_OR_RETURN(std::shared_ptr<engine::FeatureNet> net,
                   engine::MakeFeatureNet(options.arch, train.shape.dims()));
  return std::make_unique<ImagePretrainNet>(train, options, std::move(net));
}

// Where a run stands; saved with the checkpoint.
struct Position {
  int64_t epoch = 0;       // Current epoch (0-based).
  int64_t step = 0;        // Steps done within it.
  int64_t steps_done = 0;  // In all.
  std::vector<double> epoch_loss, epoch_accuracy;  // Completed epochs.
  double loss_sum = 0, correct = 0, seen = 0;      // The current epoch so far.
};

Tensor ToTensor(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }
std::vector<double> FromTensor(const Tensor& t) {
  auto c = t.contiguous().to(torch::kFloat64);
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::string RunKey(const PretrainOptions& o, const Dataset& train, const PretrainNet& net) {
  return absl::StrFormat("%s classes=%d images=%d seed=%d batch=%d%s%s", net.Key(),
                         train.num_classes(), train.size(), o.seed, o.batch_size, net.InputKey(),
                         ScheduleKey(o));
}

Classifier OnDevice(Classifier model, c10::Device device) {
  model->to(device);
  return model;
}

// One run: the model and its optimiser on the run's device, where the run
// stands and where it is checkpointed.
struct Run {
  Run(const Dataset& train, const PretrainOptions& options, std::unique_ptr<PretrainNet> net_in,
      const std::string& checkpoint_path, c10::Device device)
      : train(train),
        options(options),
        device(device),
        net(std::move(net_in)),
        model(OnDevice(Classifier(net->module(), net->feature_dim(), train.num_classes(),
                                  options.dropout),
                       device)),
        optimizer(model->parameters(),
                  torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay)),
        checkpoint(checkpoint_path, RunKey(options, train, *net)),
        // Drops the last partial batch.
        steps_per_epoch(train.size() / options.batch_size) {}

  const Dataset& train;
  const PretrainOptions& options;
  const c10::Device device;
  const std::unique_ptr<PretrainNet> net;
  Classifier model;
  torch::optim::Adam optimizer;
  Checkpointer checkpoint;
  const int64_t steps_per_epoch;
  Position pos;
};

// The model, the optimiser and the position, so that a resumed run takes
// the same path as one never interrupted.
absl::Status SaveCheckpoint(Run& run) {
  return run.checkpoint.Save([&](torch::serialize::OutputArchive& archive) {
    torch::serialize::OutputArchive model_archive, optim_archive;
    run.model->save(model_archive);
    run.optimizer.save(optim_archive);
    const Position& pos = run.pos;
    archive.write("model", model_archive);
    archive.write("optimizer", optim_archive);
    archive.write("position", torch::tensor({pos.epoch, pos.step, pos.steps_done}, torch::kInt64));
    archive.write("epoch_loss", ToTensor(pos.epoch_loss));
    archive.write("epoch_accuracy", ToTensor(pos.epoch_accuracy));
    archive.write("epoch_sums",
                  torch::tensor({pos.loss_sum, pos.correct, pos.seen}, torch::kFloat64));
  });
}

// FAILED_PRECONDITION when the checkpoint is another run's: pretraining does
// not start over on its own. The checkpoint is read onto the CPU, whatever
// device saved it, and moved to the run's.
absl::Status LoadCheckpoint(Run& run) {
  const absl::Status loaded = run.checkpoint.Load([&](torch::serialize::InputArchive& archive) {
    torch::serialize::InputArchive model_archive, optim_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optim_archive);
    run.model->load(model_archive);
    run.optimizer.load(optim_archive);
    Tensor position, loss, accuracy, sums;
    archive.read("position", position);
    archive.read("epoch_loss", loss);
    archive.read("epoch_accuracy", accuracy);
    archive.read("epoch_sums", sums);
    Position& pos = run.pos;
    pos.epoch = position[0].item<int64_t>();
    pos.step = position[1].item<int64_t>();
    pos.steps_done = position[2].item<int64_t>();
    pos.epoch_loss = FromTensor(loss);
    pos.epoch_accuracy = FromTensor(accuracy);
    const auto s = FromTensor(sums);
    pos.loss_sum = s.at(0);
    pos.correct = s.at(1);
    pos.seen = s.at(2);
    run.model->to(run.device);
    MoveAdamState(run.optimizer, run.device);
  });
  if (absl::IsFailedPrecondition(loaded)) {
    return absl::FailedPreconditionError(
        absl::StrCat(loaded.message(), "; remove it or drop --resume"));
  }
  return loaded;
}

// backbone.pt: the network alone, what `export` loads; saved from the CPU,
// so that it loads without CUDA.
absl::Status SaveWeights(torch::nn::Module& net, c10::Device device, const std::string& path) {
  return SaveFromCpu(net, device, [&] {
    return engine::GuardTorch("saving " + path, [&]() -> absl::Status {
      torch::serialize::OutputArchive archive;
      net.save(archive);
      return SaveArchive(archive, path);
    });
  });
}

absl::StatusOr<std::vector<FewShotResult>> EvaluateOn(const engine::Backbone& backbone,
                                                      const Dataset& data,
                                                      const ProtoEvalOptions& options) {
  ASSIGN_OR_RETURN(Tensor features, EmbedDataset(backbone, data));
  size_t smallest = SIZE_MAX;
  for (const auto& images : data.IndicesByClass()) smallest = std::min(smallest, images.size());
  std::vector<FewShotResult> results;
  for (const auto& [ways, shots] : options.settings) {
    EpisodeOptions eo;
    eo.ways = ways;
    eo.shots = shots;
    // Small sets (few instances per class) get fewer queries rather than an
    // error; at least one.
    eo.queries = std::max<int>(
        1, std::min<int64_t>(options.queries, static_cast<int64_t>(smallest) - shots));
    eo.seed = MixSeed(options.seed, {static_cast<uint64_t>(ways), static_cast<uint64_t>(shots)});
    ASSIGN_OR_RETURN(EpisodeSampler sampler, EpisodeSampler::Create(data, eo));
    std::vector<double> accuracies;
    for (int e = 0; e < options.episodes; ++e) {
      const EpisodeTensors task = GatherEpisode(features, sampler.Sample(e));
      ASSIGN_OR_RETURN(engine::HeadResult head,
                       engine::AdaptHead(engine::Method::kPrototype, task.support,
                                         task.support_labels, ways, nullptr,
                                         engine::AdaptOptions()));
      const Tensor predicted = engine::HeadLogits(task.query, head.weight, head.bias).argmax(1);
      const double accuracy = predicted.eq(task.query_labels)
                                  .to(torch::kFloat64)
                                  .mean()
                                  .to(torch::kCPU)
                                  .item<double>();
      accuracies.push_back(accuracy);
    }
    results.push_back(SummarizeEpisodes(ways, shots, eo.queries, accuracies));
  }
  return results;
}

// report.json: the options, the training history and meta-val accuracy.
nlohmann::ordered_json ReportJson(const PretrainOptions& o, const PretrainReport& r,
                                  const Dataset& train, const PretrainNet& net) {
  nlohmann::ordered_json val = nlohmann::ordered_json::array();
  for (const auto& v : r.val) {
    val.push_back({{"ways", v.ways},
                   {"shots", v.shots},
                   {"episodes", v.episodes},
                   {"accuracy", Rounded(v.accuracy, 4)},
                   {"ci95", Rounded(v.ci95, 4)}});
  }
  auto nums = [](const std::vector<double>& v) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (double d : v) out.push_back(Rounded(d, 4));
    return out;
  };
  nlohmann::ordered_json json = net.Describe();
  const nlohmann::ordered_json rest = {
      {"classes", train.num_classes()},
      {"epochs", o.epochs},
      {"batch_size", o.batch_size},
      {"lr", o.lr},
      {"lr_schedule", o.lr_schedule},
      {"warmup_steps", o.warmup_steps},
      {"weight_decay", o.weight_decay},
      {"dropout", o.dropout},
      {"seed", o.seed},
      {"epochs_done", r.epochs_done},
      {"steps_done", r.steps_done},
      {"epoch_loss", nums(r.epoch_loss)},
      {"epoch_accuracy", nums(r.epoch_accuracy)},
      {"train_seconds", Rounded(r.train_seconds, 1)},
      {"train_cpu_seconds", Rounded(r.train_cpu_seconds, 1)},
      {train.modality == Modality::kText ? "texts_per_second" : "images_per_second",
       Rounded(r.images_per_second, 1)},
      {"meta_val_prototype", std::move(val)}};
  for (const auto& [key, value] : rest.items()) json[key] = value;
  return json;
}

// Set by SIGINT/SIGTERM while a run is in progress: the run checkpoints at
// the end of the current step and returns CANCELLED.
std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

// Installs OnInterrupt for SIGINT and SIGTERM for its lifetime; a second
// signal during the final checkpoint kills the process as usual.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted.store(false);
    struct sigaction action = {};
    action.sa_handler = OnInterrupt;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ = {}, old_term_ = {};
};

// The text encoder's options, named as adapt-train's flags name them.
absl::Status ValidateTextOptions(const TextEncoderOptions& t) {
  if (t.tokenizer.empty()) {
    return absl::InvalidArgumentError(
        "tokenizer: required for a text set: a WordPiece vocab.txt or a SentencePiece .model");
  }
  if (t.max_len < 2 || t.max_len > kMaxTextLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_len: must be in [2, ", kMaxTextLength, "], got ", t.max_len));
  }
  if (!(t.dropout >= 0 && t.dropout < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("text_dropout: must be in [0,1), got ", t.dropout));
  }
  // The rest carry the flags' names; the vocabulary is the tokenizer's.
  return engine::ValidateTextTransformerOptions(TextTransformerOptionsOf(t, 1));
}

// The image-only options and the images' shape.
absl::Status ValidateImageOptions(const Dataset& train, const PretrainOptions& o) {
  if (o.grey < 0 || o.grey > 1) return absl::InvalidArgumentError("grey: must be in [0,1]");
  const int side = std::min(train.shape.height, train.shape.width);
  if (o.max_shift < 0 || o.max_shift >= side) {
    return absl::InvalidArgumentError(absl::StrCat("max_shift: must be in [0,", side - 1, "]"));
  }
  if (train.shape.channels != 1 && train.shape.channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("data: pretrain takes grey or RGB images, not ", ShapeText(train.shape)));
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const Dataset& train, const PretrainOptions& o) {
  if (o.work_dir.empty()) return absl::InvalidArgumentError("work_dir: required");
  if (o.epochs < 1) return absl::InvalidArgumentError("epochs: must be at least 1");
  if (o.batch_size < 2) return absl::InvalidArgumentError("batch_size: must be at least 2");
  if (!(o.lr > 0)) return absl::InvalidArgumentError("lr: must be positive");
  if (o.weight_decay < 0) return absl::InvalidArgumentError("weight_decay: must not be negative");
  if (o.dropout < 0 || o.dropout >= 1) return absl::InvalidArgumentError("dropout: must be in [0,1)");
  if (o.lr_schedule != "constant" && o.lr_schedule != "cosine") {
    return absl::InvalidArgumentError(absl::StrCat(
        "lr_schedule: must be \"constant\" or \"cosine\", got \"", o.lr_schedule, "\""));
  }
  if (o.warmup_steps < 0) return absl::InvalidArgumentError("warmup_steps: must not be negative");
  RETURN_IF_ERROR(train.modality == Modality::kText ? ValidateTextOptions(o.text)
                                                    : ValidateImageOptions(train, o));
  if (train.num_classes() < 2) {
    return absl::InvalidArgumentError("data: pretraining needs at least 2 classes");
  }
  if (train.size() < o.batch_size) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", train.size(),
                                                   " items are fewer than one batch of ",
                                                   o.batch_size));
  }
  return train.Validate();
}

// The learning rate of step `step` (0-based) of `total`: a linear warmup
// over the first warmup_steps, then constant or a cosine decay to 0 at the
// last step of the last epoch.
double ScheduledRate(const PretrainOptions& o, int64_t step, int64_t total) {
  double rate = o.lr;
  if (o.warmup_steps > 0 && step < o.warmup_steps) {
    rate *= static_cast<double>(step + 1) / o.warmup_steps;
  }
  if (o.lr_schedule == "cosine" && total > 0) {
    const double progress = std::min(1.0, static_cast<double>(step) / total);
    rate *= 0.5 * (1 + std::cos(M_PI * progress));
  }
  return rate;
}

// Sets the optimiser's rate for the next step. A function of the position
// alone, so a resumed run takes the same path.
void SetLearningRate(Run& run) {
  const double rate = ScheduledRate(run.options, run.pos.steps_done,
                                    run.steps_per_epoch * run.options.epochs);
  for (auto& group : run.optimizer.param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(rate);
  }
}

// One optimiser step on batch pos.step of the epoch's `order`; advances the
// position and returns the loss. INTERNAL when the loss is not finite.
absl::StatusOr<double> Step(Run& run, const std::vector<int64_t>& order) {
  const PretrainOptions& options = run.options;
  Position& pos = run.pos;
  Rng rng(MixSeed(options.seed, {static_cast<uint64_t>(pos.epoch),
                                 static_cast<uint64_t>(pos.step), 0xa4u}));
  torch::manual_seed(rng.Next() >> 1);  // Dropout.
  const int64_t* batch = order.data() + pos.step * options.batch_size;
  const bool pinned = run.device.is_cuda();
  Tensor target = torch::empty({options.batch_size},
                               torch::TensorOptions(torch::kInt64).pinned_memory(pinned));
  int64_t* y = target.data_ptr<int64_t>();
  for (int i = 0; i < options.batch_size; ++i) y[i] = run.train.labels[batch[i]];
  target = target.to(run.device, target.scalar_type(), /*non_blocking=*/true);
  SetLearningRate(run);
  Tensor logits = run.model->forward(run.net->Forward(batch, options.batch_size, rng, run.device));
  Tensor loss = torch::nn::functional::cross_entropy(logits, target);
  run.optimizer.zero_grad();
  loss.backward();
  run.optimizer.step();
  // The loss and the correct count reach the host together, in one copy.
  const Tensor host = torch::stack({loss.detach().to(torch::kFloat64),
                                    logits.argmax(1).eq(target).sum().to(torch::kFloat64)})
                          .to(torch::kCPU);
  const double l = host[0].item<double>();
  if (!std::isfinite(l)) {
    return absl::InternalError(absl::StrCat("pretrain: loss became ", l, " at epoch ",
                                            pos.epoch + 1, " step ", pos.step + 1,
                                            "; lower --lr"));
  }
  const double correct = host[1].item<double>();
  pos.loss_sum += l * options.batch_size;
  pos.correct += correct;
  pos.seen += options.batch_size;
  ++pos.step;
  ++pos.steps_done;
  return l;
}

// Closes a finished epoch: its mean loss and accuracy join the history.
void EndEpoch(Run& run) {
  Position& pos = run.pos;
  pos.epoch_loss.push_back(pos.loss_sum / pos.seen);
  pos.epoch_accuracy.push_back(pos.correct / pos.seen);
  if (run.options.progress) {
    std::fprintf(stderr, "%spretrain: epoch %lld/%d loss %.4f accuracy %.4f\n",
                 isatty(2) ? "\r\033[K" : "", static_cast<long long>(pos.epoch + 1),
                 run.options.epochs, pos.epoch_loss.back(), pos.epoch_accuracy.back());
  }
  ++pos.epoch;
  pos.step = 0;
  pos.loss_sum = pos.correct = pos.seen = 0;
}

// Trains until `stop_at` steps are done in all, checkpointing at the end of
// every epoch and every options.checkpoint_seconds; fills the report's
// step losses and this run's times. CANCELLED, after a checkpoint, on
// SIGINT or SIGTERM.
absl::Status TrainSteps(Run& run, int64_t stop_at, PretrainReport* report) {
  const PretrainOptions& options = run.options;
  Position& pos = run.pos;
  Progress progress("pretrain step", stop_at, pos.steps_done);
  const char* unit = run.train.modality == Modality::kText ? "texts" : "img";
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  auto last_checkpoint = start;
  int64_t images = 0;
  run.model->train();
  std::vector<int64_t> order(run.train.size());
  while (pos.steps_done < stop_at) {
    // The epoch's order and every step's randomness come from the seed and
    // the position alone, so a resumed run takes the same path.
    for (int64_t i = 0; i < run.train.size(); ++i) order[i] = i;
    Rng shuffle(MixSeed(options.seed, {static_cast<uint64_t>(pos.epoch), 0x5u}));
    shuffle.Shuffle(order);
    while (pos.step < run.steps_per_epoch && pos.steps_done < stop_at) {
      ASSIGN_OR_RETURN(const double loss, Step(run, order));
      report->step_loss.push_back(static_cast<float>(loss));
      images += options.batch_size;
      if (options.progress) {
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        progress.Update(pos.steps_done,
                        absl::StrFormat("epoch %d/%d step %d/%d loss %.3f acc %.3f | %.0f %s/s",
                                        pos.epoch + 1, options.epochs, pos.step,
                                        run.steps_per_epoch, pos.loss_sum / pos.seen,
                                        pos.correct / pos.seen, images / std::max(secs, 1e-9),
                                        unit));
      }
      if (options.on_step) options.on_step(pos.steps_done);
      if (g_interrupted.load()) {
        RETURN_IF_ERROR(SaveCheckpoint(run));
        if (options.progress) progress.Finish("interrupted");
        return absl::CancelledError(absl::StrCat(
            "interrupted at step ", pos.steps_done, "; checkpoint saved in ",
            run.checkpoint.path(), "; run again with --resume to continue"));
      }
      const auto now = std::chrono::steady_clock::now();
      if (options.checkpoint_seconds > 0 &&
          std::chrono::duration<double>(now - last_checkpoint).count() >
              options.checkpoint_seconds) {
        RETURN_IF_ERROR(SaveCheckpoint(run));
        last_checkpoint = now;
      }
    }
    if (pos.step >= run.steps_per_epoch) EndEpoch(run);
    RETURN_IF_ERROR(SaveCheckpoint(run));
    last_checkpoint = std::chrono::steady_clock::now();
  }
  if (options.progress) progress.Finish("done");
  report->train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report->images_per_second = images / std::max(report->train_seconds, 1e-9);
  report->train_cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return absl::OkStatus();
}

// The position's history in the report; a partial last epoch (max_steps)
// counts as one.
void ReportPosition(const Position& pos, PretrainReport* report) {
  report->epochs_done = static_cast<int>(pos.epoch);
  report->steps_done = pos.steps_done;
  report->epoch_loss = pos.epoch_loss;
  report->epoch_accuracy = pos.epoch_accuracy;
  if (pos.seen > 0) {
    report->epoch_loss.push_back(pos.loss_sum / pos.seen);
    report->epoch_accuracy.push_back(pos.correct / pos.seen);
  }
}

// Meta-val PROTOTYPE accuracy of the trained backbone, as adaptd would adapt.
absl::StatusOr<std::vector<FewShotResult>> EvaluateVal(Run& run, const Dataset& val) {
  const PretrainOptions& options = run.options;
  ASSIGN_OR_RETURN(std::shared_ptr<engine::Backbone> backbone, run.net->ToBackbone(run.device));
  ProtoEvalOptions eval;
  eval.episodes = options.eval_episodes;
  eval.seed = options.seed;
  eval.threads = options.threads;
  ASSIGN_OR_RETURN(std::vector<FewShotResult> results, EvaluateOn(*backbone, val, eval));
  for (const auto& r : results) {
    std::fprintf(stderr,
                 "pretrain: meta-val PROTOTYPE %d-way %d-shot: %.2f%% +- %.2f (%d episodes)\n",
                 r.ways, r.shots, 100 * r.accuracy, 100 * r.ci95, r.episodes);
  }
  return results;
}

// With options.resume, continues from the checkpoint if there is one.
absl::Status ResumeIfAsked(Run& run) {
  if (!run.options.resume) return absl::OkStatus();
  if (!run.checkpoint.Exists()) {
    std::fprintf(stderr, "pretrain: no checkpoint in %s; starting afresh\n",
                 run.options.work_dir.c_str());
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(LoadCheckpoint(run));
  std::fprintf(stderr, "pretrain: resuming %s at epoch %lld step %lld\n",
               run.checkpoint.path().c_str(), static_cast<long long>(run.pos.epoch + 1),
               static_cast<long long>(run.pos.step));
  return absl::OkStatus();
}

}  // namespace

FewShotResult SummarizeEpisodes(int ways, int shots, int queries,
                                const std::vector<double>& accuracies) {
  const int n = static_cast<int>(accuracies.size());
  double sum = 0, sum_sq = 0;
  for (double a : accuracies) {
    sum += a;
    sum_sq += a * a;
  }
  FewShotResult r;
  r.ways = ways;
  r.shots = shots;
  r.episodes = n;
  r.queries = queries;
  r.accuracy = n > 0 ? sum / n : 0;
  if (n > 1) {
    const double var = std::max(0.0, (sum_sq - n * r.accuracy * r.accuracy) / (n - 1));
    r.ci95 = 1.96 * std::sqrt(var / n);
  }
  return r;
}

absl::StatusOr<PretrainReport> Pretrain(const Dataset& train, const Dataset& val,
                                        const PretrainOptions& options) {
  ASSIGN_OR_RETURN(const c10::Device device, ParseTrainDevice(options.device));
  RETURN_IF_ERROR(ValidateOptions(train, options));
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(options.work_dir, ": ", ec.message()));
  engine::ConfigureTorchThreads(options.threads, 1);

  return engine::GuardTorch("pretrain", [&]() -> absl::StatusOr<PretrainReport> {
    torch::manual_seed(MixSeed(options.seed, {Mix64(0x1417)}) >> 1);
    ASSIGN_OR_RETURN(std::unique_ptr<PretrainNet> net, MakePretrainNet(train, options));
    Run run(train, options, std::move(net),
            (fs::path(options.work_dir) / kCheckpointFile).string(), device);
    RETURN_IF_ERROR(ResumeIfAsked(run));

    InterruptGuard interrupt_guard;
    const int64_t total_steps = run.steps_per_epoch * options.epochs;
    const int64_t stop_at =
        options.max_steps > 0 ? std::min(total_steps, options.max_steps) : total_steps;
    if (options.progress) {
      const bool text = train.modality == Modality::kText;
      const std::string where = device.is_cpu() ? "" : " on " + device.str();
      std::fprintf(stderr,
                 "pretrain: %s on %d classes, %lld %s; %lld steps of %d per epoch, "
                 "%d epochs%s\n",
                 text ? "text-transformer" : options.arch.c_str(), train.num_classes(),
                 static_cast<long long>(train.size()), text ? "texts" : "images",
                 static_cast<long long>(run.steps_per_epoch), options.batch_size, options.epochs,
                 where.c_str());
    }
    PretrainReport report;
    RETURN_IF_ERROR(TrainSteps(run, stop_at, &report));
    ReportPosition(run.pos, &report);
    report.weights_path = (fs::path(options.work_dir) / kWeightsFile).string();
    run.model->eval();
    RETURN_IF_ERROR(SaveWeights(*run.net->module(), run.device, report.weights_path));
    if (options.eval_episodes > 0 && val.num_classes() >= 5) {
      ASSIGN_OR_RETURN(report.val, EvaluateVal(run, val));
    }
    RETURN_IF_ERROR(WriteJsonFile((fs::path(options.work_dir) / "report.json").string(),
                                  ReportJson(options, report, train, *run.net)));
    return report;
  });
}

absl::StatusOr<std::vector<FewShotResult>> EvaluatePrototype(const std::string& model_dir,
                                                             const Dataset& data,
                                                             const ProtoEvalOptions& options) {
  ASSIGN_OR_RETURN(const c10::Device device, ParseTrainDevice(options.device));
  engine::ConfigureTorchThreads(options.threads, 1);
  ASSIGN_OR_RETURN(auto backbone, engine::Backbone::Load(model_dir, device));
  return EvaluateOn(*backbone, data, options);
}

}  // namespace adaptd::train
