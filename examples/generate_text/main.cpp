// Text generation with RetNet-Halide's public API: load a model, prefill a prompt, then sample one
// token at a time. Usage:
//   generate_text [-m MODEL_DIR] [-n N_TOKENS] [PROMPT]
// MODEL_DIR holds config.json, model.safetensors and the tokenizer, if any; by default it is the
// model installed with the library (a byte-level RetNet trained on the King James Bible).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "retnet/decode_session.h"
#include "retnet/error.h"
#include "retnet/model.h"
#include "retnet/sampler.h"
#include "retnet/tokenizer.h"

int main(int argc, char **argv) {
    std::string model_dir = DEFAULT_MODEL_DIR;
    std::string prompt = "And God said";
    int n_tokens = 200;
    for (int i = 1; i < argc; i++) {
        const std::string arg = argv[i];
        if (arg == "-m" && i + 1 < argc) {
            model_dir = argv[++i];
        } else if (arg == "-n" && i + 1 < argc) {
            n_tokens = std::atoi(argv[++i]);
        } else {
            prompt = arg;
        }
    }

    try {
        // 1. The model's weights, on the CPU (Device::cuda / opencl where the library has GPU kernels),
        //    and the tokenizer beside them, with the special tokens the model's config names.
        const retnet::Model model = retnet::Model::load(model_dir, retnet::Device::cpu);
        const retnet::ModelConfig &config = model.config();
        const auto tokenizer = retnet::Tokenizer::load(model_dir, config.vocab_size, config.bos_id, config.eos_id);

        // 2. The prompt's tokens (BOS first when the model has one), prefilled in one go. A session
        //    holds each sequence's recurrent state: a fixed size, however long the text grows.
        const std::vector<int32_t> prompt_ids = tokenizer->encode(prompt, /*add_bos=*/true);
        retnet::DecodeSession session(model, /*capacity=*/1);
        const int64_t seq = session.join(prompt_ids);

        // 3. The sampler: temperature and nucleus sampling; the same seed gives the same text.
        retnet::SamplingOptions sampling;
        sampling.temperature = 0.8;
        sampling.top_p = 0.95;
        sampling.seed = 1;
        retnet::Sampler sampler(sampling);

        // 4. Tokens to text: the stream prints a character split over several tokens whole. The
        //    prompt goes through it first (unprinted), so that the continuation is not taken for the
        //    start of a text. Only ids the tokenizer can write are sampled.
        retnet::TokenTextStream text(*tokenizer);
        for (int32_t id : prompt_ids) text.push(id);
        const int64_t vocab = std::min(config.vocab_size, tokenizer->vocab_size());

        // 5. The loop: sample from the last logits, print, feed the token back in.
        std::cout << prompt << std::flush;
        for (int i = 0; i < n_tokens; i++) {
            const int32_t next = sampler.sample(session.last_logits(seq).data(), vocab);
            if (next == tokenizer->eos_id()) break;  // the end of the text
            std::cout << text.push(next) << std::flush;
            session.step({next});
        }
        std::cout << text.flush() << std::endl;
    } catch (const retnet::Error &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
