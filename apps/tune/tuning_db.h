// The tuning database: schedules/tuned/<family>.json, one record per (kernel, target, shape bucket)
// with the parameters chosen, their measured time, the default schedule's time, the date and the
// tool's version. cmake/TunedKernels.cmake reads the same file at configure time.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace retnet::tune {

struct TuningRecord {
    std::string kernel;                 // library name, e.g. retention_chunkwise_c64
    std::string generator;              // generator name, e.g. retention_chunkwise
    std::map<std::string, int> fixed;   // generator params that define the kernel (chunk = 64)
    std::string target;                 // Halide target string of the machine measured
    std::string bucket;                 // shape bucket (kernels.json, "buckets")
    std::string shape;                  // the shape measured, for people
    std::map<std::string, int> params;  // the tuned schedule parameters
    double time_ms = 0, default_ms = 0;
    std::string date, tool_version;
};

constexpr int kTuningDbVersion = 1;

// Throws retnet::Error naming the file, the record and the field when malformed. A missing file
// is an empty database.
std::vector<TuningRecord> read_tuning_db(const std::string &path);
void write_tuning_db(const std::string &path, const std::vector<TuningRecord> &records);
// Replaces the record of the same (kernel, target, bucket), or appends.
void upsert(std::vector<TuningRecord> &records, const TuningRecord &record);

}  // namespace retnet::tune
