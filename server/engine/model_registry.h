// The backbones an engine serves, each with its batcher, by backbone name,
// and the folders of the model repository they come from, with a status for
// each (ready, failed with the reason, unloaded). Folders are loaded,
// reloaded and unloaded while requests run:
//   - a request takes a ServedModelPtr and uses it to the end, whatever
//     happens to the registry meanwhile;
//   - a reload loads the new backbone beside the old one, then swaps it in
//     under the lock: calls that took the old one finish on it, later calls
//     get the new one, none sees neither;
//   - a folder that fails to load is recorded as FAILED (or, on a reload,
//     leaves the previous version serving) and never affects other models.
// Thread-safe. Loading happens outside the lock that lookups take, one load,
// unload or poll at a time.
//
//   ModelRegistry registry(options);
//   RETURN_IF_ERROR(registry.LoadRepository());
//   ASSIGN_OR_RETURN(ServedModelPtr model, registry.Find("glyphs"));
//   RETURN_IF_ERROR(model->batcher->Submit(...));
#ifndef ADAPTD_SERVER_ENGINE_MODEL_REGISTRY_H_
#define ADAPTD_SERVER_ENGINE_MODEL_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <c10/core/Device.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/base/types.h"
#include "server/engine/batching/batcher.h"
#include "server/engine/batching/batching_options.h"
#include "server/engine/model/backbone.h"

namespace adaptd::engine {

struct ServedModel {
  std::shared_ptr<Backbone> backbone;
  // Destroyed with the model, which drains its queue and joins its workers
  // on the thread that drops the last reference. So a ServedModelPtr must
  // never be held by a batcher callback (which runs on a worker): hold the
  // Backbone instead.
  std::unique_ptr<Batcher> batcher;
  std::string folder;  // Its folder's name; empty for a backbone given in memory.
};
using ServedModelPtr = std::shared_ptr<const ServedModel>;

class ModelRegistry {
 public:
  struct Options {
    // The model repository; empty: only backbones given in memory, and
    // Load answers FAILED_PRECONDITION.
    std::string repository;
    c10::Device device = c10::kCPU;
    // Each backbone's batcher.
    BatchingOptions batching;
    // A folder that failed to load (full path) and why. May be empty.
    std::function<void(const std::string& folder, const absl::Status&)> on_error;
    // Every change of a folder's status, after it took effect, outside the
    // registry's locks. May be empty.
    std::function<void(const ModelStatus&)> on_status;
  };

  explicit ModelRegistry(Options options);
  // Stops polling, then releases the models: their batchers drain.
  ~ModelRegistry();

  // Serves `backbone`, which has no folder. ALREADY_EXISTS for a taken name.
  absl::Status AddInMemory(std::shared_ptr<Backbone> backbone);
  // Loads every folder of the repository holding a model.pbtxt; one that
  // fails is FAILED and reported. NOT_FOUND if the repository is not a
  // directory.
  absl::Status LoadRepository();
  // Loads folder `model`, or reloads it if it is loaded; with
  // `must_be_loaded`, a folder not loaded is FAILED_PRECONDITION. A load
  // error keeps its code, with the folder named (a bad model.pbtxt is
  // INVALID_ARGUMENT naming its field; a missing folder NOT_FOUND).
  absl::StatusOr<ModelStatus> Load(const std::string& model, bool must_be_loaded);
  // Stops serving folder `model`'s backbone. NOT_FOUND if it is not loaded.
  absl::StatusOr<ModelStatus> Unload(const std::string& model);
  // Brings the registry in line with the repository: loads new folders,
  // reloads folders whose files changed (names, sizes, modification times),
  // unloads folders that are gone. A folder unloaded by Unload, or that
  // failed, is tried again only once its files change.
  void Poll();
  // Calls Poll() every `interval` on a thread of its own until destruction.
  // REQUIRES: interval > 0; called at most once.
  void StartPolling(absl::Duration interval);

  // NOT_FOUND naming the loaded backbones if `name` is not served.
  absl::StatusOr<ServedModelPtr> Find(const std::string& name) const;
  // The served backbones, by name.
  std::vector<BackboneInfo> Backbones() const;
  // Every folder known, by folder name.
  std::vector<ModelStatus> Statuses() const;

 private:
  struct Folder {
    ModelStatus status;
    // The folder's files when it was last tried; Poll compares it.
    std::string signature;
  };

  // Load, with control_mu_ held.
  absl::StatusOr<ModelStatus> LoadLocked(const std::string& model, bool must_be_loaded)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  // Serves `backbone` for folder `model`, replacing what the folder served.
  absl::StatusOr<ModelStatus> Install(const std::string& model,
                                      std::shared_ptr<Backbone> backbone,
                                      const std::string& signature)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  // Records a failed load; a loaded folder keeps serving, with the reason
  // in its message.
  ModelStatus RecordFailure(const std::string& model, const absl::Status& status,
                            const std::string& signature)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  absl::StatusOr<ModelStatus> UnloadLocked(const std::string& model, const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  void PollLoop(absl::Duration interval);
  void Notify(const ModelStatus& status) const;

  const Options options_;
  // Held across a whole load, unload or poll, never by lookups.
  absl::Mutex control_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServedModelPtr> served_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Folder> folders_ ABSL_GUARDED_BY(mu_);
  absl::Mutex poll_mu_;
  bool stopping_ ABSL_GUARDED_BY(poll_mu_) = false;
  std::thread poller_;
};

// INVALID_ARGUMENT unless `model` is one folder name: not empty, no '/',
// not "." or "..".
absl::Status ValidateModelName(const std::string& model);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_MODEL_REGISTRY_H_
