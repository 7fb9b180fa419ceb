#include "text_model.h"

#include <chrono>

namespace retnet::apps {

std::vector<int32_t> TextModel::encode(const std::string &text) const { return tokenizer->encode(text, true); }

TextModel load_text_model(const std::string &dir, Device device, WeightStorage storage) {
    const auto start = std::chrono::steady_clock::now();
    TextModel t{dir, Model::load(dir, device, storage), nullptr};
    const ModelConfig &c = t.model.config();
    t.tokenizer = Tokenizer::load(dir, c.vocab_size, c.bos_id, c.eos_id);
    t.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return t;
}

}  // namespace retnet::apps
