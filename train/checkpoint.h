// Saving training state so that an interrupt never costs more than the
// last few minutes: LibTorch archives written atomically (a temp file beside
// the target, renamed over it), and the checkpoint of a resumable run,
// tagged with what makes it that run so that only the same run continues
// from it. Pretraining and meta-training share them. A checkpoint saved on a
// GPU resumes on the CPU and the other way round: it is read onto the CPU,
// and the caller moves what it loaded to its device (device.h).
//
//   Checkpointer checkpoint(work_dir + "/checkpoint.pt", RunKey(options));
//   RETURN_IF_ERROR(checkpoint.Save([&](torch::serialize::OutputArchive& a) {
//     a.write("step", torch::tensor({step}));
//   }));
//
// No LibTorch headers here. Thread-compatible: one run at a time per file.
#ifndef ADAPTD_TRAIN_CHECKPOINT_H_
#define ADAPTD_TRAIN_CHECKPOINT_H_

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace adaptd::train {

// Serialises `archive` and writes it with adaptd::WriteFileAtomically:
// `path` holds the old file or the new one, never a torn one. LibTorch's
// errors come back as INTERNAL, prefixed by `path`.
absl::Status SaveArchive(torch::serialize::OutputArchive& archive, const std::string& path);

// One run's checkpoint file. Thread-compatible.
class Checkpointer {
 public:
  // `run_key` is what makes a checkpoint this run's (data shape, options,
  // seed); it is saved with the state and compared on loading.
  Checkpointer(std::string path, std::string run_key);

  const std::string& path() const { return path_; }
  bool Exists() const;

  // Calls `write` to fill an archive, adds the run key and saves it with
  // SaveArchive. Exceptions `write` throws come back as INTERNAL.
  absl::Status Save(const std::function<void(torch::serialize::OutputArchive&)>& write) const;

  // Reads the file, its tensors onto the CPU whatever device saved them,
  // and, if it is this run's, calls `read` on it.
  // FAILED_PRECONDITION, with `read` not called, when the file is another
  // run's: the message names the file and both runs. Unreadable files and
  // exceptions `read` throws come back as INTERNAL.
  absl::Status Load(const std::function<void(torch::serialize::InputArchive&)>& read) const;

 private:
  std::string path_;
  std::string run_key_;
};

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_CHECKPOINT_H_
