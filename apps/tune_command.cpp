#include "tune_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::apps {

void add_tune_command(CLI::App &app, const char *argv0) {
    CLI::App *cmd = app.add_subcommand("tune", "Tune the kernels' schedules (runs retnet-tune; --help there)");
    cmd->allow_extras();
    cmd->prefix_command();
    cmd->set_help_flag("", "");  // --help goes to retnet-tune
    const std::string self = argv0;
    cmd->callback([cmd, self] {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::path here = fs::read_symlink("/proc/self/exe", ec);
        if (ec) here = fs::absolute(self);
        std::string tuner;
        for (const fs::path &candidate : {here.parent_path() / "retnet-tune", here.parent_path() / "tune" / "retnet-tune"}) {
            if (fs::exists(candidate)) tuner = candidate.string();
        }
        if (tuner.empty()) {
            throw Error(fmt::format("tune: retnet-tune not found beside {} (build the retnet-tune target)", here.string()));
        }
        std::vector<std::string> args{tuner};
        for (const std::string &a : cmd->remaining()) args.push_back(a);
        std::vector<char *> argv;
        for (std::string &a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(tuner.c_str(), argv.data());
        throw Error(fmt::format("tune: could not run {}: {}", tuner, std::strerror(errno)));
    });
}

}  // namespace retnet::apps
