// The settings that vary across a sweep's trials, and short trial descriptions built from
// them ("lr=0.001 seed=2"). The store keeps a sweep's varying keys so that status can
// describe a few trials without loading all of them.
#pragma once

#include <string>
#include <vector>

#include "common/config/settings.h"

namespace revsweep {

// Keys whose printed values are not all equal across `all` (a key missing in some trial
// counts as varying), sorted. Empty for fewer than 2 trials.
std::vector<std::string> VaryingKeys(const std::vector<const Settings*>& all);

// The keys varying across the union of two trial sets, from each set's varying keys and one
// trial of each (`a_rep`, `b_rep`; nullptr for an empty set): a key varies in the union when
// it varies in either set or the two sets' constant values differ.
std::vector<std::string> MergeVaryingKeys(const std::vector<std::string>& a, const Settings* a_rep,
                                          const std::vector<std::string>& b, const Settings* b_rep);

// "k=v k=v" over `varying` (in order), skipping keys `s` lacks. Keys print as their last
// dotted component unless two varying keys share it.
std::string DescribeSettings(const Settings& s, const std::vector<std::string>& varying);

}  // namespace revsweep
