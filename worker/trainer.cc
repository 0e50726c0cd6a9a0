#include "worker/trainer.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "common/user_error.h"
#include "worker/async_step.h"
#include "worker/autocast_scope.h"
#include "worker/checkpoint.h"
#include "worker/evaluator.h"
#include "worker/fast_ops.h"
#include "worker/fault_pause.h"
#include "worker/gpt.h"
#include "worker/gpt2_import.h"
#include "worker/grad_sync.h"

namespace revsweep {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Warmup (linear) then cosine from lr to min_lr over the remaining steps.
double LearningRate(const TrainOptions& t, int64_t step, int64_t total) {
  if (t.warmup_steps > 0 && step < t.warmup_steps)
    return t.lr * static_cast<double>(step + 1) / static_cast<double>(t.warmup_steps);
  const double span = std::max<int64_t>(1, total - t.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - t.warmup_steps) / span);
  return t.min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (t.lr - t.min_lr);
}

struct Batch {
  torch::Tensor input;    // (B, T) int64, right-padded with pad
  torch::Tensor rows;     // (N) int64: flattened positions that are not padding, ascending
  torch::Tensor keep;     // (M) int64: indices into `rows` of the positions with a target
  torch::Tensor targets;  // (M) int64: those targets
  int64_t tokens = 0;     // counted targets (M)
};

// Builds bos + prompt + completion + eos rows, right-padded with pad, as one flat int64 host
// tensor [input (B*T) | rows (N) | keep (M) | targets (M)] and uploads it to `device` with
// one copy: on CUDA from pinned memory without waiting (the caching host allocator keeps the
// pinned block until the copy has run); on the CPU the parts are views of the host tensor.
Batch MakeBatch(const TokenizedTask& task, const std::vector<int64_t>& docs, bool completion_only,
                const torch::Device& device) {
  Batch b;
  if (docs.empty()) return b;
  size_t longest = 0;
  for (int64_t d : docs)
    longest = std::max(longest, task.train[d].prompt.size() + task.train[d].completion.size() + 2);
  const int64_t B = static_cast<int64_t>(docs.size()), T = static_cast<int64_t>(longest) - 1;
  std::vector<int64_t> input(static_cast<size_t>(B * T), task.pad_id);
  std::vector<int64_t> rows, keep, targets;
  std::vector<int32_t> seq;
  for (int64_t r = 0; r < B; ++r) {
    const TokDoc& d = task.train[docs[r]];
    seq.clear();
    seq.push_back(task.bos_id);
    seq.insert(seq.end(), d.prompt.begin(), d.prompt.end());
    seq.insert(seq.end(), d.completion.begin(), d.completion.end());
    seq.push_back(task.eos_id);
    // Position j predicts seq[j+1]; with loss on the completion only, targets start at the
    // first completion token (documents without a prompt are all completion).
    const size_t first_target = completion_only ? d.prompt.size() : 0;
    for (size_t j = 0; j + 1 < seq.size(); ++j) {
      input[static_cast<size_t>(r * T) + j] = seq[j];
      if (j >= first_target) {
        keep.push_back(static_cast<int64_t>(rows.size()));
        targets.push_back(seq[j + 1]);
        ++b.tokens;
      }
      rows.push_back(r * T + static_cast<int64_t>(j));
    }
  }
  const int64_t N = static_cast<int64_t>(rows.size()), M = static_cast<int64_t>(keep.size());
  const bool pinned = device.is_cuda();
  torch::Tensor host =
      torch::empty({B * T + N + 2 * M}, torch::TensorOptions(torch::kLong).pinned_memory(pinned));
  int64_t* out = host.data_ptr<int64_t>();
  out = std::copy(input.begin(), input.end(), out);
  out = std::copy(rows.begin(), rows.end(), out);
  out = std::copy(keep.begin(), keep.end(), out);
  std::copy(targets.begin(), targets.end(), out);
  const torch::Tensor flat =
      device.is_cpu() ? host : host.to(device, torch::kLong, /*non_blocking=*/true);
  b.input = flat.narrow(0, 0, B * T).view({B, T});
  b.rows = flat.narrow(0, B * T, N);
  b.keep = flat.narrow(0, B * T + N, M);
  b.targets = flat.narrow(0, B * T + N + M, M);
  return b;
}

int64_t CountTargets(const TokenizedTask& task, const std::vector<int64_t>& docs,
                     bool completion_only) {
  int64_t n = 0;
  for (int64_t d : docs) {
    const TokDoc& doc = task.train[d];
    const int64_t len = static_cast<int64_t>(doc.prompt.size() + doc.completion.size()) + 1;
    n += len - (completion_only ? static_cast<int64_t>(doc.prompt.size()) : 0);
  }
  return n;
}

}  // namespace

int64_t StepsPerEpoch(int64_t n, int64_t b) { return (n + b - 1) / b; }

std::vector<int64_t> EpochPermutation(int64_t n, int64_t seed, int64_t epoch) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 1000003ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

GPTConfig ModelConfigFor(const TrialConfig& trial, const TokenizedTask& task) {
  const TrainOptions& opt = trial.train;
  int64_t longest = 0;
  for (const auto& d : task.train)
    longest = std::max<int64_t>(longest, d.prompt.size() + d.completion.size() + 2);
  int64_t longest_eval = 0;
  for (const auto& s : task.evals)
    for (const auto& it : s.items)
      longest_eval = std::max<int64_t>(longest_eval, it.prompt.size() + 1);
  for (const auto& l : task.likelihood)
    longest_eval = std::max<int64_t>(
        longest_eval, l.prompt.size() + 1 +
                          std::max({l.correct.size(), l.random.size(), l.random_person.size()}));
  GPTConfig gc;
  gc.vocab_size = task.vocab_size;
  gc.block_size = trial.model.block_size > 0
                      ? trial.model.block_size
                      : std::max(longest, longest_eval + opt.eval_max_new_tokens);
  gc.n_layer = trial.model.n_layer;
  gc.n_head = trial.model.n_head;
  gc.d_model = trial.model.d_model;
  gc.dropout = trial.model.dropout;
  return gc;
}

TrainResult RunTrial(const TrialConfig& trial, const TokenizedTask& task, Communicator& comm,
                     const TrainContext& ctx, const TrainHooks& hooks) {
  const TrainOptions& opt = trial.train;
  const bool leader = comm.rank() == 0;
  const bool completion_only = opt.loss_on == "completion";
  // No documents is fine only for an evaluation-only trial (train.epochs 0, e.g. Experiment 2).
  if (task.train.empty() && opt.epochs > 0) {
    throw TrialError(Outcome::kFatal,
                     "dataset has no training documents (train.epochs 0 evaluates without them)");
  }

  const GPTConfig gc = ModelConfigFor(trial, task);
  int64_t longest = 0;
  for (const auto& d : task.train)
    longest = std::max<int64_t>(longest, d.prompt.size() + d.completion.size() + 2);
  if (longest > gc.block_size)
    throw TrialError(Outcome::kFatal, "model.block_size " + std::to_string(gc.block_size) +
                                          " is shorter than the longest document (" +
                                          std::to_string(longest) + " tokens)");

  torch::manual_seed(static_cast<uint64_t>(opt.seed));
  GPT model(gc);
  if (!trial.model.init_from.empty()) {
    // Pretrained start: a Hugging Face GPT-2 folder or a revsweep checkpoint. Errors are the
    // user's (wrong path, mismatched shapes): never retried.
    try {
      if (IsGpt2CheckpointDir(trial.model.init_from))
        LoadGpt2Weights(model, trial.model.init_from);
      else
        LoadModelWeights(trial.model.init_from, *model);
    } catch (const UserError& e) {
      throw TrialError(Outcome::kFatal, e.what());
    }
  }
  const torch::Device device(ctx.device);
  model->to(device);
  std::vector<torch::Tensor> decay, no_decay, all;
  for (auto& p : model->parameters()) {
    (p.dim() >= 2 ? decay : no_decay).push_back(p);
    all.push_back(p);
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(opt.lr)
                                                              .betas({opt.beta1, opt.beta2})
                                                              .weight_decay(opt.weight_decay)));
  groups.emplace_back(
      no_decay,
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(opt.lr).betas({opt.beta1, opt.beta2}).weight_decay(0.0)));
  torch::optim::AdamW optimizer(std::move(groups));

  GradSync sync(all, &comm, static_cast<size_t>(ctx.bucket_mb * 1024 * 1024));
  sync.BroadcastParameters();

  const int64_t n_docs = static_cast<int64_t>(task.train.size());
  const int64_t global_batch = opt.batch_size;
  const int64_t spe = StepsPerEpoch(n_docs, global_batch);
  const int64_t total_steps = spe * opt.epochs;

  TrainResult result;
  result.params = model->NumParams();
  result.total_steps = total_steps;

  CheckpointState state;
  state.trial_id = trial.id;
  // Every rank restores from the shared run directory; the leader warns. The leader's choice
  // decides: a rank that found another newest valid file (a file it could not read, or a
  // directory listing that lags on a network filesystem) loads the leader's step instead, and
  // fails the attempt when it cannot, so two ranks never train on from different steps.
  auto warn = [&](const std::string& w) {
    if (leader && hooks.on_warning) hooks.on_warning(w);
  };
  if (auto restored = LoadNewestCheckpoint(ctx.checkpoint_dir, trial.id, *model, optimizer, warn))
    state = *restored;
  if (comm.size() > 1) {
    torch::Tensor s = torch::tensor({static_cast<double>(state.step)},
                                    torch::TensorOptions(torch::kFloat64).device(device));
    comm.Broadcast(s, 0);
    const int64_t leader_step = static_cast<int64_t>(s.cpu().item<double>());
    if (leader_step != state.step) {
      std::optional<CheckpointState> again;
      if (leader_step > 0)
        again = LoadNewestCheckpoint(ctx.checkpoint_dir, trial.id, *model, optimizer, warn,
                                     leader_step);
      if (!again)
        throw TrialError(Outcome::kCrash,
                         "rank " + std::to_string(comm.rank()) + " restored step " +
                             std::to_string(state.step) + " but the leader step " +
                             std::to_string(leader_step) + ", which this rank cannot load");
      state = *again;
    }
  }
  result.start_step = state.step;
  if (leader && hooks.on_start) hooks.on_start(state.step);

  auto last_report = Clock::now();
  const auto t_start = Clock::now();
  double report_loss_sum = 0, report_tokens = 0;
  int64_t report_n = 0;
  auto last_ckpt = Clock::now();
  std::vector<int64_t> perm;
  int64_t perm_epoch = -1;
  // The step losses: read by the host every step on the CPU (nothing to wait for there);
  // on CUDA kept on the device and read every ctx.loss_read_every (32) steps at most, and
  // whenever the group agrees to (the leader's progress or checkpoint, a stop, the last
  // step): one transfer, instead of two host syncs per step.
  const int64_t read_every =
      ctx.loss_read_every > 0 ? ctx.loss_read_every : (device.is_cuda() ? 32 : 1);
  const bool defer_reads = read_every > 1;
  StepLosses losses(device, read_every);
  auto account = [&](const std::vector<StepLosses::Step>& read) {
    for (const StepLosses::Step& s : read) {
      if (s.step % spe == 0) {
        state.last_epoch_loss_sum = 0;
        state.last_epoch_loss_n = 0;
      }
      if (!std::isfinite(s.loss))
        throw TrialError(Outcome::kCrash, "loss is " + std::to_string(s.loss) + " at step " +
                                              std::to_string(s.step + 1));
      state.last_epoch_loss_sum += s.loss;
      state.last_epoch_loss_n += 1;
      report_loss_sum += s.loss;
      ++report_n;
    }
  };
  // bf16 autocast (CUDA or CPU): matmuls in bf16, master weights and optimizer state in fp32.
  const bool autocast = opt.precision == "bf16";
  // The leader's progress report (hooks.on_progress): steps, mean loss and tokens/s since the
  // last one.
  auto report_progress = [&](Clock::time_point now) {
    ProgressRow p;
    p.trial_id = trial.id;
    p.step = state.step;
    p.total_steps = total_steps;
    p.loss = report_loss_sum / std::max<int64_t>(1, report_n);
    p.tokens_per_s = report_tokens / std::max(1e-9, Seconds(last_report, now));
    p.elapsed_s = state.train_seconds + Seconds(t_start, now);
    hooks.on_progress(p, {{state.step, p.loss}});
    last_report = now;
    report_loss_sum = report_tokens = 0;
    report_n = 0;
  };

  const FaultPausePoint fault_pause{opt.fault_pause_dir, trial.id, ctx.world_rank,
                                    ctx.attempt_number, result.start_step};
  model->train();
  int64_t step = state.step;
  for (; step < total_steps; ++step) {
    const int64_t epoch = step / spe, in_epoch = step % spe;
    if (epoch != perm_epoch) {
      perm = EpochPermutation(n_docs, opt.seed, epoch);
      perm_epoch = epoch;
    }
    const int64_t lo = in_epoch * global_batch, hi = std::min(n_docs, lo + global_batch);
    std::vector<int64_t> global(perm.begin() + lo, perm.begin() + hi);
    const int64_t global_tokens = CountTargets(task, global, completion_only);
    // Rank r reads a contiguous, near-equal share of the global batch.
    const int64_t k = comm.size(), r = comm.rank(), n = hi - lo;
    const int64_t a = n * r / k, b = n * (r + 1) / k;
    std::vector<int64_t> local(global.begin() + a, global.begin() + b);

    const Batch batch = MakeBatch(task, local, completion_only, device);
    // This rank's loss sum goes into the step's slot on the device (no read back here).
    torch::Tensor loss_slot = losses.Slot(step, global_tokens);
    if (batch.tokens > 0) {
      // Padding does no work: every per-position computation runs on the real positions only
      // (HiddenPacked), and the output projection (the largest matmul of a small model) and
      // the cross-entropy only on positions with a target (not prompts, with the loss on
      // completions only).
      torch::Tensor logits;
      {
        AutocastScope scope(autocast, device.type());
        auto hidden = model->HiddenPacked(batch.input, batch.rows);  // (N, C)
        // Every position has a target (train.loss_on all): no gather (and no scatter back).
        if (batch.keep.numel() != hidden.size(0)) hidden = hidden.index_select(0, batch.keep);
        logits = model->Logits(hidden);  // (M, V)
      }
      logits = logits.to(torch::kFloat32);  // the loss in fp32 (a no-op without autocast)
      // cross_entropy(reduction sum); one pass each way on the CPU (worker/fast_ops.h).
      auto loss_sum = CrossEntropySum(logits, batch.targets);
      // Scaled so the group's sum of gradients is the gradient of the global mean (for k = 2,
      // bit-identical to scaling by k and averaging: powers of two scale exactly).
      auto loss = loss_sum * (1.0 / static_cast<double>(global_tokens));
      loss.backward();
      loss_slot.copy_(loss_sum.detach());  // float32 -> float64: exact
    } else {
      loss_slot.zero_();
    }
    if (opt.fault_nan_at_step > 0 && step + 1 == opt.fault_nan_at_step &&
        ctx.attempt_number <= opt.fault_nan_attempts)
      loss_slot.fill_(std::nan(""));  // test-only fault injection
    sync.SumGradients();
    comm.AllReduceAverage(loss_slot);
    // CPU: read now (a non-finite loss stops the trial before the optimizer step, as always).
    if (!defer_reads) account(losses.Read(k));
    const double lr = LearningRate(opt, step, total_steps);
    for (auto& g : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    // Clip (over `all`: the optimizer's parameters) and step, fused on the CPU
    // (worker/fast_ops.h); libtorch's otherwise (CUDA).
    if (!ClipAndAdamWStep(optimizer, opt.grad_clip)) {
      // libtorch's clip_grad_norm_ reads the norm back (a host sync); the same operations
      // without the read on a device (worker/async_step.h).
      if (opt.grad_clip > 0 && !device.is_cpu())
        ClipGradNormNoSync(all, opt.grad_clip);
      else if (opt.grad_clip > 0)
        torch::nn::utils::clip_grad_norm_(all, opt.grad_clip);
      optimizer.step();
    }
    // Not optimizer.zero_grad(): with several ranks the gradients are views into GradSync's
    // buckets, which Optimizer::zero_grad() refuses to detach_().
    sync.ZeroGradients();

    state.step = step + 1;
    report_tokens += static_cast<double>(global_tokens);

    // Test only ("" = off). The leader reports where it pauses before it waits.
    MaybeFaultPause(fault_pause, state.step, hooks.stop_requested, [&] {
      if (leader && hooks.on_progress) report_progress(Clock::now());
    });
    const auto now = Clock::now();
    const bool stop_here = hooks.stop_requested && hooks.stop_requested();
    const bool ckpt_due =
        (opt.checkpoint_every_steps > 0 && state.step % opt.checkpoint_every_steps == 0) ||
        (opt.checkpoint_every_seconds > 0 &&
         Seconds(last_ckpt, now) >= opt.checkpoint_every_seconds);
    // Pending losses (CUDA only) are read when any rank asks: the leader before it checkpoints
    // or reports, every rank when the buffer is full or training ends. One all-reduce agrees
    // on that and on stopping (bit 0: stop, bit 1: read).
    const bool want_read =
        losses.pending() > 0 &&
        (losses.full() || state.step == total_steps ||
         (leader && (ckpt_due ||
                     (hooks.on_progress && Seconds(last_report, now) >= hooks.progress_every_s))));
    const uint32_t agreed = comm.AnyBits((stop_here ? 1u : 0u) | (want_read ? 2u : 0u));
    const bool stop = (agreed & 1u) != 0;
    if (losses.pending() > 0 && agreed != 0) account(losses.Read(k));
    if (leader && (stop || (ckpt_due && state.step < total_steps))) {
      state.train_seconds += Seconds(t_start, now);
      try {
        SaveCheckpoint(ctx.checkpoint_dir, *model, optimizer, state);
      } catch (const std::exception& e) {
        throw TrialError(Outcome::kCrash, std::string("checkpoint failed: ") + e.what());
      }
      state.train_seconds -= Seconds(t_start, now);
      last_ckpt = now;
    }
    if (leader && hooks.on_progress &&
        (Seconds(last_report, now) >= hooks.progress_every_s || state.step == total_steps ||
         stop)) {
      report_progress(now);
    }
    if (stop) {
      result.preempted = true;
      result.end_step = state.step;
      return result;
    }
  }
  result.end_step = state.step;
  const double train_seconds = state.train_seconds + Seconds(t_start, Clock::now());
  if (leader) {
    const auto t_eval = Clock::now();
    result.metrics = Evaluate(model, task, opt.eval_max_new_tokens);
    result.metrics["eval_seconds"] = Seconds(t_eval, Clock::now());
    result.metrics["loss.final"] =
        state.last_epoch_loss_sum / std::max<int64_t>(1, state.last_epoch_loss_n);
    result.metrics["params"] = static_cast<double>(result.params);
    result.metrics["steps"] = static_cast<double>(total_steps);
    result.metrics["train_seconds"] = train_seconds;
    int64_t tokens = 0;
    for (const auto& d : task.train) tokens += d.prompt.size() + d.completion.size() + 1;
    // Evaluation only (train.epochs 0, or no training documents): no training throughput.
    result.metrics["tokens_per_s"] = spe == 0 ? 0.0
                                              : static_cast<double>(tokens) *
                                                    (total_steps - result.start_step) / spe /
                                                    std::max(1e-9, Seconds(t_start, Clock::now()));
  }
  return result;
}

bool KeepFreedMemoryForTraining() {
  return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
}

}  // namespace revsweep
