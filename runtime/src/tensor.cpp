#include "retnet/tensor.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "device_allocation.h"
#include "halide_bridge.h"
#include "retnet/checked.h"
#include "retnet/error.h"

namespace retnet {

const char *dtype_name(DType dtype) {
    switch (dtype) {
    case DType::f32: return "float32";
    case DType::i32: return "int32";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    case DType::i8: return "int8";
    }
    return "unknown";
}

size_t dtype_size(DType dtype) {
    switch (dtype) {
    case DType::f32:
    case DType::i32: return 4;
    case DType::bf16:
    case DType::f16: return 2;
    case DType::i8: return 1;
    }
    return 4;
}

std::string shape_string(const Shape &shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

static int64_t checked_numel(const Shape &shape) {
    int64_t n = 1;
    for (int64_t extent : shape) {
        if (extent < 0) throw Error(fmt::format("tensor shape {} has a negative extent", shape_string(shape)));
        if (extent != 0 && n > INT64_MAX / extent) throw Error(fmt::format("tensor shape {} is too large", shape_string(shape)));
        n *= extent;
    }
    return n;
}

int64_t Tensor::numel() const { return checked_numel(shape_); }

// Host storage starts on a cache-line boundary (kHostAlignment bytes, Halide's own buffer
// alignment): the kernels' 64-byte vector loads and stores of a row then stay inside one line.
// (operator new[] gives large arrays 16-byte alignment, so every AVX-512 access to them would span
// two lines.)
constexpr size_t kHostAlignment = 128;
constexpr size_t kHugePage = size_t(2) << 20;

static std::shared_ptr<const void> aligned_host_storage(int64_t n, DType dtype, const Shape &shape) {
    const size_t count = static_cast<size_t>(std::max<int64_t>(n, 1));
    // Sizes reach here from files and flags: past the machine's memory an allocation can only fail
    // or call the OOM killer, so it is refused by name; a failure below it is an Error too.
    const std::string what = fmt::format("a {} tensor of shape {}", dtype_name(dtype), shape_string(shape));
    const size_t bytes = checked_mul(uint64_t(count), uint64_t(dtype_size(dtype)), what);
    require_fits_in_memory(bytes, what);
    // Tensors of 2 MiB and more start on a huge-page boundary and ask for transparent huge pages:
    // a model's weights then fault in 2 MiB at a time, not 4 KiB (loading a 1.3B model took a
    // page fault per 4 KiB, a third of its time), and the kernels' walks over them miss the TLB
    // less. Where THP is off, madvise is a no-op.
    const size_t alignment = bytes >= kHugePage ? kHugePage : kHostAlignment;
    const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    void *data = std::aligned_alloc(alignment, rounded);
    if (data == nullptr) throw Error(fmt::format("{}: out of memory allocating {} bytes", what, bytes));
    if (alignment == kHugePage) madvise(data, rounded, MADV_HUGEPAGE);
    return std::shared_ptr<const void>(data, [](const void *p) { std::free(const_cast<void *>(p)); });
}

Tensor Tensor::empty(const Shape &shape, Device device, DType dtype) {
    Tensor t;
    int64_t n = checked_numel(shape);
    t.shape_ = shape;
    t.device_ = device;
    t.dtype_ = dtype;
    if (device == Device::cpu) {
        t.storage_ = aligned_host_storage(n, dtype, shape);
        t.data_ = static_cast<uint8_t *>(const_cast<void *>(t.storage_.get()));
    } else {
        t.device_memory_ = std::make_shared<detail::DeviceAllocation>(device, shape, dtype);
    }
    return t;
}

Tensor Tensor::zeros(const Shape &shape, Device device) { return full(shape, 0.0f, device); }

Tensor Tensor::full(const Shape &shape, float value, Device device) {
    Tensor host = empty(shape, Device::cpu);
    std::fill(host.data(), host.data() + host.numel(), value);
    return host.to(device);
}

Tensor Tensor::view(float *data, const Shape &shape) {
    if (data == nullptr) throw Error(fmt::format("Tensor::view: null data pointer for shape {}", shape_string(shape)));
    checked_numel(shape);
    Tensor t;
    t.data_ = reinterpret_cast<uint8_t *>(data);
    t.shape_ = shape;
    return t;
}

Tensor Tensor::view_bytes(const void *data, const Shape &shape, DType dtype, std::shared_ptr<const void> owner) {
    if (data == nullptr) throw Error(fmt::format("Tensor::view_bytes: null data pointer for shape {}", shape_string(shape)));
    checked_numel(shape);
    Tensor t;
    t.data_ = static_cast<uint8_t *>(const_cast<void *>(data));
    t.storage_ = std::move(owner);
    t.shape_ = shape;
    t.dtype_ = dtype;
    return t;
}

static void require_host(const Tensor &t) {
    if (t.device() != Device::cpu) {
        throw Error(fmt::format("tensor of shape {} is on {}: copy it to the host with to(Device::cpu) first",
                                shape_string(t.shape()), device_name(t.device())));
    }
}

static void require_host(const Tensor &t, DType expected) {
    if (t.device() != Device::cpu) {
        throw Error(fmt::format("tensor of shape {} is on {}: copy it to the host with to(Device::cpu) first",
                                shape_string(t.shape()), device_name(t.device())));
    }
    if (t.dtype() != expected) {
        throw Error(fmt::format("tensor of shape {} holds {}, read as {}", shape_string(t.shape()),
                                dtype_name(t.dtype()), dtype_name(expected)));
    }
}

float *Tensor::data() {
    require_host(*this, DType::f32);
    return reinterpret_cast<float *>(data_);
}

const float *Tensor::data() const { return const_cast<Tensor *>(this)->data(); }

int32_t *Tensor::data_i32() {
    require_host(*this, DType::i32);
    return reinterpret_cast<int32_t *>(data_);
}

const int32_t *Tensor::data_i32() const { return const_cast<Tensor *>(this)->data_i32(); }

uint16_t *Tensor::data_u16() {
    require_host(*this, dtype_ == DType::f16 ? DType::f16 : DType::bf16);
    return reinterpret_cast<uint16_t *>(data_);
}

const uint16_t *Tensor::data_u16() const { return const_cast<Tensor *>(this)->data_u16(); }

int8_t *Tensor::data_i8() {
    require_host(*this, DType::i8);
    return reinterpret_cast<int8_t *>(data_);
}

const int8_t *Tensor::data_i8() const { return const_cast<Tensor *>(this)->data_i8(); }

void *Tensor::bytes() {
    require_host(*this);
    return data_;
}

const void *Tensor::bytes() const { return const_cast<Tensor *>(this)->bytes(); }

Tensor Tensor::reshape(const Shape &shape) const {
    if (checked_numel(shape) != numel()) {
        throw Error(fmt::format("Tensor::reshape: cannot view {} elements of shape {} as shape {}", numel(),
                                shape_string(shape_), shape_string(shape)));
    }
    Tensor t = *this;
    t.shape_ = shape;
    return t;
}

Tensor Tensor::rows(int64_t begin, int64_t count) const {
    require_host(*this);
    if (rank() < 1 || begin < 0 || count < 0 || begin + count > shape_[0]) {
        throw Error(fmt::format("Tensor::rows: rows [{}, {}) are not inside a tensor of shape {}", begin, begin + count,
                                shape_string(shape_)));
    }
    int64_t row_elements = 1;
    for (size_t d = 1; d < shape_.size(); d++) row_elements *= shape_[d];
    Tensor t = *this;
    t.shape_[0] = count;
    t.data_ = data_ + static_cast<size_t>(begin * row_elements) * dtype_size(dtype_);
    return t;
}

void Tensor::fill(float value) {
    if (device_ == Device::cpu) {
        std::fill(data(), data() + numel(), value);
    } else {
        copy_from(full(shape_, value, Device::cpu));
    }
}

Tensor Tensor::clone() const {
    Tensor copy = empty(shape_, device_, dtype_);
    copy.copy_from(*this);
    return copy;
}

Tensor Tensor::to(Device device) const {
    if (device == device_) return *this;
    Tensor copy = empty(shape_, device, dtype_);
    copy.copy_from(*this);
    return copy;
}

void Tensor::copy_from(const Tensor &source) {
    if (source.shape() != shape_) {
        throw Error(fmt::format("Tensor::copy_from: expected a source of shape {}, got {}", shape_string(shape_),
                                shape_string(source.shape())));
    }
    if (source.dtype() != dtype_) {
        throw Error(fmt::format("Tensor::copy_from: expected a {} source, got {}", dtype_name(dtype_),
                                dtype_name(source.dtype())));
    }
    if (device_ == Device::cpu && source.device() == Device::cpu) {
        if (numel() > 0) std::memcpy(data_, source.data_, static_cast<size_t>(byte_size()));
        return;
    }
    detail::copy_tensor_data(source, *this);
}

void Tensor::synchronize() const {
    if (device_ == Device::cpu) return;
    detail::begin_kernel_call();
    halide_device_sync(nullptr, &device_memory_->buffer);
}

}  // namespace retnet
