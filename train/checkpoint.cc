#include "train/checkpoint.h"

#include <filesystem>
#include <utility>

#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::train {

absl::Status SaveArchive(torch::serialize::OutputArchive& archive, const std::string& path) {
  std::string bytes;
  RETURN_IF_ERROR(engine::GuardTorch("saving " + path, [&]() -> absl::Status {
    archive.save_to([&bytes](const void* data, size_t size) -> size_t {
      bytes.append(static_cast<const char*>(data), size);
      return size;
    });
    return absl::OkStatus();
  }));
  return WriteFileAtomically(path, bytes);
}

Checkpointer::Checkpointer(std::string path, std::string run_key)
    : path_(std::move(path)), run_key_(std::move(run_key)) {}

bool Checkpointer::Exists() const {
  std::error_code ec;
  return std::filesystem::exists(path_, ec);
}

absl::Status Checkpointer::Save(
    const std::function<void(torch::serialize::OutputArchive&)>& write) const {
  return engine::GuardTorch("saving checkpoint " + path_, [&]() -> absl::Status {
    torch::serialize::OutputArchive archive;
    write(archive);
    archive.write("run", c10::IValue(run_key_));
    return SaveArchive(archive, path_);
  });
}

absl::Status Checkpointer::Load(
    const std::function<void(torch::serialize::InputArchive&)>& read) const {
  return engine::GuardTorch("loading checkpoint " + path_, [&]() -> absl::Status {
    torch::serialize::InputArchive archive;
    // Onto the CPU whatever device wrote it: a run on a GPU saves its state
    // from there, and the checkpoint still resumes on a machine without one.
    archive.load_from(path_, c10::Device(c10::kCPU));
    c10::IValue run;
    const bool tagged = archive.try_read("run", run) && run.isString();
    if (!tagged || run.toStringRef() != run_key_) {
      return absl::FailedPreconditionError(
          absl::StrCat(path_, " is from another run (", tagged ? run.toStringRef() : "?",
                       "; this run is ", run_key_, ")"));
    }
    read(archive);
    return absl::OkStatus();
  });
}

}  // namespace adaptd::train
