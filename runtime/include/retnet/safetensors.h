// Reading (and writing) .safetensors files: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}}, then the tensors' bytes. Everything in the
// header is checked against the file before any tensor is read (lengths, JSON, dtypes, shapes,
// byte ranges inside the file and matching their shapes, with checked arithmetic), so a corrupt or
// truncated file is a retnet::Error naming the file and the entry, never a crash. The file is
// mapped, not read: a tensor is converted to float32 straight from the mapping when asked for, and
// its pages are then dropped, so loading never holds the file twice.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "retnet/files.h"
#include "retnet/float_formats.h"
#include "retnet/tensor.h"

namespace retnet {

class SafetensorsFile {
public:
    struct Entry {
        std::string dtype;  // "F32", "F16" or "BF16" (others are refused when opening)
        Shape shape;
        uint64_t begin = 0, end = 0;  // byte range within the data section
    };
    static constexpr int kMaxRank = 8;

    static SafetensorsFile open(const std::string &path);

    const std::string &path() const { return path_; }
    const std::map<std::string, Entry> &entries() const { return entries_; }
    bool contains(const std::string &name) const { return entries_.count(name) != 0; }
    // The tensor as float32 on the host (F16 and BF16 converted exactly). Throws if it is absent,
    // of another shape when `expected` is given, or holds a NaN or an infinity.
    Tensor read(const std::string &name) const;
    Tensor read(const std::string &name, const Shape &expected) const;
    // The tensor as stored (float32, float16 or bfloat16): a read-only view of the mapped file,
    // whose pages are dropped when the view goes. Not checked for NaN or infinity here: the
    // consumers (LinearWeight::pack, to_float32) check as they convert.
    Tensor read_stored(const std::string &name) const;

private:
    std::string path_;
    std::shared_ptr<const MappedFile> file_;
    uint64_t data_start_ = 0;
    std::map<std::string, Entry> entries_;
};

// Writes float32 tensors (host) as a .safetensors file, in the given order; the file appears
// only when complete.
void write_safetensors(const std::string &path, const std::vector<std::pair<std::string, Tensor>> &tensors);

}  // namespace retnet
