#include "worker/group_reuse.h"

#include <gtest/gtest.h>

namespace revsweep {
namespace {

HeldGroupKey Held(std::vector<int> ranks, int64_t created_by, bool cuda = true, int gpu = 0) {
  HeldGroupKey h;
  h.key = GroupKey{std::move(ranks), cuda, gpu};
  h.created_by = created_by;
  return h;
}

TEST(GroupReuse, VotesForWhatItHoldsOnlyForExactlyTheSameGroupAndDevice) {
  const HeldGroupKey held = Held({1, 2, 3}, 41);
  EXPECT_EQ(ReuseVote(held, GroupKey{{1, 2, 3}, true, 0}), 41);
  EXPECT_EQ(ReuseVote(held, GroupKey{{1, 2}, true, 0}), -1);               // fewer ranks
  EXPECT_EQ(ReuseVote(held, GroupKey{{1, 2, 3, 4}, true, 0}), -1);         // more ranks (regroup)
  EXPECT_EQ(ReuseVote(held, GroupKey{{2, 1, 3}, true, 0}), -1);            // another leader/order
  EXPECT_EQ(ReuseVote(held, GroupKey{{1, 2, 4}, true, 0}), -1);            // another member
  EXPECT_EQ(ReuseVote(held, GroupKey{{1, 2, 3}, true, 1}), -1);            // another GPU
  EXPECT_EQ(ReuseVote(held, GroupKey{{1, 2, 3}, false, -1}), -1);          // the CPU
  EXPECT_EQ(ReuseVote(HeldGroupKey(), GroupKey{{1, 2, 3}, true, 0}), -1);  // holds nothing
}

TEST(GroupReuse, CpuGroupsAreKeptToo) {
  EXPECT_EQ(ReuseVote(Held({4, 5}, 9, false, -1), GroupKey{{4, 5}, false, -1}), 9);
}

TEST(GroupReuse, TheGroupKeepsOnlyWhenEveryMemberHoldsTheSameCommunicators) {
  EXPECT_TRUE(AgreeReuse({41}));
  EXPECT_TRUE(AgreeReuse({41, 41, 41}));
  EXPECT_FALSE(AgreeReuse({}));
  EXPECT_FALSE(AgreeReuse({-1}));
  EXPECT_FALSE(AgreeReuse({-1, -1}));
  EXPECT_FALSE(AgreeReuse({41, -1, 41}));  // one member failed and freed its own
  EXPECT_FALSE(AgreeReuse({-1, 41}));
  EXPECT_FALSE(AgreeReuse({41, 40}));  // made in different attempts: not the same objects
}

TEST(GroupReuse, OnlyAFinishedTrialKeepsItsCommunicators) {
  EXPECT_TRUE(KeepGroupAfter(TrialEnd::kFinished));
  EXPECT_FALSE(KeepGroupAfter(TrialEnd::kStopped));  // cancel, regroup, preemption, timeout
  EXPECT_FALSE(KeepGroupAfter(TrialEnd::kFailed));   // this rank's or a member's failure
}

}  // namespace
}  // namespace revsweep
