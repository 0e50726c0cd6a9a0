#include "worker/device_choice.h"

#include <map>
#include <utility>

namespace revsweep {

DeviceChoice ChooseDevice(const DeviceEnv& env) {
  DeviceChoice c;
  if (!env.cuda_build || env.visible_gpus <= 0) return c;
  c.cuda = true;
  c.gpu = env.local_rank % env.visible_gpus;
  if (env.local_size > env.visible_gpus) {
    c.note = std::to_string(env.local_size) + " ranks on this node share " +
             std::to_string(env.visible_gpus) + " visible GPU(s)" +
             (env.cuda_visible_devices.empty()
                  ? std::string()
                  : " (CUDA_VISIBLE_DEVICES=" + env.cuda_visible_devices + ")") +
             ": ranks of one group must not share one";
  }
  return c;
}

std::string CheckGroupDevices(const std::vector<MemberDevice>& members) {
  if (members.empty()) return "";
  for (const MemberDevice& m : members) {
    if (m.cuda != members.front().cuda) {
      const MemberDevice& gpu = m.cuda ? m : members.front();
      const MemberDevice& cpu = m.cuda ? members.front() : m;
      return "rank " + std::to_string(gpu.world_rank) + " trains on a GPU (" + gpu.node +
             ") but rank " + std::to_string(cpu.world_rank) + " on the CPU (" + cpu.node +
             "): one group cannot mix them; give every node the same GPUs, or none";
    }
  }
  std::map<std::pair<std::string, int>, int> owner;
  for (const MemberDevice& m : members) {
    if (!m.cuda) continue;
    auto [it, fresh] = owner.emplace(std::make_pair(m.node, m.gpu), m.world_rank);
    if (!fresh) {
      return "ranks " + std::to_string(it->second) + " and " + std::to_string(m.world_rank) +
             " of one group both use GPU " + std::to_string(m.gpu) + " on " + m.node +
             " (NCCL refuses a duplicate GPU): run at most one rank per visible GPU on each "
             "node, or set resources.group_size so a group's ranks sit on distinct GPUs";
    }
  }
  return "";
}

}  // namespace revsweep
