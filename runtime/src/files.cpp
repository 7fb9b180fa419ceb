#include "retnet/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

// Opens `path` read-only after checking that it is a regular file; returns the fd and its size.
int open_regular(const std::string &path, const std::string &what, uint64_t &size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(fmt::format("{}: cannot open the {}: {}", path, what, errno_text(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw Error(fmt::format("{}: cannot open the {}: {}", path, what, errno_text(e)));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(fmt::format("{}: expected the {} to be a regular file, got {}", path, what,
                                S_ISDIR(st.st_mode) ? "a directory" : "a special file"));
    }
    size = static_cast<uint64_t>(st.st_size);
    return fd;
}

}  // namespace

void require_regular_file(const std::string &path, const std::string &what) {
    uint64_t size = 0;
    ::close(open_regular(path, what, size));
}

std::string read_text_file(const std::string &path, const std::string &what, uint64_t max_bytes) {
    uint64_t size = 0;
    const int fd = open_regular(path, what, size);
    if (size > max_bytes) {
        ::close(fd);
        throw Error(fmt::format("{}: the {} has {} bytes, more than the {} this reader accepts", path, what, size, max_bytes));
    }
    std::string text(static_cast<size_t>(size), '\0');
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int e = errno;
            ::close(fd);
            throw Error(fmt::format("{}: could not read the {}: {}", path, what, n == 0 ? "it shrank while being read" : errno_text(e)));
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return text;
}

MappedFile MappedFile::open(const std::string &path, const std::string &what) {
    MappedFile file;
    file.path_ = path;
    const int fd = open_regular(path, what, file.size_);
    if (file.size_ > 0) {
        void *p = ::mmap(nullptr, static_cast<size_t>(file.size_), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int e = errno;
            ::close(fd);
            throw Error(fmt::format("{}: cannot map the {} ({} bytes): {}", path, what, file.size_, errno_text(e)));
        }
        file.data_ = static_cast<unsigned char *>(p);
    }
    ::close(fd);  // the mapping keeps the file
    return file;
}

MappedFile::MappedFile(MappedFile &&other) noexcept { *this = std::move(other); }

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
    if (this != &other) {
        if (data_) ::munmap(data_, static_cast<size_t>(size_));
        path_ = std::move(other.path_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(data_, static_cast<size_t>(size_));
}

void MappedFile::release(uint64_t offset, uint64_t length) const {
    if (!data_ || length == 0 || offset >= size_) return;
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t begin = (offset + page - 1) / page * page;  // whole pages inside the range only
    const uint64_t end = std::min(offset + length, size_) / page * page;
    if (end > begin) ::madvise(data_ + begin, static_cast<size_t>(end - begin), MADV_DONTNEED);
}

AtomicOutputFile::AtomicOutputFile(const std::string &path, const std::string &what) : path_(path), what_(what) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (path.empty()) throw Error(fmt::format("{}: expected a file name, got an empty one", what));
    if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: '{}' is a directory, expected a file name", what, path));
    fs::path parent = fs::path(path).parent_path();
    if (parent.empty()) parent = ".";
    if (!fs::is_directory(parent, ec)) {
        throw Error(fmt::format("{}: cannot write '{}': its folder '{}' does not exist", what, path, parent.string()));
    }
    temp_path_ = (parent / ("." + fs::path(path).filename().string() + ".partial-XXXXXX")).string();
    fd_ = ::mkstemp(temp_path_.data());
    if (fd_ < 0) {
        throw Error(fmt::format("{}: cannot write '{}': creating a file in '{}' failed: {}", what, path, parent.string(),
                                errno_text(errno)));
    }
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
    // mkstemp makes the file private (0600); the finished file gets the usual mode under the umask.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd_, 0666 & ~mask);
}

AtomicOutputFile::~AtomicOutputFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicOutputFile::write(const void *data, size_t bytes) {
    if (committed_ || fd_ < 0) throw Error(fmt::format("{}: '{}' written after it was closed", what_, path_));
    const char *p = static_cast<const char *>(data);
    while (bytes > 0) {
        const ssize_t n = ::write(fd_, p, bytes);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            throw Error(fmt::format("{}: writing '{}' failed: {} (nothing was written there)", what_, path_,
                                    n < 0 ? errno_text(errno) : "no progress"));
        }
        p += n;
        bytes -= static_cast<size_t>(n);
    }
}

void AtomicOutputFile::commit() {
    if (committed_) return;
    if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
        const int e = errno;
        fd_ = -1;
        throw Error(fmt::format("{}: writing '{}' failed: {} (nothing was written there)", what_, path_, errno_text(e)));
    }
    fd_ = -1;
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
        throw Error(fmt::format("{}: could not move the finished file onto '{}': {}", what_, path_, errno_text(errno)));
    }
    committed_ = true;
}

}  // namespace retnet
