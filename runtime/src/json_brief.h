// JSON values quoted in error messages: primitives and short flat arrays as written, anything
// larger by its type and size. (dump() recurses, so quoting a hostile, deeply nested value whole
// could overflow the stack; and a megabyte of JSON helps nobody in a one-line error.)
#pragma once

#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace retnet::detail {

inline std::string brief(const nlohmann::json &value) {
    if (value.is_array() || value.is_object()) {
        bool flat = value.size() <= 16;
        for (const auto &item : value) flat = flat && item.is_primitive();
        if (!flat) return fmt::format("an {} of {} items", value.is_array() ? "array" : "object", value.size());
    }
    std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return text;
}

}  // namespace retnet::detail
