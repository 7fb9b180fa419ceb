// Batched decoding: up to `capacity` sequences, each with its own retention state and position,
// decoded together - one Model::decode_step (one call of each layer kernel) serves them all.
// Sequences join (their prompt prefilled on its own, in parallel or chunkwise form) and leave
// between steps; the batch is kept dense, so a step costs only what the active sequences need.
#pragma once

#include <cstdint>
#include <vector>

#include "retnet/model.h"

namespace retnet {

class DecodeSession {
public:
    DecodeSession(const Model &model, int64_t capacity);

    // Prefills `prompt` and adds the sequence; returns its id. The logits for its next token are
    // in last_logits(id). Throws when the session is full or the prompt is empty or invalid.
    int64_t join(const std::vector<int32_t> &prompt, Form form = Form::chunkwise, int chunk = 0);
    // A copy of sequence `id` (its state, position and last logits) as a new sequence.
    int64_t fork(int64_t id);
    // Removes sequence `id`; the others keep their states.
    void leave(int64_t id);

    // One token for each active sequence, in the order of ids(); returns nothing but updates
    // every sequence's state, position and last logits.
    void step(const std::vector<int32_t> &tokens);

    const std::vector<int64_t> &ids() const { return ids_; }
    int64_t size() const { return static_cast<int64_t>(ids_.size()); }
    int64_t capacity() const { return capacity_; }
    // Host logits [vocab] for the next token of sequence `id`.
    const std::vector<float> &last_logits(int64_t id) const;
    int64_t position(int64_t id) const;
    const DecodeState &state() const { return state_; }

private:
    size_t slot_of(int64_t id, const char *fn) const;
    void append(const DecodeState &one, std::vector<float> logits);

    const Model &model_;
    int64_t capacity_;
    int64_t next_id_ = 0;
    std::vector<int64_t> ids_;                // slot -> id
    std::vector<std::vector<float>> logits_;  // slot -> next-token logits
    DecodeState state_;                       // batch = ids_.size(); empty when none
};

}  // namespace retnet
