#include "retnet/decode_session.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet {

namespace {

// A new tensor [rows.size(), ...] on `device` whose row i is row rows[i].second of *rows[i].first
// (tensors [B, ...] of one row shape). GPU tensors go through the host: this runs only when
// sequences join or leave, never per step.
Tensor gather_rows(const std::vector<std::pair<const Tensor *, int64_t>> &rows, Device device) {
    const Tensor &first = *rows.at(0).first;
    Shape shape = first.shape();
    const int64_t row_size = first.numel() / first.dim(0);
    shape[0] = static_cast<int64_t>(rows.size());
    Tensor out = Tensor::empty(shape);
    std::map<const Tensor *, Tensor> host;
    for (size_t i = 0; i < rows.size(); i++) {
        const Tensor *source = rows[i].first;
        auto it = host.find(source);
        if (it == host.end()) it = host.emplace(source, source->device() == Device::cpu ? *source : source->to(Device::cpu)).first;
        const float *from = it->second.data() + rows[i].second * row_size;
        std::copy(from, from + row_size, out.data() + static_cast<int64_t>(i) * row_size);
    }
    return out.to(device);
}

}  // namespace

DecodeSession::DecodeSession(const Model &model, int64_t capacity) : model_(model), capacity_(capacity) {
    if (capacity < 1) throw Error(fmt::format("DecodeSession: capacity: expected at least 1 sequence, got {}", capacity));
}

size_t DecodeSession::slot_of(int64_t id, const char *fn) const {
    auto it = std::find(ids_.begin(), ids_.end(), id);
    if (it == ids_.end()) throw Error(fmt::format("DecodeSession::{}: no active sequence with id {}", fn, id));
    return static_cast<size_t>(it - ids_.begin());
}

const std::vector<float> &DecodeSession::last_logits(int64_t id) const { return logits_[slot_of(id, "last_logits")]; }

int64_t DecodeSession::position(int64_t id) const {
    return state_.positions[slot_of(id, "position")];
}

void DecodeSession::append(const DecodeState &one, std::vector<float> logits) {
    const size_t layers = one.layer_states.size();
    DecodeState next;
    for (size_t l = 0; l < layers; l++) {
        std::vector<std::pair<const Tensor *, int64_t>> rows;
        for (size_t s = 0; s < ids_.size(); s++) rows.emplace_back(&state_.layer_states[l], static_cast<int64_t>(s));
        for (int64_t b = 0; b < one.batch(); b++) rows.emplace_back(&one.layer_states[l], b);
        next.layer_states.push_back(gather_rows(rows, model_.device()));
    }
    next.positions = state_.positions;
    next.positions.insert(next.positions.end(), one.positions.begin(), one.positions.end());
    state_ = std::move(next);
    ids_.push_back(next_id_++);
    logits_.push_back(std::move(logits));
}

int64_t DecodeSession::join(const std::vector<int32_t> &prompt, Form form, int chunk) {
    if (size() >= capacity_) {
        throw Error(fmt::format("DecodeSession::join: the session is full ({} of {} sequences)", size(), capacity_));
    }
    if (prompt.empty()) throw Error("DecodeSession::join: prompt: expected at least one token, got none");
    DecodeState one = model_.new_state(1);
    Tensor logits = model_.forward(prompt, 1, static_cast<int64_t>(prompt.size()), one, form, chunk, false);
    Tensor host = logits.to(Device::cpu);
    append(one, std::vector<float>(host.data(), host.data() + host.numel()));
    return ids_.back();
}

int64_t DecodeSession::fork(int64_t id) {
    const size_t slot = slot_of(id, "fork");
    if (size() >= capacity_) {
        throw Error(fmt::format("DecodeSession::fork: the session is full ({} of {} sequences)", size(), capacity_));
    }
    DecodeState one;
    for (const Tensor &s : state_.layer_states) {
        one.layer_states.push_back(gather_rows({{&s, static_cast<int64_t>(slot)}}, model_.device()));
    }
    one.positions = {state_.positions[slot]};
    append(one, logits_[slot]);
    return ids_.back();
}

void DecodeSession::leave(int64_t id) {
    const size_t slot = slot_of(id, "leave");
    ids_.erase(ids_.begin() + static_cast<std::ptrdiff_t>(slot));
    logits_.erase(logits_.begin() + static_cast<std::ptrdiff_t>(slot));
    state_.positions.erase(state_.positions.begin() + static_cast<std::ptrdiff_t>(slot));
    if (ids_.empty()) {
        state_ = DecodeState();
        return;
    }
    for (Tensor &s : state_.layer_states) {
        std::vector<std::pair<const Tensor *, int64_t>> rows;
        for (int64_t b = 0; b < s.dim(0); b++) {
            if (b != static_cast<int64_t>(slot)) rows.emplace_back(&s, b);
        }
        s = gather_rows(rows, model_.device());
    }
}

void DecodeSession::step(const std::vector<int32_t> &tokens) {
    if (static_cast<int64_t>(tokens.size()) != size()) {
        throw Error(fmt::format("DecodeSession::step: tokens: expected one per active sequence ({}), got {}", size(),
                                tokens.size()));
    }
    if (ids_.empty()) throw Error("DecodeSession::step: no active sequences");
    Tensor logits = model_.decode_step(tokens, state_);
    Tensor host = logits.to(Device::cpu);
    const int64_t vocab = host.dim(1);
    for (size_t s = 0; s < ids_.size(); s++) {
        const float *row = host.data() + static_cast<int64_t>(s) * vocab;
        logits_[s].assign(row, row + vocab);
    }
}

}  // namespace retnet
