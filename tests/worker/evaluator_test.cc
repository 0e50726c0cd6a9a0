#include "worker/evaluator.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace revsweep
