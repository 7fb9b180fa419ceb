#include "model_location.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::apps {

std::string default_model_dir() {
    namespace fs = std::filesystem;
    if (const char *env = std::getenv("RETNET_MODEL"); env && *env) return env;
    // The working directory, the source tree this binary was built from, and an installed tree
    // (PREFIX/bin/retnet beside PREFIX/share/RetNetHalide/models).
    std::vector<fs::path> candidates{fs::path("models/kjv-byte"), fs::path(RETNET_SOURCE_DIR) / "models/kjv-byte"};
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back(self.parent_path() / "../share/RetNetHalide/models/kjv-byte");
    for (const fs::path &candidate : candidates) {
        if (fs::exists(candidate / "config.json", ec)) return candidate.lexically_normal().string();
    }
    std::vector<std::string> looked;
    for (const fs::path &candidate : candidates) looked.push_back(candidate.lexically_normal().string());
    throw Error(fmt::format("no --model given and the shipped model was not found (looked in {}; set RETNET_MODEL or "
                            "pass --model DIR)",
                            fmt::join(looked, ", ")));
}

}  // namespace retnet::apps
