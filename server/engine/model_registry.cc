#include "server/engine/model_registry.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"

namespace adaptd::engine {
namespace {

namespace fs = std::filesystem;

constexpr char kConfigFile[] = "model.pbtxt";

// The folder's regular files with their sizes and modification times; empty
// when it cannot be listed. Cheap enough to take on every poll.
std::string FolderSignature(const fs::path& dir) {
  std::vector<std::string> entries;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec)) continue;
    const auto size = it->file_size(file_ec);
    const auto mtime = it->last_write_time(file_ec).time_since_epoch().count();
    if (file_ec) continue;
    entries.push_back(absl::StrCat(fs::relative(it->path(), dir, file_ec).string(), ":", size,
                                   ":", mtime));
  }
  std::sort(entries.begin(), entries.end());
  return absl::StrJoin(entries, ";");
}

// The folders of `repository` that hold a model.pbtxt, by name.
std::vector<std::string> ModelFolders(const std::string& repository) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(repository, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (it->is_directory(file_ec) && fs::exists(it->path() / kConfigFile, file_ec)) {
      names.push_back(it->path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

ModelStatus ReadyStatus(const std::string& model, const BackboneInfo& info) {
  ModelStatus status;
  status.model = model;
  status.backbone = info.name;
  status.state = ModelStatus::State::kReady;
  status.version = info.version;
  status.fingerprint = info.fingerprint;
  status.update_time = absl::Now();
  return status;
}

}  // namespace

absl::Status ValidateModelName(const std::string& model) {
  if (model.empty()) return absl::InvalidArgumentError("model: is empty");
  if (model == "." || model == ".." || model.find('/') != std::string::npos ||
      model.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model: \"", model, "\" is not a folder name of the model repository"));
  }
  return absl::OkStatus();
}

ModelRegistry::ModelRegistry(Options options) : options_(std::move(options)) {}

ModelRegistry::~ModelRegistry() {
  {
    absl::MutexLock lock(&poll_mu_);
    stopping_ = true;
  }
  if (poller_.joinable()) poller_.join();
}

absl::Status ModelRegistry::AddInMemory(std::shared_ptr<Backbone> backbone) {
  const std::string name = backbone->info().name;
  auto served = std::make_shared<ServedModel>();
  served->batcher = std::make_unique<Batcher>(backbone, options_.batching);
  served->backbone = std::move(backbone);
  absl::MutexLock lock(&mu_);
  if (!served_.emplace(name, std::move(served)).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("a backbone named \"", name, "\" is already loaded"));
  }
  return absl::OkStatus();
}

absl::Status ModelRegistry::LoadRepository() {
  std::error_code ec;
  if (!fs::is_directory(options_.repository, ec)) {
    return absl::NotFoundError(
        absl::StrCat("model_repository: ", options_.repository, " is not a directory"));
  }
  absl::MutexLock control(&control_mu_);
  for (const std::string& model : ModelFolders(options_.repository)) {
    LoadLocked(model, false).IgnoreError();  // Recorded in its status, and reported.
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelStatus> ModelRegistry::Load(const std::string& model, bool must_be_loaded) {
  RETURN_IF_ERROR(ValidateModelName(model));
  absl::MutexLock control(&control_mu_);
  return LoadLocked(model, must_be_loaded);
}

absl::StatusOr<ModelStatus> ModelRegistry::LoadLocked(const std::string& model,
                                                      bool must_be_loaded) {
  if (options_.repository.empty()) {
    return absl::FailedPreconditionError("model: this server has no model repository");
  }
  if (must_be_loaded) {
    absl::ReaderMutexLock lock(&mu_);
    auto it = folders_.find(model);
    if (it == folders_.end() || it->second.status.state != ModelStatus::State::kReady) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model: \"", model, "\" is not loaded; LoadModel loads it"));
    }
  }
  const fs::path dir = fs::path(options_.repository) / model;
  std::error_code ec;
  if (!fs::exists(dir / kConfigFile, ec)) {
    return absl::NotFoundError(absl::StrCat("model: no folder \"", model,
                                            "\" with a model.pbtxt in the model repository ",
                                            options_.repository));
  }
  const std::string signature = FolderSignature(dir);
  absl::StatusOr<std::shared_ptr<Backbone>> backbone =
      Backbone::Load(dir.string(), options_.device);
  absl::StatusOr<ModelStatus> status =
      backbone.ok() ? Install(model, *std::move(backbone), signature) : backbone.status();
  if (status.ok()) return status;
  if (options_.on_error) options_.on_error(dir.string(), status.status());
  RecordFailure(model, status.status(), signature);
  return absl::Status(status.status().code(),
                      absl::StrCat("model \"", model, "\": ", status.status().message()));
}

absl::StatusOr<ModelStatus> ModelRegistry::Install(const std::string& model,
                                                   std::shared_ptr<Backbone> backbone,
                                                   const std::string& signature) {
  const BackboneInfo& info = backbone->info();
  auto served = std::make_shared<ServedModel>();
  served->batcher = std::make_unique<Batcher>(backbone, options_.batching);
  served->folder = model;
  served->backbone = backbone;
  const ModelStatus status = ReadyStatus(model, info);
  // Released after the lock: the last reference drains the old batcher.
  ServedModelPtr replaced, renamed;
  {
    absl::MutexLock lock(&mu_);
    auto taken = served_.find(info.name);
    if (taken != served_.end() && taken->second->folder != model) {
      const std::string owner = taken->second->folder.empty()
                                    ? "a backbone given in memory"
                                    : absl::StrCat("folder \"", taken->second->folder, "\"");
      return absl::AlreadyExistsError(absl::StrCat("its backbone name \"", info.name,
                                                   "\" is already served by ", owner));
    }
    Folder& folder = folders_[model];
    if (folder.status.state == ModelStatus::State::kReady && folder.status.backbone != info.name) {
      auto old = served_.find(folder.status.backbone);
      if (old != served_.end()) {
        renamed = std::move(old->second);
        served_.erase(old);
      }
    }
    ServedModelPtr& slot = served_[info.name];
    replaced = std::move(slot);
    slot = std::move(served);
    folder.status = status;
    folder.signature = signature;
  }
  Notify(status);
  return status;
}

ModelStatus ModelRegistry::RecordFailure(const std::string& model, const absl::Status& error,
                                         const std::string& signature) {
  ModelStatus status;
  {
    absl::MutexLock lock(&mu_);
    Folder& folder = folders_[model];
    folder.signature = signature;
    folder.status.model = model;
    folder.status.update_time = absl::Now();
    if (folder.status.state == ModelStatus::State::kReady) {
      folder.status.message = absl::StrCat("reload failed, the previous version still serves: ",
                                           error.message());
    } else {
      folder.status.state = ModelStatus::State::kFailed;
      folder.status.backbone.clear();
      folder.status.version.clear();
      folder.status.fingerprint.clear();
      folder.status.message = std::string(error.message());
    }
    status = folder.status;
  }
  Notify(status);
  return status;
}

absl::StatusOr<ModelStatus> ModelRegistry::Unload(const std::string& model) {
  RETURN_IF_ERROR(ValidateModelName(model));
  absl::MutexLock control(&control_mu_);
  return UnloadLocked(model, "unloaded on request");
}

absl::StatusOr<ModelStatus> ModelRegistry::UnloadLocked(const std::string& model,
                                                        const std::string& why) {
  ServedModelPtr removed;  // Released after the lock; see Install.
  ModelStatus status;
  {
    absl::MutexLock lock(&mu_);
    auto it = folders_.find(model);
    if (it == folders_.end() || it->second.status.state != ModelStatus::State::kReady) {
      return absl::NotFoundError(absl::StrCat("model: \"", model, "\" is not loaded"));
    }
    ModelStatus& s = it->second.status;
    auto served = served_.find(s.backbone);
    if (served != served_.end()) {
      removed = std::move(served->second);
      served_.erase(served);
    }
    s.state = ModelStatus::State::kUnloaded;
    s.message = why;
    s.update_time = absl::Now();
    status = s;
  }
  Notify(status);
  return status;
}

void ModelRegistry::Poll() {
  absl::MutexLock control(&control_mu_);
  const std::vector<std::string> present = ModelFolders(options_.repository);
  for (const std::string& model : present) {
    const std::string signature = FolderSignature(fs::path(options_.repository) / model);
    bool known = false, changed = false;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = folders_.find(model);
      known = it != folders_.end();
      changed = known && it->second.signature != signature;
    }
    if (!known || changed) LoadLocked(model, false).IgnoreError();  // Recorded and reported.
  }
  std::vector<std::string> gone;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = folders_.begin(); it != folders_.end();) {
      if (std::binary_search(present.begin(), present.end(), it->first)) {
        ++it;
      } else if (it->second.status.state == ModelStatus::State::kReady) {
        gone.push_back((it++)->first);
      } else {
        it = folders_.erase(it);  // Failed or unloaded, and now gone: forgotten.
      }
    }
  }
  for (const std::string& model : gone) {
    UnloadLocked(model, "its folder left the model repository").IgnoreError();
  }
}

void ModelRegistry::StartPolling(absl::Duration interval) {
  poller_ = std::thread([this, interval] { PollLoop(interval); });
}

void ModelRegistry::PollLoop(absl::Duration interval) {
  while (true) {
    {
      absl::MutexLock lock(&poll_mu_);
      // Wakes at once on destruction; otherwise after `interval`.
      if (poll_mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
    }
    Poll();
  }
}

absl::StatusOr<ServedModelPtr> ModelRegistry::Find(const std::string& name) const {
  if (name.empty()) return absl::InvalidArgumentError("backbone: is empty");
  absl::ReaderMutexLock lock(&mu_);
  auto it = served_.find(name);
  if (it != served_.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [served, model] : served_) names.push_back(served);
  std::sort(names.begin(), names.end());
  return absl::NotFoundError(absl::StrCat("backbone: unknown backbone \"", name,
                                          "\"; loaded: ", absl::StrJoin(names, ", ")));
}

std::vector<BackboneInfo> ModelRegistry::Backbones() const {
  std::vector<BackboneInfo> infos;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, model] : served_) infos.push_back(model->backbone->info());
  }
  std::sort(infos.begin(), infos.end(),
            [](const BackboneInfo& a, const BackboneInfo& b) { return a.name < b.name; });
  return infos;
}

std::vector<ModelStatus> ModelRegistry::Statuses() const {
  std::vector<ModelStatus> statuses;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [model, folder] : folders_) statuses.push_back(folder.status);
  return statuses;
}

void ModelRegistry::Notify(const ModelStatus& status) const {
  if (options_.on_status) options_.on_status(status);
}

}  // namespace adaptd::engine
