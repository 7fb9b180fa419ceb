#include "isolate.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace retnet::tune {

Evaluation run_isolated(const std::function<Evaluation()> &work, double timeout_seconds) {
    if (const char *env = std::getenv("RETNET_TUNE_IN_PROCESS"); env && std::string(env) == "1") {
        return work();  // for debugging: no child, no time-out
    }
    int fds[2];
    if (pipe(fds) != 0) return {std::nullopt, fmt::format("pipe failed: {}", std::strerror(errno))};
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return {std::nullopt, fmt::format("fork failed: {}", std::strerror(errno))};
    if (pid == 0) {
        close(fds[0]);
        Evaluation e;
        try {
            e = work();
        } catch (const std::exception &ex) {
            e = {std::nullopt, ex.what()};
        } catch (...) {
            e = {std::nullopt, "unknown exception"};
        }
        std::string line = e.ms ? fmt::format("ok {:.9g}", *e.ms) : "fail " + e.why;
        for (char &c : line) {
            if (c == '\n') c = ' ';
        }
        if (write(fds[1], line.data(), line.size()) < 0) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    std::string message;
    const auto start = std::chrono::steady_clock::now();
    bool timed_out = false;
    for (;;) {
        const double left = timeout_seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(std::min(left, 1.0) * 1000) + 1) > 0) {
            char buf[4096];
            const ssize_t n = read(fds[0], buf, sizeof buf);
            if (n <= 0) break;  // the child closed the pipe: done
            message.append(buf, static_cast<size_t>(n));
        }
    }
    close(fds[0]);
    int status = 0;
    if (timed_out) kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (timed_out) return {std::nullopt, fmt::format("timed out after {:.0f} s (compile or run)", timeout_seconds)};
    if (WIFSIGNALED(status)) return {std::nullopt, fmt::format("crashed (signal {}): {}", WTERMSIG(status), message)};
    if (message.rfind("ok ", 0) == 0) return {std::stod(message.substr(3)), ""};
    if (message.rfind("fail ", 0) == 0) return {std::nullopt, message.substr(5)};
    return {std::nullopt, "no result from the candidate's process"};
}

}  // namespace retnet::tune
