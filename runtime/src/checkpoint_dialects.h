// A checkpoint in any dialect, seen as the runtime's one layout (torchscale's names, the
// computation of retnet/model.h). The torchscale layout is that layout. The others are mapped
// exactly, tensor by tensor as each is read:
//   syncdoth: the names under "model.", lm_head.weight for the output projection; the stored
//             rotation and decay buffers are checked against the config and then used as stored
//             (a bf16 checkpoint's buffers are rounded, and its own code uses them so);
//   fla:      q and k rows reordered within each head from half-split to interleaved rotation
//             pairs (q.k is unchanged by a permutation applied to both), k and v heads repeated
//             for grouped-query checkpoints, the output norm's weight kept as
//             retention.group_norm.weight (o_proj stays as stored), gate_proj -> fc1 (the activated
//             branch), up_proj -> gate, down_proj -> fc2, or the fused gate_proj of fla's 2024
//             layout split in halves.
// Names and shapes are checked in the checkpoint's own names before anything is read: all
// missing and unexpected tensors are listed at once.
#pragma once

#include "checkpoint_files.h"
#include "retnet/model.h"

namespace retnet::detail {

// May fill config.angles and config.decay (from syncdoth's buffers). `files` must outlive the
// returned source.
CheckpointSource canonical_checkpoint(ModelConfig &config, const CheckpointFiles &files);

}  // namespace retnet::detail
