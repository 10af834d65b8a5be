#include "server/engine_flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"

ABSL_FLAG(std::string, model_repository, "./models",
          "Folder with one sub-folder per model (model.pbtxt + weights).");
ABSL_FLAG(absl::Duration, model_poll_interval, absl::ZeroDuration(),
          "How often --model_repository is checked for new, changed and removed model "
          "folders, which are then loaded, reloaded or unloaded without a restart. 0 (the "
          "default): never; models change through the LoadModel, ReloadModel and UnloadModel "
          "RPCs.");
ABSL_FLAG(bool, delete_stale_adapters, false,
          "Delete adapters fitted on another fingerprint of their backbone (its weights, "
          "preprocessing or tokenizer changed) when they are found: at start and by the "
          "Predict that refuses them. Off: they stay stored, and Predict answers "
          "FAILED_PRECONDITION until they expire.");
ABSL_FLAG(std::string, device, "",
          "cpu, cuda or cuda:N. Default: cuda when LibTorch has it and a GPU is visible, "
          "else cpu.");
ABSL_FLAG(std::string, autocast, "off",
          "Mixed precision for backbone forwards: off, fp16 or bf16 (CUDA takes both, the "
          "CPU bf16 only). Adaptation and heads stay fp32.");
ABSL_FLAG(int, intra_op_threads, 0,
          "LibTorch intra-op threads for backbone forwards; 0: the number of cores. "
          "Head adaptation on the CPU runs on one (its tensors are too small to split).");
ABSL_FLAG(int, inter_op_threads, 0, "LibTorch inter-op threads; 0: the number of cores.");
ABSL_FLAG(int, max_batch_size, 64, "Most inputs in one batched backbone forward.");
ABSL_FLAG(int, batch_workers, 0,
          "Threads running batches per backbone, each on its own CUDA stream; 0: 2 on CUDA, "
          "1 on the CPU.");
ABSL_FLAG(absl::Duration, max_batch_delay, absl::Milliseconds(2),
          "Longest a request waits for others to join its batch.");
ABSL_FLAG(int, max_queued_inputs, 8192,
          "Inputs that may wait for a backbone; beyond it requests get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_adapters, 100000, "Most adapters held; least recently used go first.");
ABSL_FLAG(int64_t, max_adapter_bytes, int64_t{2} << 30, "Most bytes of adapters held.");
ABSL_FLAG(int64_t, max_adapters_per_tenant, 0,
          "Most live adapters one tenant may have (over every replica with --adapter_store=redis);"
          " 0: no limit. Over it, Adapt gets RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_adapter_bytes_per_tenant, 0,
          "Most bytes of live adapters one tenant may have; 0: no limit.");
ABSL_FLAG(std::string, adapter_store, "memory",
          "Where adapters live: memory (this process only; lost on restart), directory "
          "(--adapter_dir; survives restarts) or redis (--redis_address; shared by replicas). "
          "The memory limits above then bound a local cache.");
ABSL_FLAG(std::string, adapter_dir, "",
          "--adapter_store=directory: folder with one file per adapter; created if missing.");
ABSL_FLAG(std::string, redis_address, "127.0.0.1:6379",
          "--adapter_store=redis: host:port of Redis. adaptd refuses to start if it cannot "
          "reach it.");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Seconds(1),
          "--adapter_store=redis: limit on each Redis call end to end (waiting for a "
          "connection, connecting, the round trip). After failures, calls fail fast until "
          "Redis answers again.");
ABSL_FLAG(absl::Duration, adapter_revalidate_after, absl::ZeroDuration(),
          "--adapter_store=redis: how long a cached adapter is used before it is confirmed "
          "again in Redis (a delete on another replica is seen then). 0: on every use. "
          "Predict never waits for it: the check runs in the background.");
ABSL_FLAG(std::string, redis_key_prefix, "adaptd:",
          "--adapter_store=redis: prefix of every key, so deployments can share one Redis.");
ABSL_FLAG(int, max_support_size, 1000, "Most examples in one support set.");
ABSL_FLAG(int, max_classes, 100, "Most distinct labels in one support set.");
ABSL_FLAG(int, max_predict_inputs, 1024, "Most inputs in one Predict.");
ABSL_FLAG(int, max_steps, 500, "Most adaptation steps a request may ask for.");
ABSL_FLAG(absl::Duration, default_ttl, absl::Hours(24), "TTL of adapters whose request sets none.");
ABSL_FLAG(absl::Duration, max_ttl, absl::Hours(24 * 30), "Longest TTL a request may ask for.");
ABSL_FLAG(int64_t, max_image_bytes, 8 << 20, "Largest encoded image accepted, in bytes.");
ABSL_FLAG(int64_t, max_image_pixels, 4096 * 4096, "Largest decoded image accepted, in pixels.");
ABSL_FLAG(int64_t, max_text_bytes, 16384,
          "Longest text input accepted, in UTF-8 bytes, before tokenizing (text backbones "
          "then truncate to their max_seq_length).");

namespace adaptd {

engine::EngineOptions EngineOptionsFromFlags() {
  engine::EngineOptions e;
  e.model_repository = absl::GetFlag(FLAGS_model_repository);
  e.model_poll_interval = absl::GetFlag(FLAGS_model_poll_interval);
  e.delete_stale_adapters = absl::GetFlag(FLAGS_delete_stale_adapters);
  e.device = absl::GetFlag(FLAGS_device);
  e.autocast = absl::GetFlag(FLAGS_autocast);
  e.intra_op_threads = absl::GetFlag(FLAGS_intra_op_threads);
  e.inter_op_threads = absl::GetFlag(FLAGS_inter_op_threads);
  e.max_support_size = absl::GetFlag(FLAGS_max_support_size);
  e.max_classes = absl::GetFlag(FLAGS_max_classes);
  e.max_predict_inputs = absl::GetFlag(FLAGS_max_predict_inputs);
  e.max_steps = absl::GetFlag(FLAGS_max_steps);
  e.default_ttl = absl::GetFlag(FLAGS_default_ttl);
  e.max_ttl = absl::GetFlag(FLAGS_max_ttl);
  e.decode.max_image_bytes = absl::GetFlag(FLAGS_max_image_bytes);
  e.decode.max_image_pixels = absl::GetFlag(FLAGS_max_image_pixels);
  e.decode.max_text_bytes = absl::GetFlag(FLAGS_max_text_bytes);
  e.batching.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  e.batching.workers = absl::GetFlag(FLAGS_batch_workers);
  e.batching.max_delay = absl::GetFlag(FLAGS_max_batch_delay);
  e.batching.max_queued_inputs = absl::GetFlag(FLAGS_max_queued_inputs);
  e.store.max_adapters = absl::GetFlag(FLAGS_max_adapters);
  e.store.max_bytes = absl::GetFlag(FLAGS_max_adapter_bytes);
  e.store.max_adapters_per_tenant = absl::GetFlag(FLAGS_max_adapters_per_tenant);
  e.store.max_bytes_per_tenant = absl::GetFlag(FLAGS_max_adapter_bytes_per_tenant);
  e.persistence.backend = absl::GetFlag(FLAGS_adapter_store);
  e.persistence.directory = absl::GetFlag(FLAGS_adapter_dir);
  e.persistence.redis_address = absl::GetFlag(FLAGS_redis_address);
  e.persistence.redis_timeout = absl::GetFlag(FLAGS_redis_timeout);
  e.store.revalidate_after = absl::GetFlag(FLAGS_adapter_revalidate_after);
  e.persistence.redis_key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
  return e;
}

}  // namespace adaptd
