#include "model_location.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::apps {

std::string default_model_dir() {
    namespace fs = std::filesystem;
    if (const char *env = std::getenv("RETNET_MODEL"); env && *env) return env;
    for (const fs::path candidate : {fs::path("models/kjv-byte"), fs::path(RETNET_SOURCE_DIR) / "models/kjv-byte"}) {
        if (fs::exists(candidate / "config.json")) return candidate.string();
    }
    throw Error(fmt::format("no --model given and the shipped model was not found (looked in ./models/kjv-byte and "
                            "{}/models/kjv-byte; set RETNET_MODEL or pass --model DIR)", RETNET_SOURCE_DIR));
}

}  // namespace retnet::apps
