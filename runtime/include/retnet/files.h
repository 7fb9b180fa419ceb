// Files the runtime reads and writes, treated as hostile or fallible:
//   - inputs are checked to be regular files before use (a directory gives "is a directory", not
//     a misleading parse error), and text inputs are read with a size bound;
//   - checkpoints are mapped read-only (MappedFile), so loading copies each tensor once, into the
//     layout the kernels use, and never holds a whole-file buffer;
//   - outputs are written to a temporary file in the destination's folder and renamed into place
//     only when complete (AtomicOutputFile): a failed write (disk full, file-size limit) leaves
//     neither a truncated file nor a clobbered old one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace retnet {

// Throws retnet::Error "<path>: cannot open the <what>: ..." unless `path` is a readable regular file.
void require_regular_file(const std::string &path, const std::string &what);

// The whole file, refused with an Error past `max_bytes` (config files, token lists, tokenizers).
std::string read_text_file(const std::string &path, const std::string &what, uint64_t max_bytes);

class MappedFile {
public:
    MappedFile() = default;
    // Maps `path` read-only; `what` names the file in errors ("weights file").
    static MappedFile open(const std::string &path, const std::string &what);
    MappedFile(MappedFile &&other) noexcept;
    MappedFile &operator=(MappedFile &&other) noexcept;
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;
    ~MappedFile();

    const unsigned char *data() const { return data_; }
    uint64_t size() const { return size_; }
    const std::string &path() const { return path_; }
    // Drops the pages of [offset, offset + length) from this process's resident memory (they are
    // read again from the file if touched): used once a tensor has been converted.
    void release(uint64_t offset, uint64_t length) const;

private:
    std::string path_;
    unsigned char *data_ = nullptr;
    uint64_t size_ = 0;
};

class AtomicOutputFile {
public:
    // Creates the temporary file next to `path` at once, so a missing folder or a read-only one is
    // reported before any work is done. `what` names the output in errors ("--out").
    AtomicOutputFile(const std::string &path, const std::string &what);
    AtomicOutputFile(const AtomicOutputFile &) = delete;
    AtomicOutputFile &operator=(const AtomicOutputFile &) = delete;
    // Removes the temporary file unless commit() succeeded.
    ~AtomicOutputFile();

    void write(const void *data, size_t bytes);
    void write(const std::string &text) { write(text.data(), text.size()); }
    // Flushes, syncs and renames the temporary file onto `path`.
    void commit();
    const std::string &path() const { return path_; }

private:
    std::string path_, temp_path_, what_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace retnet
