// The shape buckets that tuned schedules are chosen by (schedules/tuned/*.json, `retnet tune`):
// a tuned variant of a kernel serves the calls whose shape falls in its bucket; other calls use
// the default schedule.
#pragma once

#include <cstdint>
#include <string>

namespace retnet {

// linear: by rows (tokens) per call: decoding (a few rows) or prefill.
inline std::string linear_bucket(int64_t rows) { return rows <= 4 ? "rows_le_4" : "rows_gt_4"; }
// retention's sequence forms: by sequence length.
inline std::string sequence_bucket(int64_t seq_len) { return seq_len <= 1024 ? "T_le_1024" : "T_gt_1024"; }
// the decode step: by batch size.
inline std::string decode_bucket(int64_t batch) { return batch <= 8 ? "B_le_8" : "B_gt_8"; }

}  // namespace retnet
