// A .npy file (golden logits; `retnet logits` writes them): read it as a float32 tensor. Anything
// but a retnet::Error or a tensor is a finding.
#include "fuzz_support.h"
#include "retnet/error.h"
#include "retnet/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        retnet::read_npy(retnet::fuzz::input_file(data, size));
    } catch (const retnet::Error &) {
    }
    return 0;
}
