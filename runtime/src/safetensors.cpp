#include "retnet/safetensors.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "json_brief.h"
#include "retnet/checked.h"
#include "retnet/error.h"

namespace retnet {

namespace {

using detail::brief;
using nlohmann::json;

// A header larger than this is refused before it is read (real ones are kilobytes).
constexpr uint64_t kMaxHeaderBytes = uint64_t(100) << 20;

uint64_t element_size(const std::string &dtype) {
    if (dtype == "F32") return 4;
    if (dtype == "F16" || dtype == "BF16") return 2;
    return 0;
}

uint64_t read_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

SafetensorsFile::Entry parse_entry(const std::string &where, const json &value, uint64_t data_size) {
    if (!value.is_object()) throw Error(fmt::format("{}: expected an object, got {}", where, value.type_name()));
    SafetensorsFile::Entry e;
    if (!value.contains("dtype") || !value["dtype"].is_string()) throw Error(fmt::format("{}: dtype: missing or not a string", where));
    e.dtype = value["dtype"].get<std::string>();
    if (element_size(e.dtype) == 0) {
        throw Error(fmt::format("{}: dtype: expected F32, F16 or BF16, got {}", where, brief(value["dtype"])));
    }
    if (!value.contains("shape") || !value["shape"].is_array()) throw Error(fmt::format("{}: shape: missing or not an array", where));
    const json &shape = value["shape"];
    if (shape.size() > SafetensorsFile::kMaxRank) {
        throw Error(fmt::format("{}: shape: expected at most {} dimensions, got {}", where, SafetensorsFile::kMaxRank, shape.size()));
    }
    // The byte count in checked arithmetic: a product that overflows is refused, never wrapped.
    uint64_t bytes = element_size(e.dtype);
    for (const json &extent : shape) {
        if (!extent.is_number_unsigned() && !(extent.is_number_integer() && extent.get<int64_t>() >= 0)) {
            throw Error(fmt::format("{}: shape: expected non-negative integers, got {}", where, brief(shape)));
        }
        const uint64_t n = extent.get<uint64_t>();
        bytes = checked_mul(bytes, n, fmt::format("{}: shape {}: byte count", where, brief(shape)));
        e.shape.push_back(static_cast<int64_t>(n));  // < 2^62: bytes >= n did not overflow
    }
    const json &offsets = value.contains("data_offsets") ? value["data_offsets"] : json();
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
        throw Error(fmt::format("{}: data_offsets: expected [begin, end] as non-negative integers, got {}", where,
                                brief(offsets)));
    }
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size) {
        throw Error(fmt::format("{}: data_offsets [{}, {}] lie outside the file's {} bytes of tensor data", where, e.begin,
                                e.end, data_size));
    }
    if (e.end - e.begin != bytes) {
        throw Error(fmt::format("{}: data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}", where, e.begin,
                                e.end, e.end - e.begin, brief(shape), e.dtype, bytes));
    }
    return e;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string &path) {
    auto mapped = std::make_shared<MappedFile>(MappedFile::open(path, "weights file"));
    const uint64_t file_size = mapped->size();
    if (file_size < 8) {
        throw Error(fmt::format("{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", path, file_size));
    }
    const uint64_t header_size = read_u64_le(mapped->data());
    if (header_size > file_size - 8 || header_size > kMaxHeaderBytes) {
        throw Error(fmt::format("{}: header length {} does not fit the file ({} bytes): truncated or not a safetensors "
                                "file",
                                path, header_size, file_size));
    }
    const char *header = reinterpret_cast<const char *>(mapped->data() + 8);
    json j;
    try {
        j = json::parse(header, header + header_size);
    } catch (const json::exception &e) {
        throw Error(fmt::format("{}: the header is not valid JSON: {}", path, e.what()));
    }
    if (!j.is_object()) throw Error(fmt::format("{}: the header must be a JSON object, got {}", path, j.type_name()));
    SafetensorsFile file;
    file.path_ = path;
    file.data_start_ = 8 + header_size;
    const uint64_t data_size = file_size - file.data_start_;
    for (const auto &[name, value] : j.items()) {
        if (name == "__metadata__") continue;
        file.entries_.emplace(name, parse_entry(fmt::format("{}: tensor '{}'", path, name), value, data_size));
    }
    file.file_ = std::move(mapped);
    return file;
}

Tensor SafetensorsFile::read(const std::string &name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error(fmt::format("{}: tensor '{}' is missing", path_, name));
    const Entry &e = it->second;
    Tensor t = Tensor::empty(e.shape);
    const unsigned char *raw = file_->data() + data_start_ + e.begin;
    float *out = t.data();
    const int64_t n = t.numel();
    int64_t first_bad = -1;
    if (e.dtype == "F32") {
        for (int64_t i = 0; i < n; i++) {
            std::memcpy(out + i, raw + 4 * i, 4);
            if (!std::isfinite(out[i]) && first_bad < 0) first_bad = i;
        }
    } else {
        const bool half = e.dtype == "F16";
        for (int64_t i = 0; i < n; i++) {
            const uint16_t bits = static_cast<uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8));
            out[i] = half ? half_to_float(bits) : bfloat16_to_float(bits);
            if (!std::isfinite(out[i]) && first_bad < 0) first_bad = i;
        }
    }
    file_->release(data_start_ + e.begin, e.end - e.begin);
    if (first_bad >= 0) {
        throw Error(fmt::format("{}: tensor '{}': element {} is {}: expected finite weights", path_, name, first_bad,
                                out[first_bad]));
    }
    return t;
}

Tensor SafetensorsFile::read_stored(const std::string &name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error(fmt::format("{}: tensor '{}' is missing", path_, name));
    const Entry &e = it->second;
    const DType dtype = e.dtype == "F32" ? DType::f32 : e.dtype == "F16" ? DType::f16
                                                                         : DType::bf16;
    const unsigned char *raw = file_->data() + data_start_ + e.begin;
    const uint64_t offset = data_start_ + e.begin, length = e.end - e.begin;
    if (reinterpret_cast<uintptr_t>(raw) % dtype_size(dtype) != 0) {
        // Misaligned for its element type (the format does not promise alignment): a copy.
        Tensor t = Tensor::empty(e.shape, Device::cpu, dtype);
        if (length > 0) std::memcpy(t.bytes(), raw, length);
        file_->release(offset, length);
        return t;
    }
    // A view of the mapping (the file's bytes are little-endian, as this machine's); its pages are
    // dropped when the last copy of the view goes.
    std::shared_ptr<const MappedFile> file = file_;
    std::shared_ptr<const void> owner(raw, [file, offset, length](const void *) { file->release(offset, length); });
    return Tensor::view_bytes(raw, e.shape, dtype, std::move(owner));
}

Tensor SafetensorsFile::read(const std::string &name, const Shape &expected) const {
    auto it = entries_.find(name);
    if (it != entries_.end() && it->second.shape != expected) {
        throw Error(fmt::format("{}: tensor '{}': expected shape {}, got {}", path_, name, shape_string(expected),
                                shape_string(it->second.shape)));
    }
    return read(name);
}

void write_safetensors(const std::string &path, const std::vector<std::pair<std::string, Tensor>> &tensors) {
    AtomicOutputFile out(path, "weights file");
    json header = json::object();
    uint64_t offset = 0;
    for (const auto &[name, t] : tensors) {
        const uint64_t bytes = static_cast<uint64_t>(t.numel()) * 4;
        header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    const std::string text = header.dump();
    unsigned char length[8];
    for (int i = 0; i < 8; i++) length[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
    out.write(length, 8);
    out.write(text);
    for (const auto &[name, t] : tensors) {
        Tensor host = t.to(Device::cpu);
        if (host.numel() > 0) out.write(host.data(), static_cast<size_t>(host.numel()) * 4);
    }
    out.commit();
}

}  // namespace retnet
