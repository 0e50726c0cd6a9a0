// worker/device_choice: the device a rank takes from what it sees, and the groups refused up
// front (mixed CUDA/CPU, two members on one GPU) with a message naming both ranks.
#include "worker/device_choice.h"

#include <gtest/gtest.h>

namespace revsweep {
namespace {

TEST(ChooseDevice, CpuWithoutACudaBuildOrWithoutGpus) {
  DeviceEnv env;
  env.visible_gpus = 8;
  EXPECT_FALSE(ChooseDevice(env).cuda);  // CPU-only build
  env.cuda_build = true;
  env.visible_gpus = 0;
  EXPECT_FALSE(ChooseDevice(env).cuda);  // CUDA libtorch, no GPU on this node
  EXPECT_EQ(ChooseDevice(env).gpu, -1);
}

TEST(ChooseDevice, OneGpuPerNodeLocalRank) {
  DeviceEnv env;
  env.cuda_build = true;
  env.visible_gpus = 4;
  env.local_size = 4;
  for (int r = 0; r < 4; ++r) {
    env.local_rank = r;
    DeviceChoice c = ChooseDevice(env);
    EXPECT_TRUE(c.cuda);
    EXPECT_EQ(c.gpu, r);
    EXPECT_TRUE(c.note.empty());
  }
  // CUDA_VISIBLE_DEVICES=2,3 leaves two visible GPUs, indexed 0 and 1.
  env.visible_gpus = 2;
  env.cuda_visible_devices = "2,3";
  env.local_rank = 3;
  DeviceChoice c = ChooseDevice(env);
  EXPECT_EQ(c.gpu, 1);
  EXPECT_NE(c.note.find("4 ranks on this node share 2 visible GPU(s)"), std::string::npos)
      << c.note;
  EXPECT_NE(c.note.find("CUDA_VISIBLE_DEVICES=2,3"), std::string::npos) << c.note;
}

TEST(CheckGroupDevices, RefusesMixedAndDuplicateGpus) {
  EXPECT_EQ(CheckGroupDevices({}), "");
  EXPECT_EQ(CheckGroupDevices({{0, "n1", false, -1}, {1, "n1", false, -1}}), "");
  EXPECT_EQ(CheckGroupDevices({{0, "n1", true, 0}, {1, "n1", true, 1}, {2, "n2", true, 0}}), "");
  std::string mixed = CheckGroupDevices({{0, "n1", true, 0}, {3, "n2", false, -1}});
  EXPECT_NE(mixed.find("rank 0 trains on a GPU (n1) but rank 3 on the CPU (n2)"), std::string::npos)
      << mixed;
  std::string dup = CheckGroupDevices({{4, "n2", true, 1}, {5, "n2", true, 1}});
  EXPECT_NE(dup.find("ranks 4 and 5 of one group both use GPU 1 on n2"), std::string::npos) << dup;
}

}  // namespace
}  // namespace revsweep
