// Typed reads of config.json fields with errors that name the file and the field: shared by the
// dialect parsers (model_config.cpp, config_dialects.cpp).
#pragma once

#include <string>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "json_brief.h"
#include "retnet/error.h"

namespace retnet::detail {

using nlohmann::json;

// The field's value, or `fallback` when it is absent or null; a value of another type is an Error.
template<typename T>
T field(const json &j, const char *name, T fallback, const std::string &source) {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return fallback;
    try {
        if constexpr (std::is_same_v<T, bool>) {
            if (!it->is_boolean()) throw Error("");
        } else if constexpr (std::is_integral_v<T>) {
            if (!it->is_number_integer()) throw Error("");
        } else if constexpr (std::is_floating_point_v<T>) {
            if (!it->is_number()) throw Error("");
        } else {
            if (!it->is_string()) throw Error("");
        }
        return it->get<T>();
    } catch (const std::exception &) {
        const char *expected = std::is_same_v<T, bool>       ? "true or false"
                               : std::is_integral_v<T>       ? "an integer"
                               : std::is_floating_point_v<T> ? "a number"
                                                             : "a string";
        throw Error(fmt::format("{}: {}: expected {}, got {}", source, name, expected, detail::brief(*it)));
    }
}

template<typename T>
T required(const json &j, const char *name, const std::string &source) {
    if (!j.contains(name) || j[name].is_null()) throw Error(fmt::format("{}: {}: missing (required)", source, name));
    return field<T>(j, name, T{}, source);
}

// A field whose only supported value is `supported`: anything else is refused by name.
template<typename T>
void refuse_unless(const json &j, const char *name, T supported, const std::string &source, const char *why) {
    T value = field<T>(j, name, supported, source);
    if (value != supported) {
        throw Error(fmt::format("{}: {}: {} is not supported ({}); expected {}", source, name, json(value).dump(), why,
                                json(supported).dump()));
    }
}

}  // namespace retnet::detail
