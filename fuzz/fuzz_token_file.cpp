// A token id file (`retnet logits --tokens`): whitespace-separated ids. Anything but a
// retnet::Error or the ids is a finding.
#include "fuzz_support.h"
#include "retnet/error.h"
#include "token_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        retnet::apps::read_token_file(retnet::fuzz::input_file(data, size));
    } catch (const retnet::Error &) {
    }
    return 0;
}
