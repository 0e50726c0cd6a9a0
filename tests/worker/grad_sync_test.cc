// GradSync (worker/grad_sync.h) without MPI: bucket planning (every parameter in exactly one
// bucket, in order, buckets within the size limit), gradients as views into the buckets (kept
// across backward and zeroing passes of a real GPT, so the zero-copy path is really taken), the
// copy fallback for a gradient that stopped being a view, undefined gradients, the 1-rank
// shortcut and BroadcastParameters. A recording Communicator stands in for a group of two, and
// an in-process group (one thread per rank) checks real averages. (The MPI path end to end,
// against a 1-rank run, is tests/mpi/dp_equivalence.sh.)
#include "worker/grad_sync.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "worker/communicator.h"
#include "worker/gpt.h"

namespace revsweep {
namespace {

// Pretends to be one of `size` ranks. AllReduceAverage records a copy of each buffer it is
// handed and then replaces it with `f(buffer)` (default: halves it, as averaging with a rank
// whose gradients are all zero would). Broadcast fills with `broadcast_value`.
class RecordingCommunicator : public Communicator {
 public:
  explicit RecordingCommunicator(int size) : size_(size) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  std::string name() const override { return "recording"; }
  void AllReduceAverage(torch::Tensor& t) override {
    EXPECT_TRUE(t.is_contiguous());
    reduced.push_back(t.clone());
    t.mul_(0.5);
  }
  void Broadcast(torch::Tensor& t, int root) override {
    EXPECT_EQ(root, 0);
    broadcast_numels.push_back(t.numel());
    t.fill_(broadcast_value);
  }
  bool AnyTrue(bool flag) override { return flag; }

  std::vector<torch::Tensor> reduced;
  std::vector<int64_t> broadcast_numels;
  float broadcast_value = 7;

 private:
  int size_;
};

// Parameters of the given sizes (float32, 4 bytes per element), each with its gradient set to
// (index + 1) everywhere so a bucket's contents identify which parameters it holds.
std::vector<torch::Tensor> MakeParams(const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<torch::Tensor> ps;
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto p = torch::zeros(shapes[i], torch::requires_grad());
    p.mutable_grad() = torch::full(shapes[i], static_cast<float>(i + 1));
    ps.push_back(p);
  }
  return ps;
}

int64_t TotalNumel(const std::vector<torch::Tensor>& ps) {
  int64_t n = 0;
  for (const auto& p : ps) n += p.numel();
  return n;
}

// Splits every recorded bucket back into runs of equal values and returns, in order, the
// parameter index (value - 1) and length of each run.
std::vector<std::pair<int, int64_t>> Runs(const std::vector<torch::Tensor>& buckets) {
  std::vector<std::pair<int, int64_t>> runs;
  for (const auto& b : buckets) {
    auto a = b.accessor<float, 1>();
    for (int64_t i = 0; i < b.numel(); ++i) {
      const int idx = static_cast<int>(a[i]) - 1;
      if (i > 0 && static_cast<int>(a[i - 1]) - 1 == idx)
        ++runs.back().second;
      else
        runs.emplace_back(idx, 1);
    }
  }
  return runs;
}

// A group of `size` ranks in one process, one thread per rank. AllReduceAverage sums the
// buffers in rank order and divides by the size, as MpiCommunicator does.
class InProcessGroup {
 public:
  explicit InProcessGroup(int size) : size_(size), slots_(size) {}
  int size() const { return size_; }
  void AllReduceAverage(int rank, torch::Tensor& t) {
    slots_[rank] = t;
    Wait();
    torch::Tensor sum = slots_[0].clone();
    for (int r = 1; r < size_; ++r) sum.add_(slots_[r]);
    Wait();  // every rank has read every buffer before any is overwritten
    t.copy_(sum.div_(static_cast<double>(size_)));
  }
  void Broadcast(int rank, torch::Tensor& t, int root) {
    slots_[rank] = t;
    Wait();
    torch::Tensor v = slots_[root].clone();
    Wait();
    t.copy_(v);
  }

 private:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != generation; });
  }

  int size_;
  std::vector<torch::Tensor> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

class GroupMember : public Communicator {
 public:
  GroupMember(InProcessGroup* group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  std::string name() const override { return "in-process"; }
  void AllReduceAverage(torch::Tensor& t) override { group_->AllReduceAverage(rank_, t); }
  void Broadcast(torch::Tensor& t, int root) override { group_->Broadcast(rank_, t, root); }
  bool AnyTrue(bool flag) override { return flag; }

 private:
  InProcessGroup* group_;
  int rank_;
};

// Runs body(rank, communicator) on one thread per rank. Bodies must not return early (a
// failed ASSERT would leave the other ranks waiting in a collective): use EXPECT.
void RunGroup(int size, const std::function<void(int, Communicator&)>& body) {
  InProcessGroup group(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&group, &body, r] {
      GroupMember comm(&group, r);
      body(r, comm);
    });
  for (auto& t : threads) t.join();
}

void FillGradients(std::vector<torch::Tensor>& ps, float v) {
  torch::NoGradGuard no_grad;
  for (auto& p : ps) p.mutable_grad().fill_(v);
}

TEST(GradSyncTest, EveryParameterLandsInExactlyOneBucketInOrder) {
  auto ps = MakeParams({{10, 10}, {7}, {3, 5}, {200}, {1}, {33, 2}, {50}});
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, /*bucket_bytes=*/4 * 120);
  sync.AverageGradients();
  ASSERT_EQ(comm.reduced.size(), sync.num_buckets());
  int64_t reduced_numel = 0;
  for (const auto& b : comm.reduced) reduced_numel += b.numel();
  EXPECT_EQ(reduced_numel, TotalNumel(ps));
  // Each parameter appears once, contiguously, whole, and in parameter order.
  auto runs = Runs(comm.reduced);
  ASSERT_EQ(runs.size(), ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_EQ(runs[i].first, static_cast<int>(i));
    EXPECT_EQ(runs[i].second, ps[i].numel()) << "parameter " << i;
  }
}

TEST(GradSyncTest, BucketsRespectTheSizeLimit) {
  // 4-byte floats; limit 100 elements. The 200-element parameter cannot fit any bucket and
  // must travel alone; every other bucket stays within the limit.
  auto ps = MakeParams({{30}, {30}, {30}, {30}, {200}, {60}, {40}, {1}, {99}});
  const size_t limit = 4 * 100;
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, limit);
  sync.AverageGradients();
  ASSERT_EQ(comm.reduced.size(), sync.num_buckets());
  for (const auto& b : comm.reduced) {
    const size_t bytes = static_cast<size_t>(b.numel()) * 4;
    if (bytes > limit) {
      // Oversized only when it is a single parameter.
      auto runs = Runs({b});
      EXPECT_EQ(runs.size(), 1u) << "a bucket of " << bytes << " bytes holds several parameters";
    }
  }
  // Greedy packing: 30+30+30 | 30 | 200 | 60+40 | 1+99 -> 5 buckets.
  EXPECT_EQ(sync.num_buckets(), 5u);
  // A limit larger than everything makes one bucket; a tiny limit one bucket per parameter.
  RecordingCommunicator c1(2), c2(2);
  EXPECT_EQ(GradSync(ps, &c1, size_t{1} << 30).num_buckets(), 1u);
  EXPECT_EQ(GradSync(ps, &c2, 1).num_buckets(), ps.size());
}

TEST(GradSyncTest, AveragedValuesReachEveryGradient) {
  auto ps = MakeParams({{4, 3}, {5}, {2, 2, 2}});
  RecordingCommunicator comm(2);  // halves each bucket
  GradSync sync(ps, &comm, 4 * 16);
  sync.AverageGradients();
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_TRUE(torch::equal(ps[i].grad(), torch::full(ps[i].sizes(), (i + 1) * 0.5f)))
        << "parameter " << i;
    EXPECT_EQ(ps[i].grad().sizes(), ps[i].sizes());
  }
}

TEST(GradSyncTest, OneRankSelfCommunicatorLeavesGradientsUnchanged) {
  auto ps = MakeParams({{4, 3}, {5}, {64}});
  torch::manual_seed(3);
  std::vector<torch::Tensor> before;
  for (auto& p : ps) {
    p.mutable_grad() = torch::randn(p.sizes());
    before.push_back(p.grad().clone());
  }
  std::vector<void*> ptrs;
  for (auto& p : ps) ptrs.push_back(p.grad().data_ptr());
  SelfCommunicator self;
  GradSync sync(ps, &self, 4 * 8);
  sync.AverageGradients();
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_TRUE(torch::equal(ps[i].grad(), before[i])) << "parameter " << i;
    EXPECT_EQ(ps[i].grad().data_ptr(), ptrs[i]) << "gradient tensor replaced";
  }
}

TEST(GradSyncTest, UndefinedGradientsCountAsZeros) {
  // A rank that had no documents in a step calls no backward: its gradients stay undefined
  // and must take part in the average as zeros (and come back defined, with the average).
  auto ps = MakeParams({{3}, {2, 2}, {5}});
  ps[1].mutable_grad() = torch::Tensor();
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 1 << 20);
  sync.AverageGradients();
  ASSERT_EQ(comm.reduced.size(), 1u);
  // The bucket handed to the collective holds zeros where the undefined gradient goes.
  EXPECT_TRUE(torch::equal(comm.reduced[0].narrow(0, 3, 4), torch::zeros({4})));
  ASSERT_TRUE(ps[1].grad().defined());
  EXPECT_EQ(ps[1].grad().sizes(), ps[1].sizes());
  EXPECT_TRUE(torch::equal(ps[1].grad(), torch::zeros({2, 2})));
  EXPECT_TRUE(torch::equal(ps[0].grad(), torch::full({3}, 0.5f)));
  EXPECT_TRUE(torch::equal(ps[2].grad(), torch::full({5}, 1.5f)));

  // All gradients undefined (the first step of a rank with an empty shard): all zeros.
  auto qs = MakeParams({{3}, {4}});
  for (auto& q : qs) q.mutable_grad() = torch::Tensor();
  RecordingCommunicator comm2(2);
  GradSync sync2(qs, &comm2, 1 << 20);
  sync2.AverageGradients();
  for (auto& q : qs) {
    ASSERT_TRUE(q.grad().defined());
    EXPECT_TRUE(torch::equal(q.grad(), torch::zeros_like(q)));
  }
}

TEST(GradSyncTest, BroadcastParametersCopiesTheLeadersValuesIntoEveryParameter) {
  auto ps = MakeParams({{4, 3}, {5}, {300}});
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 4 * 20);
  sync.BroadcastParameters();
  EXPECT_EQ(comm.broadcast_numels.size(), sync.num_buckets());
  for (auto& p : ps) EXPECT_TRUE(torch::equal(p, torch::full(p.sizes(), 7.0f)));
}

TEST(GradSyncTest, RealModelGradientsStayBucketViewsAcrossSteps) {
  // Backward accumulates into the existing (view) gradient, clipping and AdamW work on the
  // views, and ZeroGradients zeroes through the buckets: the zero-copy path holds on every
  // step, and training matches a model without GradSync exactly (halved gradients).
  GPTConfig c;
  c.vocab_size = 50;
  c.block_size = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 16;
  torch::manual_seed(5);
  GPT model(c);
  torch::manual_seed(5);
  GPT reference(c);
  std::vector<torch::Tensor> params = model->parameters(), ref_params = reference->parameters();
  RecordingCommunicator comm(2);  // halves each bucket
  GradSync sync(params, &comm, /*bucket_bytes=*/4 * 2000);
  ASSERT_GT(sync.num_buckets(), 1u);
  EXPECT_EQ(sync.zero_copy_buckets(), sync.num_buckets());
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-2));
  torch::optim::AdamW ref_opt(ref_params, torch::optim::AdamWOptions(1e-2));
  std::vector<void*> grad_ptrs;
  for (auto& p : params) grad_ptrs.push_back(p.grad().data_ptr());
  for (int step = 0; step < 4; ++step) {
    auto idx = torch::randint(0, c.vocab_size, {2, 8}, torch::kLong);
    for (GPT* m : {&model, &reference})
      torch::nn::functional::cross_entropy((*m)->forward(idx).view({-1, c.vocab_size}),
                                           idx.view({-1}))
          .backward();
    EXPECT_EQ(sync.zero_copy_buckets(), sync.num_buckets()) << "step " << step;
    sync.AverageGradients();
    EXPECT_EQ(sync.copied_bucket_syncs(), 0u) << "step " << step;
    {
      torch::NoGradGuard no_grad;
      for (auto& p : ref_params) p.mutable_grad().mul_(0.5);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ(params[i].grad().data_ptr(), grad_ptrs[i]) << "step " << step << " param " << i;
      EXPECT_TRUE(torch::equal(params[i].grad(), ref_params[i].grad()))
          << "step " << step << " param " << i;
    }
    torch::nn::utils::clip_grad_norm_(params, 0.05);
    torch::nn::utils::clip_grad_norm_(ref_params, 0.05);
    opt.step();
    ref_opt.step();
    sync.ZeroGradients();
    ref_opt.zero_grad();
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ(params[i].grad().data_ptr(), grad_ptrs[i]) << "step " << step << " param " << i;
      EXPECT_EQ(params[i].grad().count_nonzero().item<int64_t>(), 0);
    }
  }
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::equal(params[i], ref_params[i])) << "param " << i;
}

TEST(GradSyncTest, TwoRanksAverageThroughTheBucketsAndFallBackToCopies) {
  // Rank r's gradients are r + 1 everywhere, so every gradient must end as 1.5 on both ranks:
  // first through the views (no copies), then with gradients that one rank replaced by fresh
  // tensors (one of them not contiguous) or reset to undefined (counts as zero).
  std::vector<size_t> copied(2), zero_copy(2), buckets(2);
  std::vector<std::vector<torch::Tensor>> after_fast(2), after_fallback(2), after_again(2);
  RunGroup(2, [&](int rank, Communicator& comm) {
    auto ps = MakeParams({{4, 3}, {5}, {2, 2, 2}, {300}, {7}});
    GradSync sync(ps, &comm, 4 * 16);
    buckets[rank] = sync.num_buckets();
    FillGradients(ps, rank + 1.0f);  // in place, as backward accumulates
    sync.AverageGradients();
    for (auto& p : ps) after_fast[rank].push_back(p.grad().clone());
    EXPECT_EQ(sync.copied_bucket_syncs(), 0u);

    FillGradients(ps, rank + 1.0f);
    if (rank == 1) {
      ps[1].mutable_grad() = torch::full({5}, 2.0f);
      ps[0].mutable_grad() = torch::full({3, 4}, 2.0f).t();  // sizes {4, 3}, not contiguous
    } else {
      ps[4].mutable_grad() = torch::Tensor();  // averages with rank 1's 2 as 1
    }
    sync.AverageGradients();
    for (auto& p : ps) after_fallback[rank].push_back(p.grad().clone());
    copied[rank] = sync.copied_bucket_syncs();
    zero_copy[rank] = sync.zero_copy_buckets();  // replaced gradients are views again

    FillGradients(ps, rank + 1.0f);
    sync.AverageGradients();
    for (auto& p : ps) after_again[rank].push_back(p.grad().clone());
    EXPECT_EQ(sync.copied_bucket_syncs(), copied[rank]) << "rank " << rank;
  });
  for (int rank = 0; rank < 2; ++rank) {
    for (size_t i = 0; i < after_fast[rank].size(); ++i) {
      const auto& shape = after_fast[rank][i].sizes();
      EXPECT_TRUE(torch::equal(after_fast[rank][i], torch::full(shape, 1.5f)))
          << "rank " << rank << " param " << i;
      EXPECT_TRUE(torch::equal(after_fallback[rank][i], torch::full(shape, i == 4 ? 1.0f : 1.5f)))
          << "rank " << rank << " param " << i;
      EXPECT_TRUE(torch::equal(after_again[rank][i], torch::full(shape, 1.5f)))
          << "rank " << rank << " param " << i;
    }
    EXPECT_EQ(zero_copy[rank], buckets[rank]) << "rank " << rank;
  }
  // Buckets of 16 elements: 12 | 5 + 8 | 300 | 7. Rank 1 replaced gradients in the first two,
  // rank 0 reset one in the last: only those bucket syncs copied.
  EXPECT_EQ(copied[1], 2u);
  EXPECT_EQ(copied[0], 1u);
}

TEST(GradSyncTest, ConstructorKeepsExistingGradientValuesInTheViews) {
  auto ps = MakeParams({{4, 3}, {5}, {2, 2, 2}});
  ps[1].mutable_grad() = torch::Tensor();
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 1 << 20);
  EXPECT_EQ(sync.zero_copy_buckets(), 1u);
  EXPECT_TRUE(torch::equal(ps[0].grad(), torch::full({4, 3}, 1.0f)));
  EXPECT_TRUE(torch::equal(ps[1].grad(), torch::zeros({5})));
  EXPECT_TRUE(torch::equal(ps[2].grad(), torch::full({2, 2, 2}, 3.0f)));
}

TEST(GradSyncTest, BroadcastParametersLeavesGradientsAlone) {
  // The buckets hold the gradients, so the broadcast must stage parameters elsewhere.
  auto ps = MakeParams({{4, 3}, {5}, {300}});
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 4 * 20);
  sync.BroadcastParameters();
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_TRUE(torch::equal(ps[i], torch::full(ps[i].sizes(), 7.0f))) << "parameter " << i;
    EXPECT_TRUE(torch::equal(ps[i].grad(), torch::full(ps[i].sizes(), i + 1.0f)))
        << "parameter " << i;
  }
  EXPECT_EQ(sync.zero_copy_buckets(), sync.num_buckets());
}

TEST(GradSyncTest, ZeroGradients) {
  // Several ranks: zeros through the buckets, views kept (and restored if replaced).
  auto ps = MakeParams({{4, 3}, {5}, {300}});
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 4 * 20);
  ps[2].mutable_grad() = torch::ones({300});
  sync.ZeroGradients();
  EXPECT_EQ(sync.zero_copy_buckets(), sync.num_buckets());
  for (auto& p : ps) EXPECT_TRUE(torch::equal(p.grad(), torch::zeros_like(p)));

  // One rank: as Optimizer::zero_grad(): in place, undefined gradients stay undefined.
  auto qs = MakeParams({{4, 3}, {5}});
  qs[1].mutable_grad() = torch::Tensor();
  void* ptr = qs[0].grad().data_ptr();
  SelfCommunicator self;
  GradSync one(qs, &self, 1 << 20);
  one.ZeroGradients();
  EXPECT_EQ(one.zero_copy_buckets(), 0u);
  EXPECT_EQ(qs[0].grad().data_ptr(), ptr);
  EXPECT_TRUE(torch::equal(qs[0].grad(), torch::zeros({4, 3})));
  EXPECT_FALSE(qs[1].grad().defined());
}

TEST(GradSyncTest, ATensorListedTwiceIsPlannedOnce) {
  auto ps = MakeParams({{4, 3}, {5}});
  ps.push_back(ps[0]);
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 1 << 20);
  sync.AverageGradients();
  ASSERT_EQ(comm.reduced.size(), 1u);
  EXPECT_EQ(comm.reduced[0].numel(), 17);
  EXPECT_EQ(sync.copied_bucket_syncs(), 0u);
  EXPECT_TRUE(torch::equal(ps[0].grad(), torch::full({4, 3}, 0.5f)));
}

}  // namespace
}  // namespace revsweep
