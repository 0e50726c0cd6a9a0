// Checkpoints: model, optimizer, step and RNG state in one file, written atomically (temp
// file, fsync, rename) with a checksum in its header. Files are ckpt-<step 12 digits>.rsck in
// the trial's checkpoint folder; the two newest are kept. Loading takes the newest file that
// passes its checksum and reports (and skips) any that do not.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace revsweep {

struct CheckpointState {
  int64_t step = 0;                // optimizer steps completed
  std::string trial_id;            // refuses to load another trial's checkpoint
  double train_seconds = 0;        // training wall time accumulated before this checkpoint
  double last_epoch_loss_sum = 0;  // running loss sum of the current epoch (for loss.final)
  int64_t last_epoch_loss_n = 0;
};

// Serialises `model` (its named parameters and buffers), `optimizer` and `state` plus the
// default CPU generator's state, and the model's GPU generator state when it lives on a GPU.
// Loading maps every tensor to the CPU first, then to its parameter's device, so a checkpoint
// resumes on another GPU, another node, or the CPU. Throws std::runtime_error (e.g. disk full)
// leaving older checkpoints untouched. Keeps the `keep` newest files.
void SaveCheckpoint(const std::string& dir, torch::nn::Module& model,
                    torch::optim::Optimizer& optimizer, const CheckpointState& state, int keep = 2);

// Loads the newest valid checkpoint for `trial_id` into model and optimizer and returns its
// state; nullopt when none is valid. `warn` receives one line per skipped file. With
// `only_step` >= 0 only that step's file is considered.
std::optional<CheckpointState> LoadNewestCheckpoint(
    const std::string& dir, const std::string& trial_id, torch::nn::Module& model,
    torch::optim::Optimizer& optimizer, const std::function<void(const std::string&)>& warn,
    int64_t only_step = -1);

// Loads only the model weights of a revsweep checkpoint (a .rsck file, or the newest valid one
// in a folder), for model.init_from. Throws UserError naming the file when it is missing,
// corrupt or its tensors do not fit the model.
void LoadModelWeights(const std::string& path, torch::nn::Module& model);

// The device of the model's first parameter (nullopt for a model without parameters).
std::optional<torch::Device> ParameterDevice(torch::nn::Module& model);

// Moves every AdamW state tensor to `device`. Checkpoints load to the CPU first (whatever GPU
// wrote them), so after Optimizer::load the state must follow the parameters.
void MoveOptimizerStateTo(torch::optim::Optimizer& optimizer, const torch::Device& device);

// Newest checkpoint step on disk without loading (0 when none). Does not verify checksums.
int64_t NewestCheckpointStep(const std::string& dir);

}  // namespace revsweep
