#include "tuning_db.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "retnet/error.h"

namespace retnet::tune {

namespace {

using nlohmann::json;

template<typename T>
T get(const json &object, const char *field, const std::string &where) {
    if (!object.contains(field)) throw Error(fmt::format("{}: {}: missing", where, field));
    try {
        return object.at(field).get<T>();
    } catch (const json::exception &) {
        throw Error(fmt::format("{}: {}: wrong type ({})", where, field, object.at(field).dump()));
    }
}

}  // namespace

std::vector<TuningRecord> read_tuning_db(const std::string &path) {
    if (!std::filesystem::exists(path)) return {};
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    json j;
    try {
        j = json::parse(text.str());
    } catch (const json::exception &e) {
        throw Error(fmt::format("{}: not valid JSON: {}", path, e.what()));
    }
    if (!j.is_object() || get<int>(j, "version", path) != kTuningDbVersion || !j.contains("records") ||
        !j["records"].is_array()) {
        throw Error(fmt::format("{}: expected {{\"version\": {}, \"records\": [...]}}", path, kTuningDbVersion));
    }
    std::vector<TuningRecord> records;
    for (size_t i = 0; i < j["records"].size(); i++) {
        const json &r = j["records"][i];
        const std::string where = fmt::format("{}: records[{}]", path, i);
        if (!r.is_object()) throw Error(fmt::format("{}: expected an object", where));
        TuningRecord t;
        t.kernel = get<std::string>(r, "kernel", where);
        t.generator = get<std::string>(r, "generator", where);
        t.fixed = get<std::map<std::string, int>>(r, "fixed", where);
        t.target = get<std::string>(r, "target", where);
        t.bucket = get<std::string>(r, "bucket", where);
        t.shape = get<std::string>(r, "shape", where);
        t.params = get<std::map<std::string, int>>(r, "params", where);
        t.time_ms = get<double>(r, "time_ms", where);
        t.default_ms = get<double>(r, "default_ms", where);
        t.date = get<std::string>(r, "date", where);
        t.tool_version = get<std::string>(r, "tool_version", where);
        if (t.time_ms <= 0 || t.default_ms <= 0) throw Error(fmt::format("{}: times must be positive", where));
        records.push_back(std::move(t));
    }
    return records;
}

void write_tuning_db(const std::string &path, const std::vector<TuningRecord> &records) {
    json list = json::array();
    for (const TuningRecord &t : records) {
        list.push_back({{"kernel", t.kernel}, {"generator", t.generator}, {"fixed", t.fixed}, {"target", t.target}, {"bucket", t.bucket}, {"shape", t.shape}, {"params", t.params}, {"time_ms", t.time_ms}, {"default_ms", t.default_ms}, {"date", t.date}, {"tool_version", t.tool_version}});
    }
    const std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::ofstream out(path);
    out << json{{"version", kTuningDbVersion}, {"records", list}}.dump(2) << "\n";
    if (!out) throw Error(fmt::format("{}: could not write the tuning database", path));
}

void upsert(std::vector<TuningRecord> &records, const TuningRecord &record) {
    for (TuningRecord &r : records) {
        if (r.kernel == record.kernel && r.target == record.target && r.bucket == record.bucket) {
            r = record;
            return;
        }
    }
    records.push_back(record);
}

}  // namespace retnet::tune
