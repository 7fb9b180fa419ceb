// The weights of a model directory as one set of named tensors: model.safetensors, or the shards
// that model.safetensors.index.json lists (Hugging Face's sharded layout). Every file is checked
// as a single one is (retnet/safetensors.h), and the index against the shards: each name in one
// shard only, each shard's tensors all listed there, no shard outside the directory.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "retnet/safetensors.h"

namespace retnet::detail {

class CheckpointFiles {
public:
    static CheckpointFiles open(const std::string &dir);

    const std::map<std::string, Shape> &shapes() const { return shapes_; }
    bool contains(const std::string &name) const { return shapes_.count(name) != 0; }
    // float32 on the host, converted from the mapped file (retnet/safetensors.h).
    Tensor read(const std::string &name) const;
    // As stored: a view of the mapped file (SafetensorsFile::read_stored).
    Tensor read_stored(const std::string &name) const;
    // "DIR/model.safetensors" or "DIR (3 shards)", for messages.
    const std::string &description() const { return description_; }

private:
    std::vector<SafetensorsFile> files_;
    std::map<std::string, size_t> file_of_;
    std::map<std::string, Shape> shapes_;
    std::string description_;
};

}  // namespace retnet::detail
