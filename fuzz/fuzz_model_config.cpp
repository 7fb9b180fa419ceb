// A model's config.json: parse and validate it; when it is accepted, also what is derived from it
// before any weight is read (the parameter count, the checkpoint's names and shapes). Anything but
// a retnet::Error or a config is a finding.
#include "fuzz_support.h"
#include "retnet/error.h"
#include "retnet/model.h"
#include "retnet/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        const retnet::ModelConfig config =
            retnet::ModelConfig::from_json_text(std::string(reinterpret_cast<const char *>(data), size), "fuzz");
        config.parameter_count();
        // 10 names a layer: bounded because validate() bounds decoder_layers (1024). Without that
        // bound, 10^12 layers made this allocate without end: a finding, as it would be again.
        retnet::Model::checkpoint_layout(config);
    } catch (const retnet::Error &) {
    }
    return 0;
}
