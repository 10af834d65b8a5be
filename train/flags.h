// The flags several adapt-train commands read. A flag only one command
// reads is defined in that command's file (cmd_*.cc).
#ifndef ADAPTD_TRAIN_FLAGS_H_
#define ADAPTD_TRAIN_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, data);
ABSL_DECLARE_FLAG(std::string, extra_data);
ABSL_DECLARE_FLAG(std::string, corpus);
ABSL_DECLARE_FLAG(std::string, val_data);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(std::string, device);
ABSL_DECLARE_FLAG(std::string, arch);
ABSL_DECLARE_FLAG(bool, resume);
ABSL_DECLARE_FLAG(double, checkpoint_seconds);
ABSL_DECLARE_FLAG(std::string, fashion_dir);
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, tokenizer);
ABSL_DECLARE_FLAG(bool, lower_case);
ABSL_DECLARE_FLAG(int, max_len);
ABSL_DECLARE_FLAG(std::string, pooling);
ABSL_DECLARE_FLAG(std::string, split);
ABSL_DECLARE_FLAG(int, episodes);
ABSL_DECLARE_FLAG(int, queries);
ABSL_DECLARE_FLAG(int, val_episodes);
ABSL_DECLARE_FLAG(double, finetune_lr);
ABSL_DECLARE_FLAG(std::string, meta_learner);
ABSL_DECLARE_FLAG(std::string, name);
ABSL_DECLARE_FLAG(std::string, resize_mode);
ABSL_DECLARE_FLAG(std::string, ways);
ABSL_DECLARE_FLAG(std::string, shots);
ABSL_DECLARE_FLAG(int, resize_shorter_side);
ABSL_DECLARE_FLAG(std::vector<std::string>, background);

#endif  // ADAPTD_TRAIN_FLAGS_H_
