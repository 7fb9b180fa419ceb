// A test fixture parameterised by Device: a device that is not built into this binary, or has no
// driver or hardware here, skips with the reason printed (e.g. "cuda: no usable device (...)").
#pragma once

#include <gtest/gtest.h>

#include "retnet/device.h"
#include "test_support.h"

namespace retnet::test {

// From a fixture's SetUp: skips the test, saying why, unless `device` can run here.
inline void skip_unless_available(Device device) {
    const std::string why = why_unavailable(device);
    if (!why.empty()) GTEST_SKIP() << "skipping on " << device_name(device) << ": " << why;
}

class OnEveryDevice : public ::testing::TestWithParam<Device> {
protected:
    void SetUp() override { skip_unless_available(GetParam()); }
    Device device() const { return GetParam(); }
};

inline std::string device_test_name(const ::testing::TestParamInfo<Device> &info) { return device_name(info.param); }

}  // namespace retnet::test
