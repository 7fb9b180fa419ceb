#include "retnet/npy.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <vector>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet {

void write_npy(const std::string &path, const Tensor &tensor) {
    Tensor host = tensor.device() == Device::cpu ? tensor : tensor.to(Device::cpu);
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
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error(fmt::format("{}: cannot create the .npy file", path));
    const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                        static_cast<unsigned char>(header.size() & 0xff),
                                        static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char *>(preamble), 10);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char *>(host.data()), static_cast<std::streamsize>(host.numel() * 4));
    if (!out) throw Error(fmt::format("{}: could not write the .npy file", path));
}

Tensor read_npy(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("{}: cannot open the .npy file", path));
    unsigned char preamble[10];
    in.read(reinterpret_cast<char *>(preamble), 10);
    if (!in || std::memcmp(preamble, "\x93NUMPY", 6) != 0 || preamble[6] != 1) {
        throw Error(fmt::format("{}: not a version-1 .npy file", path));
    }
    const size_t header_size = preamble[8] | (preamble[9] << 8);
    std::string header(header_size, '\0');
    in.read(header.data(), static_cast<std::streamsize>(header_size));
    std::smatch descr, order, shape;
    if (!std::regex_search(header, descr, std::regex("'descr':\\s*'([^']*)'")) ||
        !std::regex_search(header, order, std::regex("'fortran_order':\\s*(True|False)")) ||
        !std::regex_search(header, shape, std::regex("'shape':\\s*\\(([^)]*)\\)"))) {
        throw Error(fmt::format("{}: unreadable .npy header: {}", path, header));
    }
    if ((descr[1] != "<f4" && descr[1] != "<f8") || order[1] != "False") {
        throw Error(fmt::format("{}: expected a C-order float32 or float64 array, got descr {} fortran_order {}", path,
                                descr[1].str(), order[1].str()));
    }
    Shape dims;
    std::string list = shape[1];
    std::regex number("\\d+");
    for (auto it = std::sregex_iterator(list.begin(), list.end(), number); it != std::sregex_iterator(); ++it) {
        dims.push_back(std::stoll(it->str()));
    }
    Tensor t = Tensor::empty(dims);
    const bool f64 = descr[1] == "<f8";
    std::vector<char> raw(static_cast<size_t>(t.numel()) * (f64 ? 8 : 4));
    in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
    if (!in) throw Error(fmt::format("{}: truncated: expected {} bytes of data", path, raw.size()));
    for (int64_t i = 0; i < t.numel(); i++) {
        if (f64) {
            double v;
            std::memcpy(&v, raw.data() + 8 * i, 8);
            t.data()[i] = static_cast<float>(v);
        } else {
            std::memcpy(t.data() + i, raw.data() + 4 * i, 4);
        }
    }
    return t;
}

}  // namespace retnet
