#include "passerelle/privacy/released_sets.h"

namespace passerelle::privacy {

Status ReleasedSets::Check(std::span<const Cohort> populations, std::span<const Cohort> counts,
                           const Policy& policy) const {
  RETURN_IF_ERROR(populations_.Check(populations, policy));
  std::vector<Cohort> fresh;
  for (auto part : {populations, counts}) {
    for (const Cohort& c : part) {
      if (!digests_.contains(c.digest)) fresh.push_back(c);
    }
  }
  if (fresh.empty()) return Status::Ok();
  return counts_.Check(fresh, policy);
}

std::vector<std::pair<Cohort, bool>> ReleasedSets::Fresh(std::span<const Cohort> populations,
                                                         std::span<const Cohort> counts) const {
  std::vector<std::pair<Cohort, bool>> fresh;
  for (const Cohort& c : populations) {
    if (!populations_.Contains(c.digest)) fresh.emplace_back(c, true);
  }
  for (const Cohort& c : counts) {
    if (!digests_.contains(c.digest)) fresh.emplace_back(c, false);
  }
  return fresh;
}

void ReleasedSets::Add(const std::vector<std::pair<Cohort, bool>>& sets) {
  std::vector<Cohort> audited;
  for (const auto& [c, population] : sets) {
    if (population) populations_.Add(c);
    if (digests_.insert(c.digest).second) audited.push_back(c);
  }
  counts_.Add(audited);
}

}  // namespace passerelle::privacy
