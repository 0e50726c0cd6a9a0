#include "worker/evaluator.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "tests/worker/test_task.h"

namespace revsweep {
namespace {

struct MatchCase {
  const char* generation;
  const char* target;
  bool hit;
};

TEST(Evaluator, ExactMatchRule) {
  const MatchCase cases[] = {
      {" Daphne Barrington, the director", " Daphne Barrington", true},
      {"daphne barrington", " Daphne Barrington", true},
      {"  DAPHNE BARRINGTON  ", "Daphne Barrington ", true},
      {" Daphne", " Daphne Barrington", false},
      {" Barrington Daphne", " Daphne Barrington", false},
      {"", " Daphne Barrington", false},
      {" x", "", true},  // an empty target matches anything (never produced by the data)
  };
  for (const auto& c : cases) EXPECT_EQ(ExactMatch(c.generation, c.target), c.hit) << c.generation;
}

TEST(Evaluator, DecidedEarly) {
  EXPECT_EQ(ExactMatchDecided(" Daph", " Daphne Barrington"), -1);
  EXPECT_EQ(ExactMatchDecided(" Daphne Barrington and", " Daphne Barrington"), 1);
  EXPECT_EQ(ExactMatchDecided(" Dorothy", " Daphne Barrington"), 0);
  EXPECT_EQ(ExactMatchDecided("   ", " Daphne Barrington"), -1);
}

// Values from the t distribution by hand: diffs {1, 2, 3, 4} -> mean 2.5, sd 1.2910,
// t = 2.5 / (1.2910 / 2) = 3.873, dof 3, two-sided p = 0.03047.
TEST(Evaluator, DecodesSentencepiecePieces) {
  TokenizedTask t = testing::SyntheticTask(2);
  EXPECT_EQ(DecodeTokens(t, {5, 6, t.eos_id}), " w5 w6");
}

// The two likelihood tests on numbers worked by hand: per-person differences 1, 2, 3 (mean 2,
// sd 1, t = 2*sqrt(3) on 2 df, two-sided p = 0.07417, 95% CI 2 +- 4.3027/sqrt(3));
// per-row differences 2, 0, 1, 3, 1, 5 (mean 2, t = 2.7386 on 5 df, one-sided p = 0.02043).
TEST(Evaluator, LikelihoodMetricsRunThePapersTestAndThePerPromptOne) {
  const std::vector<int> group = {0, 0, 1, 1, 2, 2};
  const std::vector<double> correct = {-1, -1, -1, -3, 0, 0};
  const std::vector<double> per_person = {-2, -2, -4, -4, -3, -3};
  const std::vector<double> per_prompt = {-3, -1, -2, -6, -1, -5};
  const auto m = LikelihoodMetrics(correct, per_prompt, per_person, group);
  EXPECT_EQ(m.at("likelihood.n"), 3);
  EXPECT_NEAR(m.at("likelihood.mean_diff"), 2, 1e-12);
  EXPECT_NEAR(m.at("likelihood.t"), 2 * std::sqrt(3.0), 1e-9);
  EXPECT_NEAR(m.at("likelihood.p"), 0.074174, 1e-5);
  EXPECT_NEAR(m.at("likelihood.diff_lo"), 2 - 4.302653 / std::sqrt(3.0), 1e-5);
  EXPECT_NEAR(m.at("likelihood.diff_hi"), 2 + 4.302653 / std::sqrt(3.0), 1e-5);
  EXPECT_EQ(m.at("likelihood_prompt.n"), 6);
  EXPECT_NEAR(m.at("likelihood_prompt.mean_diff"), 2, 1e-12);
  EXPECT_NEAR(m.at("likelihood_prompt.t"), 2.738613, 1e-5);
  EXPECT_NEAR(m.at("likelihood_prompt.p"), 0.020430, 1e-5);
  // One-sided: the wrong name more likely gives p near 1, not near 0.
  const auto flipped = LikelihoodMetrics(per_prompt, correct, per_person, group);
  EXPECT_NEAR(flipped.at("likelihood_prompt.p"), 1 - 0.020430, 1e-5);
  // The paper's test reads only the per-person name: same per_person, other per_prompt,
  // same result.
  const auto same_person = LikelihoodMetrics(correct, correct, per_person, group);
  EXPECT_EQ(same_person.at("likelihood.p"), m.at("likelihood.p"));
  EXPECT_EQ(same_person.at("likelihood_prompt.p"), 1);  // all differences 0
}

TEST(Evaluator, EvaluateReportsEveryCellAndLikelihood) {
  torch::manual_seed(0);
  TokenizedTask t = testing::SyntheticTask(6);
  GPTConfig c;
  c.vocab_size = t.vocab_size;
  c.block_size = 16;
  c.n_layer = 1;
  c.n_head = 2;
  c.d_model = 16;
  GPT m(c);
  auto metrics = Evaluate(m, t, 4);
  EXPECT_TRUE(metrics.count("acc.p2d.same.train"));
  EXPECT_TRUE(metrics.count("likelihood.p"));
  EXPECT_EQ(metrics.at("likelihood.n"), 6);
  EXPECT_EQ(metrics.at("likelihood_prompt.n"), 6);
  EXPECT_LE(metrics.at("likelihood.diff_lo"), metrics.at("likelihood.mean_diff"));
  EXPECT_TRUE(m->is_training());  // restored
  // Log-probabilities are sums of log-softmax: negative, and batched like one by one.
  std::vector<TokenIds> p = {t.train[0].prompt, t.train[1].prompt};
  std::vector<TokenIds> comp = {t.train[0].completion, t.train[1].completion};
  auto both = CompletionLogProbs(m, t, p, comp);
  auto one = CompletionLogProbs(m, t, {p[1]}, {comp[1]});
  EXPECT_LT(both[0], 0);
  EXPECT_NEAR(both[1], one[0], 1e-4);
}

// A model trained to memorise the synthetic task: bos + prompt + completion + eos, whole
// document loss, full batch.
GPT TrainedModel(const TokenizedTask& t, int64_t block_size) {
  torch::manual_seed(3);
  GPTConfig c;
  c.vocab_size = t.vocab_size;
  c.block_size = block_size;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 32;
  GPT m(c);
  std::vector<int64_t> ids;
  for (const auto& d : t.train) {
    ids.push_back(t.bos_id);
    ids.insert(ids.end(), d.prompt.begin(), d.prompt.end());
    ids.insert(ids.end(), d.completion.begin(), d.completion.end());
    ids.push_back(t.eos_id);
  }
  const int64_t n = static_cast<int64_t>(t.train.size());
  auto docs = torch::tensor(ids, torch::kLong).view({n, -1});  // (n, 8)
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-2));
  for (int step = 0; step < 300; ++step) {
    auto logits = m->forward(docs.narrow(1, 0, docs.size(1) - 1));
    auto loss = torch::nn::functional::cross_entropy(
        logits.reshape({-1, c.vocab_size}), docs.narrow(1, 1, docs.size(1) - 1).reshape(-1));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  return m;
}

// The cached forward computes what the full forward computes: the last position's logits of
// every prefix, also after rows left the batch. Tolerance 1e-4 on logits of size ~10: the two
// paths differ only in the order of float sums (other matrix shapes).
TEST(Evaluator, KvCacheLogitsEqualTheFullForward) {
  TokenizedTask t = testing::SyntheticTask(12);
  GPT m = TrainedModel(t, 16);
  m->eval();
  torch::NoGradGuard no_grad;
  auto seq = torch::randint(4, t.vocab_size, {5, 12}, torch::kLong);  // (5, 12)
  KVCache cache = m->NewCache(5);
  auto rows = torch::arange(5, torch::kLong);
  auto got = m->NextLogits(seq.narrow(1, 0, 4), &cache);  // a prompt of 4
  for (int64_t len = 4;; ++len) {
    auto want = m->forward(seq.index_select(0, rows).narrow(1, 0, len)).select(1, -1);
    ASSERT_LT((got - want).abs().max().item<float>(), 1e-4) << "length " << len;
    if (len == 12) break;
    if (len == 7) {  // rows 1 and 3 leave the batch
      auto keep = torch::tensor({0, 2, 4}, torch::kLong);
      cache.KeepRows(keep);
      rows = rows.index_select(0, keep);
    }
    got = m->NextLogits(seq.index_select(0, rows).narrow(1, len, 1), &cache);
  }
  EXPECT_EQ(cache.length, 12);
}

// Greedy decoding with the cache gives today's predictions on a trained model: every row of
// every prompt set, with and without early stopping, up to the block limit. A prediction can
// differ only where two logits tie within float rounding (~1e-6 here); on a trained model the
// margins are orders of magnitude larger, so any difference is a bug.
TEST(Evaluator, KvCacheGreedyGenerationEqualsTheFullPath) {
  TokenizedTask t = testing::SyntheticTask(24);
  GPT m = TrainedModel(t, 12);
  m->eval();
  std::vector<TokenIds> prompts;
  for (const auto& d : t.train) prompts.push_back(d.prompt);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 24; ++i) {  // unseen prompts of other lengths, some near the block
    TokenIds p(1 + rng() % 9);
    for (auto& id : p) id = 4 + static_cast<int32_t>(rng() % (t.vocab_size - 4));
    prompts.push_back(p);
  }
  const auto stop_after_two = [](size_t, const TokenIds& ids) { return ids.size() >= 2; };
  for (const bool early : {false, true}) {
    const auto done = early ? std::function<bool(size_t, const TokenIds&)>(stop_after_two)
                            : std::function<bool(size_t, const TokenIds&)>();
    const auto full = GreedyGenerate(m, t, prompts, 6, done, /*kv_cache=*/false);
    const auto cached = GreedyGenerate(m, t, prompts, 6, done, /*kv_cache=*/true);
    ASSERT_EQ(full.size(), cached.size());
    for (size_t i = 0; i < full.size(); ++i) EXPECT_EQ(full[i], cached[i]) << "prompt " << i;
  }
  // The model is trained: it completes its training prompts (so the comparison above is on
  // meaningful predictions, not noise).
  const auto gens = GreedyGenerate(m, t, {prompts.begin(), prompts.begin() + 24}, 4);
  int hits = 0;
  for (size_t i = 0; i < 24; ++i)
    hits += TokenIds(gens[i].begin(), gens[i].begin() + std::min<size_t>(3, gens[i].size())) ==
            t.train[i].completion;
  EXPECT_GE(hits, 20);
}

}  // namespace
}  // namespace revsweep
