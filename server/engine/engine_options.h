// Everything an Engine is created with: the model repository, the device,
// request limits, the adapter store, persistence and batching. Plain values,
// no LibTorch, so binaries and the service fill them without the engine's
// internals (engine_flags.h maps the command-line flags onto them).
#ifndef ADAPTD_SERVER_ENGINE_ENGINE_OPTIONS_H_
#define ADAPTD_SERVER_ENGINE_ENGINE_OPTIONS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/engine/batching/batching_options.h"
#include "server/engine/input/input_decoder.h"
#include "server/engine/store/adapter_store.h"
#include "server/engine/store/persistence_factory.h"

namespace adaptd::engine {

struct EngineOptions {
  // Folder with one sub-folder per model (docs/architecture.md).
  std::string model_repository = "./models";
  // "cpu", "cuda", "cuda:N"; empty: cuda when available, else cpu.
  std::string device;
  // Mixed precision for backbone forwards: "off" (or empty), "fp16" or
  // "bf16". Adaptation and heads always run in fp32.
  std::string autocast;
  // LibTorch intra-op / inter-op threads; 0: the number of cores.
  int intra_op_threads = 0;
  int inter_op_threads = 0;
  // Largest support set, in examples.
  int max_support_size = 1000;
  // Most distinct labels in one support set.
  int max_classes = 100;
  // Most inputs in one Predict.
  int max_predict_inputs = 1024;
  // Most adaptation steps a request may ask for.
  int max_steps = 500;
  // TTL of an adapter whose request gives none, and the most allowed.
  absl::Duration default_ttl = absl::Hours(24);
  absl::Duration max_ttl = absl::Hours(24 * 30);
  // Limits on decoding images and on text inputs (max_text_bytes).
  DecodeLimits decode;
  // Bounds, clock, quotas and callbacks of the adapter store. Its
  // persistence, encode and decode are set by the engine from
  // `persistence` unless store.persistence is given.
  AdapterStore::Options store;
  // Where adapters live durably: memory (nowhere), a directory or Redis.
  // A directory is loaded into the store at Create.
  PersistenceOptions persistence;
  // Dynamic batching of backbone passes, one batcher per backbone. Its
  // autocast is set from `autocast`.
  BatchingOptions batching;
  // Called for each model folder that fails to load; it is skipped.
  std::function<void(const std::string& folder, const absl::Status&)> on_model_error;
  // How often the model repository is checked for new, changed and removed
  // folders, which are then loaded, reloaded and unloaded. Zero: never
  // (models change only through LoadModel, ReloadModel and UnloadModel).
  absl::Duration model_poll_interval = absl::ZeroDuration();
  // Called after every change of a model folder's status (loaded,
  // reloaded, failed, unloaded), from the thread that made it. May be empty.
  std::function<void(const ModelStatus&)> on_model_status;
  // Whether an adapter fitted on another fingerprint of its backbone is
  // deleted from the store when it is found: at load (stores that load at
  // start: the directory) and by the Predict that it refuses.
  bool delete_stale_adapters = false;
  // Called once per such adapter (per process) when it is first found. May
  // be empty.
  std::function<void(const AdapterInfo&)> on_stale_adapter;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ENGINE_OPTIONS_H_
