// The tensor and device API: views and owning tensors, explicit copies between devices, and the
// errors a caller can meet (shape mismatch, host access to device memory, unknown device names).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "device_test.h"
#include "retnet/error.h"
#include "retnet/tensor.h"
#include "test_support.h"

namespace retnet::test {
namespace {

TEST(Tensor, ViewsShareTheCallersMemory) {
    std::vector<float> memory(6, 1.5f);
    Tensor view = Tensor::view(memory.data(), {2, 3});
    EXPECT_FALSE(view.owns_memory());
    view.fill(-2.0f);
    for (float x : memory) EXPECT_EQ(x, -2.0f);
    Tensor copy = view.clone();
    EXPECT_TRUE(copy.owns_memory());
    copy.fill(7.0f);
    EXPECT_EQ(memory[0], -2.0f);  // the clone has its own memory
}

// The CPU kernels' 64-byte vector accesses stay inside cache lines only if rows start on them:
// host storage is 128-byte aligned whatever its size (small arrays come from the heap, large ones
// from mmap, which operator new[] left 16 bytes past a page boundary).
TEST(Tensor, HostStorageIsCacheLineAligned) {
    for (int64_t n : {1, 3, 1000, 1 << 20, (1 << 22) + 5}) {
        Tensor t = Tensor::empty({n});
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 128, 0u) << n << " floats";
        t.fill(1.0f);  // the whole extent is usable
        EXPECT_EQ(t.data()[n - 1], 1.0f);
    }
}

TEST(Tensor, BadShapesAndNamesAreErrors) {
    EXPECT_THROW(Tensor::empty({2, -1}), Error);
    EXPECT_THROW(Tensor::view(nullptr, {2}), Error);
    Tensor a = random_tensor({2, 3}), b = random_tensor({3, 2});
    try {
        a.copy_from(b);
        ADD_FAILURE() << "expected retnet::Error";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("[3, 2]"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_device("tpu"), Error);
    EXPECT_EQ(parse_device("opencl"), Device::opencl);
}

class TensorOnDevice : public OnEveryDevice {};

TEST_P(TensorOnDevice, RoundTripIsExact) {
    Tensor host = random_tensor({3, 5, 7});
    Tensor there = host.to(device());
    EXPECT_EQ(there.device(), device());
    EXPECT_EQ(there.shape(), host.shape());
    Tensor back = there.to(Device::cpu);
    for (int64_t i = 0; i < host.numel(); i++) ASSERT_EQ(back.data()[i], host.data()[i]) << i;

    // Device to device, then copy_from into an existing tensor.
    Tensor second = Tensor::full({3, 5, 7}, std::nanf(""), device());
    second.copy_from(there);
    Tensor back2 = second.to(Device::cpu);
    for (int64_t i = 0; i < host.numel(); i++) ASSERT_EQ(back2.data()[i], host.data()[i]) << i;
}

TEST_P(TensorOnDevice, HostAccessToDeviceMemoryIsAnError) {
    if (device() == Device::cpu) GTEST_SKIP() << "host memory is the CPU's";
    Tensor there = Tensor::zeros({4}, device());
    try {
        there.data();
        ADD_FAILURE() << "expected retnet::Error";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find(device_name(device())), std::string::npos) << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(Retention, TensorOnDevice, ::testing::ValuesIn(all_devices()), device_test_name);

}  // namespace
}  // namespace retnet::test
