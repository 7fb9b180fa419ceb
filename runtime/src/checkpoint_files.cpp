#include "checkpoint_files.h"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "json_brief.h"
#include "retnet/error.h"
#include "retnet/files.h"

namespace retnet::detail {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// An index names thousands of tensors at most; 64 MiB bounds a hostile one.
constexpr uint64_t kMaxIndexBytes = uint64_t(64) << 20;
constexpr size_t kMaxShards = 4096;

// A shard is a plain file name in the model's directory: no folders, no "..".
void check_shard_name(const std::string &index_path, const std::string &tensor, const std::string &shard) {
    const bool plain = !shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..";
    if (!plain) {
        throw Error(fmt::format("{}: weight_map['{}']: expected a file name in the model's directory, got '{}'", index_path,
                                tensor, shard));
    }
}

}  // namespace

CheckpointFiles CheckpointFiles::open(const std::string &dir) {
    CheckpointFiles c;
    const std::string single = (fs::path(dir) / "model.safetensors").string();
    const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
    std::error_code ec;
    if (fs::exists(single, ec) || !fs::exists(index_path, ec)) {
        if (!fs::exists(single, ec)) {
            const bool pickle = fs::exists(fs::path(dir) / "pytorch_model.bin", ec) ||
                                fs::exists(fs::path(dir) / "pytorch_model.bin.index.json", ec);
            throw Error(fmt::format("{}: no model.safetensors or model.safetensors.index.json{}", dir,
                                    pickle ? " (PyTorch pickle files are not read: they can run code; convert them to "
                                             "safetensors)"
                                           : ""));
        }
        c.files_.push_back(SafetensorsFile::open(single));
        c.description_ = single;
    } else {
        json index;
        try {
            index = json::parse(read_text_file(index_path, "checkpoint index", kMaxIndexBytes));
        } catch (const json::exception &e) {
            throw Error(fmt::format("{}: not valid JSON: {}", index_path, e.what()));
        }
        if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
            throw Error(fmt::format("{}: expected an object with a weight_map object", index_path));
        }
        std::map<std::string, size_t> shard_number;
        std::map<std::string, std::string> listed;  // tensor -> shard
        for (const auto &[tensor, shard] : index["weight_map"].items()) {
            if (!shard.is_string()) {
                throw Error(fmt::format("{}: weight_map['{}']: expected a file name, got {}", index_path, tensor, brief(shard)));
            }
            const std::string name = shard.get<std::string>();
            check_shard_name(index_path, tensor, name);
            listed.emplace(tensor, name);
            if (!shard_number.count(name)) {
                if (shard_number.size() == kMaxShards) throw Error(fmt::format("{}: more than {} shards", index_path, kMaxShards));
                shard_number.emplace(name, shard_number.size());
                c.files_.push_back(SafetensorsFile::open((fs::path(dir) / name).string()));
            }
        }
        // Each shard holds exactly what the index says it holds.
        for (const auto &[name, number] : shard_number) {
            for (const auto &[tensor, entry] : c.files_[number].entries()) {
                auto it = listed.find(tensor);
                if (it == listed.end() || it->second != name) {
                    throw Error(fmt::format("{}: tensor '{}' is in {} but the index {}", index_path, tensor, name,
                                            it == listed.end() ? "does not list it" : "puts it in " + it->second));
                }
            }
        }
        for (const auto &[tensor, shard] : listed) {
            if (!c.files_[shard_number.at(shard)].contains(tensor)) {
                throw Error(fmt::format("{}: the index puts tensor '{}' in {}, which does not hold it", index_path, tensor, shard));
            }
        }
        c.description_ = fmt::format("{} ({} shards)", dir, c.files_.size());
    }
    for (size_t i = 0; i < c.files_.size(); i++) {
        for (const auto &[tensor, entry] : c.files_[i].entries()) {
            if (!c.file_of_.emplace(tensor, i).second) {
                throw Error(fmt::format("{}: tensor '{}' is stored twice", c.description_, tensor));
            }
            c.shapes_.emplace(tensor, entry.shape);
        }
    }
    return c;
}

Tensor CheckpointFiles::read(const std::string &name) const {
    auto it = file_of_.find(name);
    if (it == file_of_.end()) throw Error(fmt::format("{}: tensor '{}' is missing", description_, name));
    return files_[it->second].read(name);
}

Tensor CheckpointFiles::read_stored(const std::string &name) const {
    auto it = file_of_.find(name);
    if (it == file_of_.end()) throw Error(fmt::format("{}: tensor '{}' is missing", description_, name));
    return files_[it->second].read_stored(name);
}

}  // namespace retnet::detail
