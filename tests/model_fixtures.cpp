#include "model_fixtures.h"

#include <fstream>

#include "retnet/error.h"
#include "retnet/npy.h"

namespace retnet::test {

std::string test_data_dir() { return RETNET_TEST_DATA_DIR; }

std::vector<std::string> golden_model_names() { return {"tiny_swish", "gelu_deepnorm_tied", "odd_dims_f16"}; }

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
