// The BPE model of tokenizer.json: a word's characters become tokens (or byte tokens, or the
// unknown token), then the adjacent pair of lowest merge rank is merged, the leftmost of equal
// ranks first, until no pair merges. A heap of candidate pairs makes a word of n characters cost
// O(n log n); short words are cached.
#include <queue>

#include "hf_tokenizer.h"
#include "retnet/tokenizer.h"

namespace retnet::tokenizer_detail {
namespace {

constexpr size_t kCacheMaxWordBytes = 64;
constexpr size_t kCacheMaxEntries = 1 << 16;

}  // namespace

const std::array<std::string, 256> &byte_to_chars() {
    // Printable Latin-1 bytes stand for themselves; the others (controls, space, DEL, the
    // C1 range, NBSP and the soft hyphen) take U+0100 onwards in byte order.
    static const std::array<std::string, 256> table = [] {
        std::array<std::string, 256> t;
        uint32_t next = 0x100;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            utf8::append(t[b], printable ? b : next++);
        }
        return t;
    }();
    return table;
}

int char_to_byte(uint32_t cp) {
    static const std::array<int, 0x144> table = [] {
        std::array<int, 0x144> t;
        t.fill(-1);
        const auto &chars = byte_to_chars();
        for (int b = 0; b < 256; ++b) {
            size_t pos = 0;
            t[utf8::next(chars[b], pos)] = b;
        }
        return t;
    }();
    return cp < table.size() ? table[cp] : -1;
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t> &out) const {
    if (ignore_merges) {
        const auto it = vocab.find(std::string(word));
        if (it != vocab.end()) {
            out.push_back(it->second);
            return;
        }
    }
    if (word.size() <= kCacheMaxWordBytes) {
        const std::string key(word);
        {
            std::lock_guard<std::mutex> lock(cache_mutex_);
            const auto it = cache_.find(key);
            if (it != cache_.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return;
            }
        }
        std::vector<int32_t> ids;
        merge_word(word, ids);
        out.insert(out.end(), ids.begin(), ids.end());
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_.size() >= kCacheMaxEntries) cache_.clear();
        cache_.emplace(key, std::move(ids));
        return;
    }
    merge_word(word, out);
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t> &out) const {
    // The word's symbols: one per character, or per byte for characters outside the vocabulary
    // under byte fallback, or the unknown token (consecutive ones fused when fuse_unk); a
    // character with none of these is dropped, as Hugging Face tokenizers does.
    std::vector<int32_t> ids;
    ids.reserve(word.size());
    bool last_unk = false;
    std::string ch;
    for (size_t pos = 0; pos < word.size();) {
        const size_t begin = pos;
        utf8::next(word, pos);
        ch.assign(word.substr(begin, pos - begin));
        const auto it = vocab.find(ch);
        if (it != vocab.end()) {
            ids.push_back(it->second);
            last_unk = false;
            continue;
        }
        if (byte_fallback) {
            bool all = true;
            for (const char c : ch) all = all && byte_ids[static_cast<unsigned char>(c)] >= 0;
            if (all) {
                for (const char c : ch) ids.push_back(byte_ids[static_cast<unsigned char>(c)]);
                last_unk = false;
                continue;
            }
        }
        if (unk) {
            if (!(fuse_unk && last_unk)) ids.push_back(*unk);
            last_unk = true;
        }
    }
    const size_t n = ids.size();
    if (n > 1 && !merges.empty()) {
        std::vector<int32_t> prev(n), next(n);
        std::vector<bool> alive(n, true);
        for (size_t i = 0; i < n; ++i) {
            prev[i] = static_cast<int32_t>(i) - 1;
            next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
        }
        struct Candidate {
            int32_t rank, left, right, left_id, right_id, merged;
        };
        const auto later = [](const Candidate &a, const Candidate &b) {
            return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
        };
        std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> heap(later);
        const auto consider = [&](int32_t left) {
            if (left < 0) return;
            const int32_t right = next[left];
            if (right < 0) return;
            const auto it = merges.find((static_cast<uint64_t>(ids[left]) << 32) | static_cast<uint32_t>(ids[right]));
            if (it != merges.end()) heap.push({it->second.first, left, right, ids[left], ids[right], it->second.second});
        };
        for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i));
        while (!heap.empty()) {
            const Candidate c = heap.top();
            heap.pop();
            // Stale when either side has been merged since it was pushed.
            if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || ids[c.left] != c.left_id ||
                ids[c.right] != c.right_id) {
                continue;
            }
            ids[c.left] = c.merged;
            alive[c.right] = false;
            next[c.left] = next[c.right];
            if (next[c.right] >= 0) prev[next[c.right]] = c.left;
            consider(prev[c.left]);
            consider(c.left);
        }
        for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(ids[i]);
        return;
    }
    out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace retnet::tokenizer_detail
