// The tunable parameters of each kernel family, read from the manifest (kernels.json) through the
// generated schedule_params.h: the GeneratorParams a generator declares (RETNET_PARAMS_<space>_<family>),
// the struct its schedule receives, and the search space `retnet tune` walks. A value outside a
// parameter's list is still accepted by the generator if it lies in [min, max]; the tuner only
// tries listed values, the ones known to compile in bounded time (docs/HALIDE14.md: big unrolls
// blow up LLVM).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "schedule_params.h"

namespace retnet_gen {

// Which schedules a target takes: the GPU family (CUDA and OpenCL share it) or the CPU's. The one
// place the generators and the tuner decide it.
template<typename Target>
bool uses_gpu_schedules(const Target &target) {
    return target.has_gpu_feature();
}
template<typename Target>
std::string schedule_family(const Target &target) {
    return uses_gpu_schedules(target) ? "gpu" : "cpu";
}

// A parameter combination that cannot work stops the build with this message.
inline void check_schedule(bool ok, const std::string &message) {
    if (!ok) throw std::invalid_argument(message);
}

inline const ManifestSpace &manifest_space(const std::string &name, const std::string &family) {
    for (const ManifestSpace &s : manifest_spaces()) {
        if (s.name == name && s.family == family) return s;
    }
    throw std::invalid_argument("kernels.json has no " + family + " parameters for " + name);
}

// The parameters the tuner varies for `name` on `family` (cpu or gpu): the algorithm's tunable
// parameters, then the schedule's.
inline std::vector<ManifestParam> search_space(const std::string &name, const std::string &family) {
    std::vector<ManifestParam> params;
    for (const ManifestSpace &s : manifest_spaces()) {
        if (s.name != name || (s.family != family && s.family != "algorithm")) continue;
        for (const ManifestParam &p : s.params) {
            if (p.searched) params.push_back(p);
        }
    }
    if (params.empty()) throw std::invalid_argument("kernels.json has no tunable " + family + " parameters for " + name);
    return params;
}

}  // namespace retnet_gen
