#include <fstream>
#include <string>

#include "build_info.h"

namespace retnet::apps {

std::string machine_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) != 0) continue;
        const size_t colon = line.find(':');
        if (colon == std::string::npos) break;
        std::string name = line.substr(colon + 1);
        name.erase(0, name.find_first_not_of(' '));
        for (char &c : name) {
            if (c == ',') c = ' ';  // a CSV field
        }
        return name;
    }
    return "unknown";
}

}  // namespace retnet::apps
