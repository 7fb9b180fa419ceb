// A model directory loaded for text: the model and the tokenizer beside it (tokenizer.json,
// tokenizer.model or spiece.model; the byte vocabulary for a 256-token model with none), with the
// special tokens the config names.
#pragma once

#include <memory>
#include <string>

#include "retnet/model.h"
#include "retnet/tokenizer.h"

namespace retnet::apps {

struct TextModel {
    std::string dir;
    Model model;
    std::unique_ptr<Tokenizer> tokenizer;
    double load_seconds = 0;

    // The ids of a prompt or text: BOS first when the model has one (as its training data did).
    std::vector<int32_t> encode(const std::string &text) const;
};

TextModel load_text_model(const std::string &dir, Device device, WeightStorage storage = WeightStorage::as_stored);

}  // namespace retnet::apps
