// A .safetensors file (model.safetensors): open it, then read every tensor it lists. A corrupt
// file must be a retnet::Error; anything else (another exception, a sanitizer report, a leak, a
// timeout, running out of memory) is a finding.
#include "fuzz_support.h"
#include "retnet/error.h"
#include "retnet/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string path = retnet::fuzz::input_file(data, size);
    try {
        const retnet::SafetensorsFile file = retnet::SafetensorsFile::open(path);
        for (const auto &[name, entry] : file.entries()) {
            try {
                file.read(name);
            } catch (const retnet::Error &) {  // one bad tensor: go on with the next
            }
        }
    } catch (const retnet::Error &) {
    }
    return 0;
}
