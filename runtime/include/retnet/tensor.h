// A dense, row-major float tensor: either owning its memory or a view over the caller's.
// Copies of a Tensor share its memory (like a shared pointer); clone() copies the data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace retnet {

enum class DType { f32 };
const char *dtype_name(DType dtype);

using Shape = std::vector<int64_t>;
std::string shape_string(const Shape &shape);

class Tensor {
public:
    Tensor() = default;

    // Owning tensors. empty() leaves the contents unspecified.
    static Tensor empty(const Shape &shape, DType dtype = DType::f32);
    static Tensor zeros(const Shape &shape, DType dtype = DType::f32);
    static Tensor full(const Shape &shape, float value, DType dtype = DType::f32);
    // A view over `data`, which must outlive the view and hold product(shape) floats.
    static Tensor view(float *data, const Shape &shape, DType dtype = DType::f32);

    bool defined() const { return data_ != nullptr; }
    bool owns_memory() const { return storage_ != nullptr; }
    DType dtype() const { return dtype_; }
    const Shape &shape() const { return shape_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    int64_t dim(int i) const { return shape_.at(static_cast<size_t>(i)); }
    int64_t numel() const;
    float *data() { return data_; }
    const float *data() const { return data_; }

    void fill(float value);
    Tensor clone() const;

private:
    std::shared_ptr<float[]> storage_;
    float *data_ = nullptr;
    Shape shape_;
    DType dtype_ = DType::f32;
};

// Throws retnet::Error unless `tensor` is defined, f32 and exactly `expected`; `role` names it
// ("retention_chunkwise: k") and `dims` names the dimensions ("B, T, H, K").
void check_tensor(const Tensor &tensor, const std::string &role, const Shape &expected,
                  const std::string &dims);

}  // namespace retnet
