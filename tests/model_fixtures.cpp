#include "model_fixtures.h"

#include <cstdlib>
#include <fstream>

#include "retnet/error.h"
#include "retnet/npy.h"

namespace retnet::test {

// The source tree's tests/data, unless RETNET_TEST_DATA_DIR points elsewhere (binaries carried to
// another machine, where the source tree lives at another path).
std::string test_data_dir() {
    const char *env = std::getenv("RETNET_TEST_DATA_DIR");
    return env && *env ? env : RETNET_TEST_DATA_DIR;
}

// torchscale's layout, then the syncdoth and fla dialects (tools/make_dialect_fixtures.py), then
// checkpoints written and run by syncdoth's and fla's own code (tools/gpu/make_upstream_fixtures.py).
std::vector<std::string> golden_model_names() {
    return {"tiny_swish", "gelu_deepnorm_tied", "odd_dims_f16", "syncdoth_tiny", "syncdoth_lm_decay_bf16", "fla_tiny",
            "fla_legacy_sharded", "upstream_syncdoth_tiny", "upstream_syncdoth_lm_decay_bf16", "upstream_fla_tiny",
            "upstream_fla_legacy_sharded"};
}

GoldenModel load_golden(const std::string &name) {
    GoldenModel g;
    g.name = name;
    g.dir = test_data_dir() + "/models/" + name;
    std::ifstream in(g.dir + "/tokens.txt");
    if (!in) throw Error(g.dir + "/tokens.txt: missing (run tools/retnet_reference.py)");
    for (int32_t id; in >> id;) g.tokens.push_back(id);
    g.logits = read_npy(g.dir + "/logits.npy");
    return g;
}

}  // namespace retnet::test
