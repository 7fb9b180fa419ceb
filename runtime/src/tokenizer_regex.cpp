// The PCRE2 wrapper of tokenizer_regex.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "retnet/error.h"
#include "tokenizer_regex.h"

namespace retnet::tokenizer_detail {
namespace {

constexpr uint32_t kMatchLimit = 10'000'000;   // backtracking steps of one match attempt
constexpr uint32_t kHeapLimitKiB = 64 * 1024;  // the interpreter's backtracking memory
constexpr size_t kJitStackMax = 8 << 20;

std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "error " + std::to_string(code);
    return reinterpret_cast<const char *>(buffer);
}

}  // namespace

struct Regex::Impl {
    pcre2_code *code = nullptr;
    bool jit = false;
    std::string where;
    ~Impl() { pcre2_code_free(code); }
};

Regex::Regex(const std::string &pattern, const std::string &where) : impl_(std::make_unique<Impl>()) {
    impl_->where = where;
    int error = 0;
    PCRE2_SIZE offset = 0;
    impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    if (!impl_->code) {
        throw Error(where + ": invalid regular expression at offset " + std::to_string(offset) + ": " +
                    pcre2_message(error));
    }
    impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> matches;
    // One match context and JIT stack for the call: a Regex may be used from several threads.
    struct Resources {
        pcre2_match_data *data = nullptr;
        pcre2_match_context *context = nullptr;
        pcre2_jit_stack *stack = nullptr;
        ~Resources() {
            pcre2_match_data_free(data);
            pcre2_match_context_free(context);
            pcre2_jit_stack_free(stack);
        }
    } r;
    r.data = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
    r.context = pcre2_match_context_create(nullptr);
    if (!r.data || !r.context) throw Error(impl_->where + ": out of memory for a regular expression match");
    pcre2_set_match_limit(r.context, kMatchLimit);
    pcre2_set_heap_limit(r.context, kHeapLimitKiB);
    if (impl_->jit) {
        r.stack = pcre2_jit_stack_create(32 << 10, kJitStackMax, nullptr);
        if (r.stack) pcre2_jit_stack_assign(r.context, nullptr, r.stack);
    }
    const auto *subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t start = 0;
    uint32_t options = 0;
    while (start <= text.size()) {
        const int rc = pcre2_match(impl_->code, subject, text.size(), start, options | PCRE2_NO_UTF_CHECK,
                                   r.data, r.context);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (options == 0) break;
            // No non-empty match here after an empty one: step over one character.
            options = 0;
            if (start >= text.size()) break;
            ++start;
            while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
            continue;
        }
        if (rc < 0) {
            throw Error(impl_->where + ": the regular expression failed on the text: " + pcre2_message(rc) +
                        (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT
                             ? " (a limit this reader sets on the work of one match)"
                             : ""));
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r.data);
        const size_t begin = ov[0], end = ov[1];
        if (end < begin) throw Error(impl_->where + ": \\K in a lookahead is not supported");
        matches.emplace_back(begin, end);
        start = end;
        // After an empty match, look for a non-empty one at the same place before moving on.
        options = begin == end ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
    }
    return matches;
}

bool Regex::matches_whole(std::string_view text) const {
    const auto found = find_all(text);
    return found.size() == 1 && found[0].first == 0 && found[0].second == text.size();
}

}  // namespace retnet::tokenizer_detail
