// A dense, row-major tensor on a Device: float32 activations, int32 token ids and row indices,
// and weights kept in the precision they come in (bfloat16, float16) or quantised (int8). On the
// CPU it owns its memory or views the caller's (a mapped file's, say); on a GPU it always owns a
// device allocation. Copies of a Tensor share its memory (like a shared pointer); clone() copies
// the data, and to() copies it to another device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "retnet/device.h"

namespace retnet {

namespace detail {
struct DeviceAllocation;  // a GPU allocation (runtime/src/device_allocation.h)
}

enum class DType { f32,
                   i32,
                   bf16,
                   f16,
                   i8 };
const char *dtype_name(DType dtype);
size_t dtype_size(DType dtype);  // bytes an element

using Shape = std::vector<int64_t>;
std::string shape_string(const Shape &shape);

class Tensor {
public:
    Tensor() = default;

    // Owning tensors. empty() leaves the contents unspecified.
    static Tensor empty(const Shape &shape, Device device = Device::cpu, DType dtype = DType::f32);
    static Tensor zeros(const Shape &shape, Device device = Device::cpu);
    static Tensor full(const Shape &shape, float value, Device device = Device::cpu);
    // A view over `data`, which must outlive the view and hold product(shape) floats.
    static Tensor view(float *data, const Shape &shape);
    // A read-only view over host bytes of any dtype, kept alive by `owner` (a mapped file): only
    // ever read, by packing or conversion.
    static Tensor view_bytes(const void *data, const Shape &shape, DType dtype, std::shared_ptr<const void> owner);

    bool defined() const { return data_ != nullptr || device_memory_ != nullptr; }
    bool owns_memory() const { return storage_ != nullptr || device_memory_ != nullptr; }
    Device device() const { return device_; }
    DType dtype() const { return dtype_; }
    const Shape &shape() const { return shape_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    int64_t dim(int i) const { return shape_.at(static_cast<size_t>(i)); }
    int64_t numel() const;
    int64_t byte_size() const { return defined() ? numel() * static_cast<int64_t>(dtype_size(dtype_)) : 0; }
    // Host memory; throws retnet::Error for a tensor on a GPU (copy it with to(Device::cpu)) or of
    // another dtype.
    float *data();
    const float *data() const;
    int32_t *data_i32();
    const int32_t *data_i32() const;
    // bfloat16 or float16 bits, int8 values, or any dtype's bytes.
    const uint16_t *data_u16() const;
    uint16_t *data_u16();
    const int8_t *data_i8() const;
    int8_t *data_i8();
    const void *bytes() const;
    void *bytes();
    detail::DeviceAllocation *device_allocation() const { return device_memory_.get(); }

    // The same memory seen with another shape of as many elements (no copy; on any device).
    Tensor reshape(const Shape &shape) const;
    // Rows [begin, begin + count) of the first dimension of a host tensor, sharing its memory.
    Tensor rows(int64_t begin, int64_t count) const;

    void fill(float value);
    // A copy of the data on the same device.
    Tensor clone() const;
    // The tensor on `device`: itself (the same memory) where it already is, else a copy there.
    Tensor to(Device device) const;
    // Copies `source` (same shape, any device) into this tensor's memory.
    void copy_from(const Tensor &source);
    // Waits until every kernel writing to this tensor's device has finished.
    void synchronize() const;

private:
    std::shared_ptr<const void> storage_;  // the host memory's owner (an allocation, a mapping)
    uint8_t *data_ = nullptr;
    std::shared_ptr<detail::DeviceAllocation> device_memory_;
    Shape shape_;
    DType dtype_ = DType::f32;
    Device device_ = Device::cpu;
};

}  // namespace retnet
