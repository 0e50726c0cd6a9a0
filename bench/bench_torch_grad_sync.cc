// Gradient sync throughput: GradSync::SumGradients (worker/grad_sync.h; what the trainer calls,
// its loss pre-scaled by 1 / global tokens) over a real GPT's gradients (after one backward), with
// the default 25 MB buckets and with 1 MB buckets. Each GradSync gets its own model (a GradSync
// makes its parameters' gradients views into its buckets, so two cannot share parameters) and is
// built before that model's backward, as in the trainer; a sync is then what the trainer pays per
// step (check that every gradient is still a view, the collectives; no divide). Compared with two
// baselines measured in the same run, interleaved:
//   raw       one MPI_Allreduce (in place, MPI_SUM) over a pre-flattened float buffer of the
//             same number of bytes: the best any bucketing scheme can do;
//   per-param one MPI_Allreduce per parameter gradient plus a divide, as libtorch's
//             cpp/distributed example does.
// Two more rows attribute the gap (not baselines): "raw + div" (the raw all-reduce plus the
// divide by the group size on the flat buffer: the floor for a zero-copy GradSync) and "pack
// only" (the copies into and out of the buckets that GradSync made before it was zero-copy,
// no MPI). Two more for comparison: "zero-copy" (ZeroCopySync below, the prototype the
// zero-copy GradSync was built from) and "copy path" (CopySync below: the previous GradSync,
// which copied every gradient in and out; GradSync still does this for a bucket whose
// gradients stopped being views).
// Every repetition runs all of them (order rotated), each between barriers; a repetition's
// time is the slowest rank's. Reports medians (the goal lines) and, because on a shared
// machine the medians mostly measure how often a rank waits for a descheduled peer, also the
// least-disturbed (minimum) times. Throughput = gradient bytes / time.
//
// Throughput against the machine's best: before the models, a sweep times in-place
// MPI_Allreduce(MPI_SUM) at every power-of-two size from --sweep-min-kb to --sweep-max-mb,
// one call at a time and as a stream of calls over a buffer of the largest size (SweepAllreduce
// below; sizes interleaved, order rotated, same timing as above), and takes the best median
// throughput. The bucket size for the "sync <X>MB" row is the largest swept size whose stream
// throughput is within 10% of the best stream (fewer calls per sync; --bucket-mb overrides),
// and every model's timing loop also all-reduces a flat buffer of the gradients' size in
// chunks of that size ("raw chunks": the same collectives without GradSync), so the goal's
// denominator is max(sweep best, that): the best all-reduce throughput measured in this run.
//
// Usage: mpirun --allow-run-as-root --oversubscribe --bind-to core -np 2 -x OMP_NUM_THREADS=1
//          bench_torch_grad_sync [--reps 40] [--models tiny,medium] [--sweep-min-kb 256]
//          [--sweep-max-mb 64] [--sweep-reps 20] [--bucket-mb X]
// Prints per model: "grad sync / raw allreduce throughput ratio: X (goal >= 0.95)" and
// "grad sync (bucket X MB) / best allreduce throughput ratio: R (goal >= 0.8)".
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "worker/gpt.h"
#include "worker/grad_sync.h"
#include "worker/mpi_communicator.h"

namespace revsweep {
namespace {

using namespace bench;

struct ModelSize {
  std::string name;
  int n_layer, n_head, d_model;
};

// Seconds of f() on the slowest rank, starting together.
double TimeCollective(const std::function<void()>& f) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  f();
  double dt = MPI_Wtime() - t0, worst = 0;
  MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}

// The prototype of GradSync's zero copy, for comparison: the same bucket plan, every gradient
// a view into its bucket (DistributedDataParallel's gradient_as_bucket_view), a sync is only
// the collectives plus the division, with none of GradSync's checks.
class ZeroCopySync {
 public:
  ZeroCopySync(const std::vector<torch::Tensor>& params, size_t bucket_bytes) {
    std::vector<std::vector<torch::Tensor>> groups;
    int64_t bytes = 0;
    for (const auto& p : params) {
      const int64_t b = p.numel() * p.element_size();
      if (groups.empty() || (bytes > 0 && static_cast<size_t>(bytes + b) > bucket_bytes)) {
        groups.emplace_back();
        bytes = 0;
      }
      groups.back().push_back(p);
      bytes += b;
    }
    torch::NoGradGuard ng;
    for (auto& g : groups) {
      int64_t n = 0;
      for (auto& p : g) n += p.numel();
      torch::Tensor flat = torch::zeros({n}, g[0].options().requires_grad(false));
      int64_t off = 0;
      for (auto& p : g) {
        p.mutable_grad() = flat.narrow(0, off, p.numel()).view(p.sizes());
        off += p.numel();
      }
      flats_.push_back(flat);
    }
  }
  void AverageGradients(int size) {
    for (auto& f : flats_) {
      MPI_Allreduce(MPI_IN_PLACE, f.data_ptr(), static_cast<int>(f.numel()), MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
      f.div_(static_cast<double>(size));
    }
  }
  size_t num_buckets() const { return flats_.size(); }

 private:
  std::vector<torch::Tensor> flats_;
};

// The previous GradSync::AverageGradients, for comparison: the same bucket plan, gradients
// copied into the buckets, averaged, and copied back.
class CopySync {
 public:
  CopySync(const std::vector<torch::Tensor>& params, Communicator* comm, size_t bucket_bytes)
      : comm_(comm) {
    int64_t bytes = 0;
    for (const auto& p : params) {
      const int64_t b = p.numel() * p.element_size();
      if (groups_.empty() || (bytes > 0 && static_cast<size_t>(bytes + b) > bucket_bytes)) {
        groups_.emplace_back();
        bytes = 0;
      }
      groups_.back().push_back(p);
      bytes += b;
    }
    for (auto& g : groups_) {
      int64_t n = 0;
      for (auto& p : g) n += p.numel();
      flats_.push_back(torch::empty({n}, g[0].options()));
    }
  }
  void AverageGradients() {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < groups_.size(); ++i) {
      int64_t off = 0;
      for (auto& p : groups_[i]) {
        flats_[i].narrow(0, off, p.numel()).copy_(p.grad().view({-1}));
        off += p.numel();
      }
      comm_->AllReduceAverage(flats_[i]);
      off = 0;
      for (auto& p : groups_[i]) {
        p.grad().copy_(flats_[i].narrow(0, off, p.numel()).view(p.sizes()));
        off += p.numel();
      }
    }
  }

 private:
  Communicator* comm_;
  std::vector<std::vector<torch::Tensor>> groups_;
  std::vector<torch::Tensor> flats_;
};

// All-reduce throughput at every power-of-two message size s in [min_kb KB, max_mb MB], two
// ways, sizes interleaved (order rotated every repetition):
//   single  one in-place MPI_Allreduce(MPI_SUM) of s bytes between barriers: includes the
//           per-call start-up and the ranks' arrival skew after the barrier;
//   stream  V / s back-to-back all-reduces over consecutive s-byte chunks of a V-byte buffer
//           (V = the largest size): what a bucketed gradient sync of V bytes does, so the
//           machine's all-reduce throughput at that message size.
// The best is the highest median throughput of either; the bucket is picked from the stream.
struct Sweep {
  double best_gbps = 0;
  size_t best_bytes = 0, pick_bytes = 0;
  std::vector<std::string> lines;  // rank 0: one per size
};

Sweep SweepAllreduce(double min_kb, double max_mb, int reps, int rank) {
  std::vector<size_t> sizes;
  for (double b = min_kb * 1024; b <= max_mb * (1 << 20) * 1.0001; b *= 2)
    sizes.push_back(static_cast<size_t>(b) / 4 * 4);
  const size_t volume = sizes.back();
  torch::Tensor buf = torch::zeros({static_cast<int64_t>(volume / 4)});
  std::vector<std::function<void()>> ops;
  for (size_t bytes : sizes)
    ops.emplace_back([&buf, bytes] {
      MPI_Allreduce(MPI_IN_PLACE, buf.data_ptr(), static_cast<int>(bytes / 4), MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
    });
  for (size_t bytes : sizes)
    ops.emplace_back([&buf, bytes, volume] {
      float* p = buf.data_ptr<float>();
      for (size_t off = 0; off + bytes <= volume; off += bytes)
        MPI_Allreduce(MPI_IN_PLACE, p + off / 4, static_cast<int>(bytes / 4), MPI_FLOAT, MPI_SUM,
                      MPI_COMM_WORLD);
    });
  std::vector<std::vector<double>> t(ops.size());
  for (int w = 0; w < 2; ++w)
    for (auto& op : ops) TimeCollective(op);
  for (int r = 0; r < reps; ++r)
    for (size_t j = 0; j < ops.size(); ++j) {
      const size_t k = (j + static_cast<size_t>(r)) % ops.size();
      t[k].push_back(TimeCollective(ops[k]));
    }
  Sweep s;
  const size_t n = sizes.size();
  std::vector<double> stream_gbps(n);
  double best_stream = 0;
  for (size_t j = 0; j < n; ++j) {
    const double bytes[2] = {static_cast<double>(sizes[j]),
                             static_cast<double>(volume / sizes[j] * sizes[j])};
    double gbps[2], lo_gbps[2], hi_ms[2];
    for (int w = 0; w < 2; ++w) {
      const auto& v = t[j + w * n];
      gbps[w] = bytes[w] / Median(v) / 1e9;
      lo_gbps[w] = bytes[w] / *std::min_element(v.begin(), v.end()) / 1e9;
      hi_ms[w] = *std::max_element(v.begin(), v.end()) * 1e3;
      if (gbps[w] > s.best_gbps) {
        s.best_gbps = gbps[w];
        s.best_bytes = sizes[j];
      }
    }
    stream_gbps[j] = gbps[1];
    best_stream = std::max(best_stream, gbps[1]);
    if (rank == 0) {
      char line[240];
      std::snprintf(line, sizeof line,
                    "  %9.3f MB: single %6.2f GB/s median (%6.2f best, max %8.3f ms); stream of "
                    "%4zu: %6.2f GB/s median (%6.2f best, max %8.3f ms)",
                    bytes[0] / (1 << 20), gbps[0], lo_gbps[0], hi_ms[0], volume / sizes[j], gbps[1],
                    lo_gbps[1], hi_ms[1]);
      s.lines.emplace_back(line);
    }
  }
  // Fewer, larger buckets cost fewer calls: the largest size whose stream throughput is within
  // 10% of the best stream.
  for (size_t j = 0; j < n; ++j)
    if (stream_gbps[j] >= 0.9 * best_stream) s.pick_bytes = sizes[j];
  // Every rank's times are the slowest rank's, so all pick alike; rank 0's pick decides anyway
  // (the buckets must match across ranks).
  unsigned long long pick = s.pick_bytes;
  MPI_Bcast(&pick, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  s.pick_bytes = static_cast<size_t>(pick);
  return s;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) {
  using namespace revsweep;
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  at::set_num_threads(1);
  int reps = 40, sweep_reps = 20;
  double sweep_min_kb = 256, sweep_max_mb = 64, bucket_mb_arg = 0;
  std::string models_arg = "tiny,medium";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc)
      reps = std::atoi(argv[++i]);
    else if (a == "--models" && i + 1 < argc)
      models_arg = argv[++i];
    else if (a == "--sweep-min-kb" && i + 1 < argc)
      sweep_min_kb = std::atof(argv[++i]);
    else if (a == "--sweep-max-mb" && i + 1 < argc)
      sweep_max_mb = std::atof(argv[++i]);
    else if (a == "--sweep-reps" && i + 1 < argc)
      sweep_reps = std::atoi(argv[++i]);
    else if (a == "--bucket-mb" && i + 1 < argc)
      bucket_mb_arg = std::atof(argv[++i]);
    else {
      if (rank == 0)
        std::fprintf(stderr,
                     "usage: mpirun -np 2 %s [--reps N] [--models tiny,medium] [--sweep-min-kb K] "
                     "[--sweep-max-mb M] [--sweep-reps N] [--bucket-mb X]\n",
                     argv[0]);
      MPI_Finalize();
      return 2;
    }
  }
  if (reps < 1 || sweep_reps < 1 || sweep_min_kb <= 0 || sweep_max_mb * 1024 < sweep_min_kb) {
    if (rank == 0) std::fprintf(stderr, "need reps, sweep reps >= 1 and a non-empty sweep\n");
    MPI_Finalize();
    return 2;
  }
  if (size < 2 && rank == 0)
    std::printf("note: 1 rank: every collective is trivial; run under mpirun -np 2\n");
  const std::map<std::string, ModelSize> known = {{"tiny", {"tiny", 4, 4, 128}},
                                                  {"small", {"small", 4, 4, 256}},
                                                  {"medium", {"medium", 6, 6, 384}},
                                                  {"base", {"base", 8, 8, 512}}};
  std::vector<std::string> summary;
  int rc = 0;
  if (rank == 0)
    std::printf("grad sync: %d ranks, %d reps, load average %.2f\n", size, reps, LoadAvg());

  // Raw all-reduce throughput over message sizes: the machine's best, and the bucket size.
  const Sweep sweep = SweepAllreduce(sweep_min_kb, sweep_max_mb, sweep_reps, rank);
  const size_t bucket_bytes =
      bucket_mb_arg > 0 ? static_cast<size_t>(bucket_mb_arg * (1 << 20)) : sweep.pick_bytes;
  const double bucket_mb = static_cast<double>(bucket_bytes) / (1 << 20);
  if (rank == 0) {
    std::printf("allreduce sweep (%d reps per size, interleaved):\n", sweep_reps);
    for (const auto& l : sweep.lines) std::printf("%s\n", l.c_str());
    std::printf(
        "  best median throughput %.2f GB/s at %.3g MB; bucket size %.3g MB (%s)\n",
        sweep.best_gbps, static_cast<double>(sweep.best_bytes) / (1 << 20), bucket_mb,
        bucket_mb_arg > 0 ? "--bucket-mb" : "largest size whose stream is within 10% of the best");
    std::fflush(stdout);
  }
  std::stringstream ss(models_arg);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (!known.count(name)) {
      if (rank == 0) std::fprintf(stderr, "unknown model %s\n", name.c_str());
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const ModelSize& ms = known.at(name);
    GPTConfig c;
    c.vocab_size = 1000;
    c.block_size = 64;
    c.n_layer = ms.n_layer;
    c.n_head = ms.n_head;
    c.d_model = ms.d_model;
    auto backward = [&](GPT& m) {
      auto idx = torch::randint(0, c.vocab_size, {4, c.block_size}, torch::kLong);
      torch::nn::functional::cross_entropy(m->forward(idx).view({-1, c.vocab_size}), idx.view({-1}))
          .backward();
    };
    // Plain gradients: the per-param, pack only and copy path rows.
    torch::manual_seed(1);
    GPT model(c);
    backward(model);
    std::vector<torch::Tensor> params = model->parameters();
    int64_t numel = 0;
    for (auto& p : params) numel += p.numel();
    const double bytes = static_cast<double>(numel) * 4;

    MpiCommunicator comm(MPI_COMM_WORLD);
    CopySync copy_path(params, &comm, 25u << 20);
    // One model per GradSync, each built (making its gradients bucket views) before the
    // model's first backward, as RunTrial does.
    torch::manual_seed(1);
    GPT model25(c), model1(c), model_zc(c), model_best(c);
    GradSync sync25(model25->parameters(), &comm, 25u << 20);
    GradSync sync1(model1->parameters(), &comm, 1u << 20);
    GradSync sync_best(model_best->parameters(), &comm, bucket_bytes);
    ZeroCopySync zero_copy(model_zc->parameters(), 25u << 20);
    backward(model25);
    backward(model1);
    backward(model_best);
    backward(model_zc);
    for (auto& p : model_zc->parameters())
      if (!p.grad().is_view()) {
        std::fprintf(stderr, "zero-copy prototype: backward replaced a bucket view\n");
        rc = 1;
      }
    // The zero-copy path must really be taken (else this measures the copy fallback).
    auto check_zero_copy = [&](const GradSync& s, const char* what) {
      if (s.zero_copy_buckets() != s.num_buckets() || s.copied_bucket_syncs() != 0) {
        std::fprintf(stderr, "rank %d: %s: %zu of %zu buckets zero-copy, %zu copied syncs\n", rank,
                     what, s.zero_copy_buckets(), s.num_buckets(), s.copied_bucket_syncs());
        rc = 1;
      }
    };
    check_zero_copy(sync25, "GradSync 25MB after backward");
    check_zero_copy(sync1, "GradSync 1MB after backward");
    check_zero_copy(sync_best, "GradSync (sweep's bucket) after backward");

    // Correctness first: rank r's gradients = r + 1 everywhere -> the mean (size + 1) / 2.
    for (auto [s, m] : {std::make_pair(&sync25, &model25), std::make_pair(&sync1, &model1)}) {
      torch::NoGradGuard ng;
      for (auto& p : (*m)->parameters()) p.mutable_grad().fill_(static_cast<float>(rank + 1));
      s->AverageGradients();
      double worst = 0;
      for (auto& p : (*m)->parameters())
        worst = std::max(worst, (p.grad() - (size + 1) / 2.0).abs().max().item<double>());
      if (worst > 1e-6) {
        std::fprintf(stderr, "rank %d: GradSync average wrong by %g\n", rank, worst);
        rc = 1;
      }
    }
    // SumGradients (the trainer's call): rank r's r + 1 -> size (size + 1) / 2; then zeros, so
    // the timed repetitions sum zeros and the values stay bounded.
    for (auto [s, m] : {std::make_pair(&sync25, &model25), std::make_pair(&sync1, &model1),
                        std::make_pair(&sync_best, &model_best)}) {
      torch::NoGradGuard ng;
      for (auto& p : (*m)->parameters()) p.mutable_grad().fill_(static_cast<float>(rank + 1));
      s->SumGradients();
      double worst = 0;
      for (auto& p : (*m)->parameters())
        worst = std::max(worst, (p.grad() - size * (size + 1) / 2.0).abs().max().item<double>());
      if (worst > 1e-6) {
        std::fprintf(stderr, "rank %d: GradSync sum wrong by %g\n", rank, worst);
        rc = 1;
      }
      s->ZeroGradients();
    }
    check_zero_copy(sync25, "GradSync 25MB after the correctness check");
    check_zero_copy(sync1, "GradSync 1MB after the correctness check");
    check_zero_copy(sync_best, "GradSync (sweep's bucket) after the correctness check");

    // Pre-flattened buffers, allocated like GradSync's buckets (zeros: in-place sums of
    // zeros keep the values bounded however many repetitions run).
    torch::Tensor flat = torch::zeros({numel});
    torch::Tensor flat_t = torch::zeros({numel});
    torch::Tensor pack = torch::empty({numel});
    torch::Tensor flat_c = torch::zeros({numel});
    char best_name[32];
    std::snprintf(best_name, sizeof best_name, "sync %.3gMB", bucket_mb);
    const std::vector<std::string> names = {"raw",       "sync 25MB", "sync 1MB",  "per-param",
                                            "raw + div", "pack only", "zero-copy", "copy path",
                                            best_name,   "raw chunks"};
    std::vector<std::function<void()>> ops = {
        [&] {
          MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(numel), MPI_FLOAT, MPI_SUM,
                        MPI_COMM_WORLD);
        },
        [&] { sync25.SumGradients(); },  // what the trainer calls (loss pre-scaled)
        [&] { sync1.SumGradients(); },
        [&] {
          torch::NoGradGuard ng;
          for (auto& p : params) {
            MPI_Allreduce(MPI_IN_PLACE, p.grad().data_ptr(), static_cast<int>(p.numel()), MPI_FLOAT,
                          MPI_SUM, MPI_COMM_WORLD);
            p.grad().div_(static_cast<double>(size));
          }
        },
        [&] {
          MPI_Allreduce(MPI_IN_PLACE, flat_t.data_ptr(), static_cast<int>(numel), MPI_FLOAT,
                        MPI_SUM, MPI_COMM_WORLD);
          flat_t.div_(static_cast<double>(size));
        },
        [&] {  // GradSync's local work without the collective (one bucket)
          torch::NoGradGuard ng;
          int64_t off = 0;
          for (auto& p : params) {
            pack.narrow(0, off, p.numel()).copy_(p.grad().view({-1}));
            off += p.numel();
          }
          pack.div_(static_cast<double>(size));
          off = 0;
          for (auto& p : params) {
            p.grad().copy_(pack.narrow(0, off, p.numel()).view(p.sizes()));
            off += p.numel();
          }
        },
        [&] { zero_copy.AverageGradients(size); },
        [&] { copy_path.AverageGradients(); },
        [&] { sync_best.SumGradients(); },
        [&] {  // the same bytes in bucket-size all-reduces over a flat buffer: no GradSync
          const int64_t chunk = static_cast<int64_t>(bucket_bytes / 4);
          float* p = flat_c.data_ptr<float>();
          for (int64_t off = 0; off < numel; off += chunk)
            MPI_Allreduce(MPI_IN_PLACE, p + off, static_cast<int>(std::min(chunk, numel - off)),
                          MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        }};
    std::vector<std::vector<double>> t(ops.size());
    for (int w = 0; w < 3; ++w)
      for (auto& op : ops) TimeCollective(op);  // warm caches, connections, page faults
    for (int r = 0; r < reps; ++r)
      for (size_t j = 0; j < ops.size(); ++j) {
        const size_t k = (j + static_cast<size_t>(r)) % ops.size();
        t[k].push_back(TimeCollective(ops[k]));
      }
    check_zero_copy(sync25, "GradSync 25MB after the timed repetitions");
    check_zero_copy(sync1, "GradSync 1MB after the timed repetitions");
    check_zero_copy(sync_best, "GradSync (sweep's bucket) after the timed repetitions");
    if (rank == 0) {
      std::printf(
          "%s (%dL/%dd, %lld params, %.1f MB of gradients, %zu tensors; %zu buckets at "
          "25MB, %zu at 1MB, %zu at %.3gMB):\n",
          name.c_str(), ms.n_layer, ms.d_model, static_cast<long long>(numel), bytes / 1e6,
          params.size(), sync25.num_buckets(), sync1.num_buckets(), sync_best.num_buckets(),
          bucket_mb);
      const double raw = Median(t[0]);
      for (size_t j = 0; j < ops.size(); ++j) {
        const double m = Median(t[j]);
        const double lo = *std::min_element(t[j].begin(), t[j].end());
        const double hi = *std::max_element(t[j].begin(), t[j].end());
        const double b = bytes;
        std::vector<double> sorted = t[j];
        std::sort(sorted.begin(), sorted.end());
        const double p10 = sorted[sorted.size() / 10], p90 = sorted[sorted.size() * 9 / 10];
        std::printf(
            "  %-10s median %8.3f ms  %6.2f GB/s  throughput vs raw %.3f   (min %.3f, p10 %.3f, "
            "p90 %.3f, max %.3f ms)\n",
            names[j].c_str(), m * 1e3, b / m / 1e9, (raw / bytes) / (m / b), lo * 1e3, p10 * 1e3,
            p90 * 1e3, hi * 1e3);
      }
      // The goal's denominator: the best all-reduce throughput of this run (the sweep's, or
      // the gradients' bytes all-reduced in bucket-size chunks next to the syncs, if higher).
      const double best_gbps = std::max(sweep.best_gbps, bytes / Median(t[9]) / 1e9);
      const double sync_gbps = bytes / Median(t[8]) / 1e9;
      char line[300];
      std::snprintf(line, sizeof line,
                    "%-6s grad sync (bucket %.3g MB) / best allreduce throughput ratio: %.3f (goal "
                    ">= 0.8; %.2f GB/s vs %.2f GB/s; min-time ratio %.3f)",
                    name.c_str(), bucket_mb, sync_gbps / best_gbps, sync_gbps, best_gbps,
                    bytes / *std::min_element(t[8].begin(), t[8].end()) / 1e9 / best_gbps);
      summary.emplace_back(line);
      std::snprintf(line, sizeof line,
                    "%-6s grad sync (25MB buckets) / raw allreduce throughput ratio: %.3f "
                    "(goal >= 0.95)",
                    name.c_str(), raw / Median(t[1]));
      summary.emplace_back(line);
      std::snprintf(line, sizeof line,
                    "%-6s grad sync (1MB buckets) / raw allreduce throughput ratio: %.3f "
                    "(goal >= 0.95)",
                    name.c_str(), raw / Median(t[2]));
      summary.emplace_back(line);
      std::snprintf(line, sizeof line,
                    "%-6s grad sync (25MB buckets) / per-parameter allreduce throughput ratio: "
                    "%.3f",
                    name.c_str(), Median(t[3]) / Median(t[1]));
      summary.emplace_back(line);
      auto best = [&](size_t j) { return *std::min_element(t[j].begin(), t[j].end()); };
      std::snprintf(line, sizeof line,
                    "%-6s least-disturbed (min over reps) ratios vs raw: sync 25MB %.3f, sync 1MB "
                    "%.3f, per-param %.3f, raw + div %.3f, zero-copy %.3f, copy path %.3f",
                    name.c_str(), best(0) / best(1), best(0) / best(2), best(0) / best(3),
                    best(0) / best(4), best(0) / best(6), best(0) / best(7));
      summary.emplace_back(line);
      std::snprintf(line, sizeof line,
                    "%-6s zero-copy prototype (25MB buckets, %zu) / raw allreduce throughput "
                    "ratio: %.3f (for comparison with the goal >= 0.95)",
                    name.c_str(), zero_copy.num_buckets(), raw / Median(t[6]));
      summary.emplace_back(line);
      std::snprintf(line, sizeof line,
                    "%-6s copy path (previous GradSync, 25MB buckets) / raw allreduce throughput "
                    "ratio: %.3f",
                    name.c_str(), raw / Median(t[7]));
      summary.emplace_back(line);
      std::fflush(stdout);
    }
  }
  if (rank == 0) {
    std::printf("load average at end %.2f\n", LoadAvg());
    for (const auto& s : summary) std::printf("%s\n", s.c_str());
  }
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
