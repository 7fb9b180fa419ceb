#include "retnet/npy.h"

#include <cctype>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "retnet/checked.h"
#include "retnet/error.h"

namespace retnet {

namespace {

constexpr int kMaxRank = 8;

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
// A small hand-written parser (std::regex recursed once per character and overflowed the stack on
// long headers) that accepts exactly those three keys with their types.
class HeaderParser {
public:
    HeaderParser(const std::string &text, const std::string &path) : s_(text), path_(path) {}

    void parse(std::string &descr, bool &fortran_order, Shape &shape) {
        bool has_descr = false, has_order = false, has_shape = false;
        expect('{');
        while (true) {
            skip_space();
            if (peek() == '}') break;
            const std::string key = quoted();
            expect(':');
            if (key == "descr") {
                descr = quoted();
                has_descr = true;
            } else if (key == "fortran_order") {
                fortran_order = boolean();
                has_order = true;
            } else if (key == "shape") {
                shape = tuple();
                has_shape = true;
            } else {
                fail(fmt::format("unexpected key '{}'", key));
            }
            skip_space();
            if (peek() == ',') pos_++;
        }
        if (!has_descr || !has_order || !has_shape) fail("expected the keys 'descr', 'fortran_order' and 'shape'");
    }

private:
    [[noreturn]] void fail(const std::string &why) const {
        throw Error(fmt::format("{}: unreadable .npy header at byte {}: {}", path_, pos_, why));
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skip_space() {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) pos_++;
    }
    void expect(char c) {
        skip_space();
        if (peek() != c) fail(fmt::format("expected '{}'", c));
        pos_++;
    }
    std::string quoted() {
        skip_space();
        const char q = peek();
        if (q != '\'' && q != '"') fail("expected a quoted string");
        const size_t end = s_.find(q, pos_ + 1);
        if (end == std::string::npos) fail("unterminated string");
        std::string value = s_.substr(pos_ + 1, end - pos_ - 1);
        pos_ = end + 1;
        return value;
    }
    bool boolean() {
        skip_space();
        for (const auto &[word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
            if (s_.compare(pos_, std::strlen(word), word) == 0) {
                pos_ += std::strlen(word);
                return value;
            }
        }
        fail("expected True or False");
    }
    Shape tuple() {
        expect('(');
        Shape dims;
        while (true) {
            skip_space();
            if (peek() == ')') break;
            if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer dimension");
            int64_t n = 0;
            while (std::isdigit(static_cast<unsigned char>(peek()))) {
                if (n > (INT64_MAX - 9) / 10) fail("a dimension is too large");
                n = n * 10 + (s_[pos_++] - '0');
            }
            if (dims.size() == kMaxRank) fail(fmt::format("more than {} dimensions", kMaxRank));
            dims.push_back(n);
            skip_space();
            if (peek() == ',')
                pos_++;
            else if (peek() != ')')
                fail("expected ',' or ')' in the shape");
        }
        pos_++;
        return dims;
    }

    const std::string &s_;
    const std::string &path_;
    size_t pos_ = 0;
};

}  // namespace

void write_npy(AtomicOutputFile &out, const Tensor &tensor) {
    Tensor host = tensor.to(Device::cpu);
    std::string shape = "(";
    for (int64_t extent : host.shape()) shape += fmt::format("{}, ", extent);
    if (host.rank() > 1) shape.resize(shape.size() - 2);
    if (host.rank() == 1) shape.resize(shape.size() - 1);
    shape += ")";
    std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape);
    // Magic (6) + version (2) + length (2) + header + '\n', padded with spaces to a multiple of 64.
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header.push_back('\n');
    const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                        static_cast<unsigned char>(header.size() & 0xff),
                                        static_cast<unsigned char>(header.size() >> 8)};
    out.write(preamble, 10);
    out.write(header);
    if (host.numel() > 0) out.write(host.data(), static_cast<size_t>(host.numel()) * 4);
    out.commit();
}

void write_npy(const std::string &path, const Tensor &tensor) {
    AtomicOutputFile out(path, ".npy file");
    write_npy(out, tensor);
}

Tensor read_npy(const std::string &path) {
    const MappedFile file = MappedFile::open(path, ".npy file");
    const unsigned char *p = file.data();
    const uint64_t size = file.size();
    if (size < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0 || (p[6] != 1 && p[6] != 2)) {
        throw Error(fmt::format("{}: not a version 1 or 2 .npy file", path));
    }
    const uint64_t prefix = p[6] == 1 ? 10 : 12;  // version 2 has a 4-byte header length
    if (size < prefix) throw Error(fmt::format("{}: truncated .npy preamble", path));
    uint64_t header_size = uint64_t(p[8]) | (uint64_t(p[9]) << 8);
    if (p[6] == 2) header_size |= (uint64_t(p[10]) << 16) | (uint64_t(p[11]) << 24);
    if (header_size > size - prefix) {
        throw Error(fmt::format("{}: the .npy header claims {} bytes, but the file has {} after the preamble", path,
                                header_size, size - prefix));
    }
    const std::string header(reinterpret_cast<const char *>(p + prefix), static_cast<size_t>(header_size));
    std::string descr;
    bool fortran_order = false;
    Shape dims;
    HeaderParser(header, path).parse(descr, fortran_order, dims);
    if ((descr != "<f4" && descr != "<f8") || fortran_order) {
        throw Error(fmt::format("{}: expected a C-order float32 or float64 array, got descr '{}' fortran_order {}", path,
                                descr.substr(0, 32), fortran_order ? "True" : "False"));
    }
    const uint64_t item = descr == "<f8" ? 8 : 4;
    uint64_t bytes = item;
    for (int64_t n : dims) bytes = checked_mul(bytes, uint64_t(n), fmt::format("{}: shape {}: byte count", path, shape_string(dims)));
    const uint64_t data_size = size - prefix - header_size;
    if (bytes != data_size) {
        throw Error(fmt::format("{}: {}: shape {} of {} needs {} bytes of data, the file has {}", path,
                                data_size < bytes ? "truncated" : "trailing bytes", shape_string(dims), descr, bytes, data_size));
    }
    Tensor t = Tensor::empty(dims);
    const unsigned char *data = p + prefix + header_size;
    for (int64_t i = 0; i < t.numel(); i++) {
        if (item == 8) {
            double v;
            std::memcpy(&v, data + 8 * i, 8);
            t.data()[i] = static_cast<float>(v);
        } else {
            std::memcpy(t.data() + i, data + 4 * i, 4);
        }
    }
    return t;
}

}  // namespace retnet
