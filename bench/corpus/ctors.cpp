// Benchmark input: heavy C++ static constructors, the start-up work of a program with large
// global tables. Every global below is built by its constructor from `_initialize`; the snapshot
// holds the finished containers (about 9 MB of heap in many small allocations).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

std::string name_of(uint32_t i) {
    static const char *const syllables[] = {"ka", "lo", "mi", "ne", "su", "ta", "ri", "vo",
                                            "de", "po", "zu", "xe", "ha", "bi", "go", "fy"};
    std::string s;
    uint32_t x = mix(i) | 1u;
    while (x) {
        s += syllables[x & 15];
        x >>= 5;
    }
    return s;
}

// A symbol table: 40,000 names to ids, ordered.
struct Symbols {
    std::map<std::string, uint32_t> ids;
    Symbols() {
        for (uint32_t i = 0; i < 40000; i++) ids.emplace(name_of(i), i);
    }
} symbols;

// An inverted index: 4,000 buckets of hashed keys.
struct Index {
    std::unordered_map<uint32_t, std::vector<uint32_t>> buckets;
    Index() {
        for (uint32_t i = 0; i < 200000; i++) buckets[mix(i) % 4000].push_back(i);
    }
} index_;

// A sorted set of 80,000 64-bit keys.
struct Keys {
    std::set<uint64_t> keys;
    Keys() {
        for (uint32_t i = 0; i < 80000; i++) keys.insert((uint64_t)mix(i) << 20 | i);
    }
} keys;

// A table of strings built by repeated concatenation.
struct Messages {
    std::vector<std::string> lines;
    Messages() {
        for (uint32_t i = 0; i < 30000; i++) lines.push_back("message " + std::to_string(i) + ": " + name_of(i * 7));
    }
} messages;

// A routing table distilled from churn: 100 rounds of building a 20,000-entry ordered map and
// erasing most of it, keeping what survives every round.
struct Routes {
    std::map<uint32_t, uint32_t> routes;
    uint32_t checksum = 0;
    Routes() {
        for (uint32_t round = 0; round < 100; round++) {
            std::map<uint32_t, std::string> scratch;
            for (uint32_t i = 0; i < 20000; i++) scratch.emplace(mix(i * 40 + round) % 65536, name_of(i));
            for (auto it = scratch.begin(); it != scratch.end();) {
                checksum = checksum * 31 + (uint32_t)it->second.size();
                it = it->first % 64 == round % 64 ? std::next(it) : scratch.erase(it);
            }
            for (const auto &e : scratch) routes[e.first] += (uint32_t)e.second.size();
        }
    }
} routes;

}  // namespace

extern "C" {
// Nothing to do: the constructors did the work during _initialize.
__attribute__((export_name("wizer-initialize"))) void init() {}

__attribute__((export_name("symbol_count"))) int32_t symbol_count() { return (int32_t)symbols.ids.size(); }

// The id of the i-th symbol's name, looked up again by name; -1 when out of range.
__attribute__((export_name("symbol_id"))) int32_t symbol_id(uint32_t i) {
    auto it = symbols.ids.find(name_of(i));
    return it == symbols.ids.end() ? -1 : (int32_t)it->second;
}

__attribute__((export_name("bucket_size"))) int32_t bucket_size(uint32_t b) {
    auto it = index_.buckets.find(b);
    return it == index_.buckets.end() ? 0 : (int32_t)it->second.size();
}

__attribute__((export_name("route_count"))) int32_t route_count() { return (int32_t)routes.routes.size(); }
__attribute__((export_name("route_checksum"))) uint32_t route_checksum() { return routes.checksum; }

__attribute__((export_name("key_count"))) int32_t key_count() { return (int32_t)keys.keys.size(); }

__attribute__((export_name("line_length"))) int32_t line_length(uint32_t i) {
    return i < messages.lines.size() ? (int32_t)messages.lines[i].size() : -1;
}
}
