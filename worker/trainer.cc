#include "worker/trainer.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "common/user_error.h"
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
  torch::Tensor input;    // (B, T) int64
  torch::Tensor target;   // (B, T) int64, -1 = ignored
  torch::Tensor rows;     // (N) int64: flattened positions that are not padding, ascending
  torch::Tensor keep;     // (M) int64: indices into `rows` of the positions with a target
  torch::Tensor targets;  // (M) int64: those targets
  int64_t tokens = 0;     // counted targets (M)
};

// Builds bos + prompt + completion + eos rows, right-padded with pad (targets -1).
Batch MakeBatch(const TokenizedTask& task, const std::vector<int64_t>& docs, bool completion_only) {
  Batch b;
  if (docs.empty()) return b;
  size_t longest = 0;
  for (int64_t d : docs)
    longest = std::max(longest, task.train[d].prompt.size() + task.train[d].completion.size() + 2);
  const int64_t B = static_cast<int64_t>(docs.size()), T = static_cast<int64_t>(longest) - 1;
  b.input = torch::full({B, T}, task.pad_id, torch::kLong);  // (B, T)
  b.target = torch::full({B, T}, -1, torch::kLong);          // (B, T)
  auto in = b.input.accessor<int64_t, 2>();
  auto tg = b.target.accessor<int64_t, 2>();
  std::vector<int64_t> rows, keep, targets;
  for (int64_t r = 0; r < B; ++r) {
    const TokDoc& d = task.train[docs[r]];
    std::vector<int32_t> seq;
    seq.push_back(task.bos_id);
    seq.insert(seq.end(), d.prompt.begin(), d.prompt.end());
    seq.insert(seq.end(), d.completion.begin(), d.completion.end());
    seq.push_back(task.eos_id);
    // Position j predicts seq[j+1]; with loss on the completion only, targets start at the
    // first completion token (documents without a prompt are all completion).
    const size_t first_target = completion_only ? d.prompt.size() : 0;
    for (size_t j = 0; j + 1 < seq.size(); ++j) {
      in[r][j] = seq[j];
      if (j >= first_target) {
        tg[r][j] = seq[j + 1];
        keep.push_back(static_cast<int64_t>(rows.size()));
        targets.push_back(seq[j + 1]);
        ++b.tokens;
      }
      rows.push_back(r * T + static_cast<int64_t>(j));
    }
  }
  b.rows = torch::tensor(rows, torch::kLong);
  b.keep = torch::tensor(keep, torch::kLong);
  b.targets = torch::tensor(targets, torch::kLong);
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
  torch::Tensor loss_buf = torch::zeros({1}, torch::TensorOptions(torch::kFloat64).device(device));
  // bf16 autocast (CUDA or CPU): matmuls in bf16, master weights and optimizer state in fp32.
  const bool autocast = opt.precision == "bf16";

  const FaultPausePoint fault_pause{opt.fault_pause_dir, trial.id, ctx.world_rank,
                                    ctx.attempt_number, result.start_step};
  model->train();
  int64_t step = state.step;
  for (; step < total_steps; ++step) {
    const int64_t epoch = step / spe, in_epoch = step % spe;
    if (in_epoch == 0) {
      state.last_epoch_loss_sum = 0;
      state.last_epoch_loss_n = 0;
    }
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

    Batch batch = MakeBatch(task, local, completion_only);
    double local_sum = 0;
    if (batch.tokens > 0) {
      batch.input = batch.input.to(device);
      batch.target = batch.target.to(device);
      batch.rows = batch.rows.to(device);
      batch.keep = batch.keep.to(device);
      batch.targets = batch.targets.to(device);
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
      local_sum = loss_sum.item<double>();
    }
    if (opt.fault_nan_at_step > 0 && step + 1 == opt.fault_nan_at_step &&
        ctx.attempt_number <= opt.fault_nan_attempts)
      local_sum = std::nan("");  // test-only fault injection
    sync.SumGradients();
    loss_buf.fill_(local_sum);
    comm.AllReduceAverage(loss_buf);
    const double step_loss = loss_buf.item<double>() * k / static_cast<double>(global_tokens);
    if (!std::isfinite(step_loss))
      throw TrialError(Outcome::kCrash, "loss is " + std::to_string(step_loss) + " at step " +
                                            std::to_string(step + 1));
    const double lr = LearningRate(opt, step, total_steps);
    for (auto& g : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    // Clip (over `all`: the optimizer's parameters) and step, fused on the CPU
    // (worker/fast_ops.h); libtorch's otherwise (CUDA).
    if (!ClipAndAdamWStep(optimizer, opt.grad_clip)) {
      if (opt.grad_clip > 0) torch::nn::utils::clip_grad_norm_(all, opt.grad_clip);
      optimizer.step();
    }
    // Not optimizer.zero_grad(): with several ranks the gradients are views into GradSync's
    // buckets, which Optimizer::zero_grad() refuses to detach_().
    sync.ZeroGradients();

    state.step = step + 1;
    state.last_epoch_loss_sum += step_loss;
    state.last_epoch_loss_n += 1;
    report_loss_sum += step_loss;
    report_tokens += static_cast<double>(global_tokens);
    ++report_n;

    MaybeFaultPause(fault_pause, state.step, hooks.stop_requested);  // test only; "" = off
    const auto now = Clock::now();
    const bool stop = comm.AnyTrue(hooks.stop_requested && hooks.stop_requested());
    const bool ckpt_due =
        (opt.checkpoint_every_steps > 0 && state.step % opt.checkpoint_every_steps == 0) ||
        (opt.checkpoint_every_seconds > 0 &&
         Seconds(last_ckpt, now) >= opt.checkpoint_every_seconds);
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
