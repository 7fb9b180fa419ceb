#include "retnet/tensor.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet {

const char *dtype_name(DType dtype) {
    switch (dtype) {
    case DType::f32: return "float32";
    }
    return "unknown";
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

Tensor Tensor::empty(const Shape &shape, DType dtype) {
    Tensor t;
    int64_t n = checked_numel(shape);
    t.storage_ = std::shared_ptr<float[]>(new float[static_cast<size_t>(std::max<int64_t>(n, 1))]);
    t.data_ = t.storage_.get();
    t.shape_ = shape;
    t.dtype_ = dtype;
    return t;
}

Tensor Tensor::zeros(const Shape &shape, DType dtype) { return full(shape, 0.0f, dtype); }

Tensor Tensor::full(const Shape &shape, float value, DType dtype) {
    Tensor t = empty(shape, dtype);
    t.fill(value);
    return t;
}

Tensor Tensor::view(float *data, const Shape &shape, DType dtype) {
    if (data == nullptr) throw Error(fmt::format("Tensor::view: null data pointer for shape {}", shape_string(shape)));
    checked_numel(shape);
    Tensor t;
    t.data_ = data;
    t.shape_ = shape;
    t.dtype_ = dtype;
    return t;
}

void Tensor::fill(float value) { std::fill(data_, data_ + numel(), value); }

Tensor Tensor::clone() const {
    Tensor t = empty(shape_, dtype_);
    if (numel() > 0) std::memcpy(t.data_, data_, static_cast<size_t>(numel()) * sizeof(float));
    return t;
}

void check_tensor(const Tensor &tensor, const std::string &role, const Shape &expected,
                  const std::string &dims) {
    if (!tensor.defined()) {
        throw Error(fmt::format("{}: expected a tensor of shape {} ({}), got an undefined tensor", role,
                                shape_string(expected), dims));
    }
    if (tensor.dtype() != DType::f32) {
        throw Error(fmt::format("{}: expected dtype float32, got {}", role, dtype_name(tensor.dtype())));
    }
    if (tensor.shape() != expected) {
        throw Error(fmt::format("{}: expected shape {} ({}), got {}", role, shape_string(expected), dims,
                                shape_string(tensor.shape())));
    }
}

}  // namespace retnet
