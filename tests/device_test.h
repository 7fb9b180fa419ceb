// A test fixture parameterised by Device: a device that is not built into this binary, or has no
// driver or hardware here, skips with the reason printed (e.g. "cuda: no usable device (...)").
#pragma once

#include <gtest/gtest.h>

#include "retnet/device.h"
#include "test_support.h"

namespace retnet::test {

class OnEveryDevice : public ::testing::TestWithParam<Device> {
protected:
    void SetUp() override {
        std::string why = why_unavailable(GetParam());
        if (!why.empty()) GTEST_SKIP() << "skipping on " << device_name(GetParam()) << ": " << why;
    }
    Device device() const { return GetParam(); }
};

inline std::string device_test_name(const ::testing::TestParamInfo<Device> &info) { return device_name(info.param); }

}  // namespace retnet::test
