#include "worker/group_reuse.h"

namespace revsweep {

int64_t ReuseVote(const HeldGroupKey& held, const GroupKey& want) {
  if (held.created_by < 0) return -1;
  if (held.key.ranks != want.ranks || held.key.cuda != want.cuda || held.key.gpu != want.gpu)
    return -1;
  return held.created_by;
}

bool AgreeReuse(const std::vector<int64_t>& votes) {
  if (votes.empty() || votes.front() < 0) return false;
  for (int64_t v : votes)
    if (v != votes.front()) return false;
  return true;
}

bool KeepGroupAfter(TrialEnd end) { return end == TrialEnd::kFinished; }

}  // namespace revsweep
