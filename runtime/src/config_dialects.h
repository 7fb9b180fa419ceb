// The config.json parsers of the three checkpoint dialects (retnet/model_config.h): which one a
// file is, and each one's reading into a ModelConfig (validated by the caller).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "retnet/model_config.h"

namespace retnet::detail {

// fla if it has hidden_size or num_heads; syncdoth if decoder_embed_dim with model_type "retnet";
// torchscale if decoder_embed_dim without a model_type. Anything else, and the fields of variants
// that are not run (syncdoth's XATL fork), are refused by name.
Dialect detect_dialect(const nlohmann::json &j, const std::string &source);

ModelConfig parse_torchscale_config(const nlohmann::json &j, const std::string &source);
ModelConfig parse_syncdoth_config(const nlohmann::json &j, const std::string &source);
ModelConfig parse_fla_config(const nlohmann::json &j, const std::string &source);

}  // namespace retnet::detail
