// libFuzzer target: any bytes as a model directory's tokenizer.json. Loading must end in a
// tokenizer or a retnet::Error; a tokenizer that loads must encode, decode and stream a few texts
// without anything but retnet::Error coming out. Anything else (a crash, a sanitizer report,
// another exception, a hang past libFuzzer's -timeout) is a finding.
//
// Links retnet_text only (nlohmann-json, libsentencepiece, PCRE2); seeds:
// tests/data/tokenizers/*/tokenizer.json.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "retnet/error.h"
#include "retnet/tokenizer.h"

namespace {

// One directory per process, made at the first input and reused.
const std::string &work_dir() {
    static const std::string dir = [] {
        std::string pattern = (std::filesystem::temp_directory_path() / "retnet_fuzz_tokenizer_XXXXXX").string();
        if (!mkdtemp(pattern.data())) std::abort();
        return pattern;
    }();
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string &dir = work_dir();
    const std::string path = dir + "/tokenizer.json";
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    try {
        const auto tok = retnet::Tokenizer::load(dir, 0);
        for (const char *text : {"", "Hello world", "  <|endoftext|> <s>\t\n日本語 😀 don't 123\xFF"}) {
            const auto ids = tok->encode(text, true);
            tok->decode(ids);
            tok->decode(ids, false);
            retnet::TokenTextStream stream(*tok);
            for (const int32_t id : ids) stream.push(id);
            stream.flush();
        }
        if (tok->vocab_size() > 0) tok->token_bytes(static_cast<int32_t>(tok->vocab_size() - 1));
    } catch (const retnet::Error &) {
    }
    return 0;
}
