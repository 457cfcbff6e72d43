// kvstore-demo: serves a C++ implementation of the project's own schema through mphub's
// Rust runtime (no libmultiprocess, no Cap'n Proto C++), then uses it as a client over
// the unix socket, checking every answer. Exit code 0 means every check held.
#include <mphub/cxx/kvstore.h> // generated: kvstore::Store & co., RemoteStoreInit, serve, connectStoreInit

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <unistd.h>

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what)
{
    std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
    if (!ok) ++g_failures;
}

std::vector<unsigned char> bytes(const std::string& s) { return {s.begin(), s.end()}; }

// Methods run on mphub worker threads, possibly in parallel: guard the map.
class MemoryStore final : public kvstore::Store
{
public:
    explicit MemoryStore(std::string label) : m_label(std::move(label)) {}

    std::uint64_t put(const kvstore::Entry& entry) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto& slot = m_entries[entry.key];
        slot = kvstore::Entry{entry.key, entry.value, slot.version + 1, entry.kind, entry.type, slot.version == 0, entry.meta};
        return slot.version;
    }
    kvstore::Entry get(const std::string& key) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_entries.find(key);
        if (it == m_entries.end()) throw kvstore::NotFound{key, "no entry for key " + key};
        return it->second;
    }
    std::vector<kvstore::Entry> scan(const std::string& prefix) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<kvstore::Entry> out;
        for (auto it = m_entries.lower_bound(prefix); it != m_entries.end() && it->first.rfind(prefix, 0) == 0; ++it) {
            out.push_back(it->second);
        }
        return out;
    }
    std::string label() override { return m_label; }
    std::vector<kvstore::Kind> kinds() override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<kvstore::Kind> out;
        for (const auto& [key, entry] : m_entries) out.push_back(entry.kind);
        return out;
    }
    std::string describe(kvstore::Named& named) override
    {
        const std::string label = named.label(); // may call back into the caller's process
        std::lock_guard<std::mutex> lock(m_mutex);
        return label + ": " + std::to_string(m_entries.size());
    }
    std::vector<std::vector<std::string>> keysByPrefix(const std::vector<std::string>& prefixes) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<std::vector<std::string>> out;
        for (const auto& prefix : prefixes) {
            out.emplace_back();
            for (const auto& [key, entry] : m_entries) {
                if (key.rfind(prefix, 0) == 0) out.back().push_back(key);
            }
        }
        return out;
    }
    std::uint32_t putBatches(const std::vector<std::vector<kvstore::Entry>>& batches) override
    {
        std::uint32_t n = 0;
        for (const auto& batch : batches) {
            for (const auto& entry : batch) {
                put(entry);
                ++n;
            }
        }
        return n;
    }
    std::vector<kvstore::Sized<std::string>> sizes() override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<kvstore::Sized<std::string>> out;
        for (const auto& [key, entry] : m_entries) out.push_back({key, entry.value.size()});
        return out;
    }
    std::uint32_t putPairs(const std::vector<kvstore::Pair<std::string, std::vector<unsigned char>>>& pairs) override
    {
        for (const auto& p : pairs) put({p.key, p.value, 0, kvstore::Kind::text});
        return static_cast<std::uint32_t>(pairs.size());
    }
    kvstore::Maybe<kvstore::Entry> tryGet(const std::string& key) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_entries.find(key);
        if (it == m_entries.end()) return {{}, "no entry for key " + key};
        return {it->second, ""};
    }
    std::vector<std::string> select(const kvstore::Query& query) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<std::string> out;
        for (const auto& [key, entry] : m_entries) {
            bool take = false;
            switch (query.which) {
            case kvstore::Query::Which::all: take = true; break;
            case kvstore::Query::Which::prefix: take = key.rfind(query.prefix, 0) == 0; break;
            case kvstore::Query::Which::keys:
                take = std::find(query.keys.begin(), query.keys.end(), key) != query.keys.end();
                break;
            case kvstore::Query::Which::kind: take = entry.kind == query.kind; break;
            }
            if (take) out.push_back(key);
        }
        return out;
    }
    kvstore::Stat stat(const std::string& key) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        kvstore::Stat out;
        out.key = key;
        auto it = m_entries.find(key);
        if (it == m_entries.end()) {
            out.which = kvstore::Stat::Which::missing;
        } else if (it->second.kind == kvstore::Kind::text) {
            out.which = kvstore::Stat::Which::size;
            out.size = it->second.value.size();
        } else {
            out.which = kvstore::Stat::Which::entry;
            out.entry = it->second;
        }
        return out;
    }
    std::uint32_t count(const kvstore::Nothing&, kvstore::Nothing&) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return static_cast<std::uint32_t>(m_entries.size());
    }
    std::uint32_t countKind(kvstore::Kind kind) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::uint32_t n = 0;
        for (const auto& [key, entry] : m_entries) n += entry.kind == kind;
        return n;
    }
    std::optional<std::vector<unsigned char>> find(const std::string& key) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_entries.find(key);
        if (it == m_entries.end()) return std::nullopt;
        return it->second.value;
    }

private:
    std::mutex m_mutex;
    std::string m_label;
    std::map<std::string, kvstore::Entry> m_entries;
};

class Tag final : public kvstore::Named
{
public:
    std::string label() override { return "a local tag"; }
};

class Init final : public kvstore::StoreInit
{
public:
    std::unique_ptr<kvstore::Store> makeStore(const std::string& label) override
    {
        return std::make_unique<MemoryStore>(label);
    }
};

} // namespace

int main()
{
    char dir_template[] = "/tmp/kvstore-demo-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (!dir) {
        std::perror("mkdtemp");
        return 2;
    }
    const std::string socket = std::string(dir) + "/kvstore.sock";
    try {
        mphub::cxx::Server server = kvstore::cxx::serve(kvstore::cxx::StoreInitCap(std::make_unique<Init>()), socket);
        auto init = kvstore::cxx::connectStoreInit(socket);
        std::unique_ptr<kvstore::Store> store = init->makeStore("demo");
        check(store != nullptr, "makeStore returns a remote Store");
        check(store->label() == "demo", "label(), inherited from Named (extends), is the one given to makeStore");
        using kvstore::Kind;
        check(store->put({"fruit/apple", bytes("red"), 0, Kind::text}) == 1, "put of a new key returns version 1");
        check(store->put({"fruit/apple", bytes("green"), 0, Kind::text}) == 2, "put of the same key returns version 2");
        check(store->put({"fruit/pear", bytes(""), 0, Kind::text, "text/plain", false, {"ann", {"green", "ripe"}}}) == 1,
              "put of an empty value");
        check(store->put({"veg/leek", std::vector<unsigned char>(100000, 0xab), 0, Kind::blob}) == 1, "put of a 100 kB value");

        kvstore::Entry apple = store->get("fruit/apple");
        check(apple.key == "fruit/apple" && apple.value == bytes("green") && apple.version == 2,
              "get returns the last value and its version");
        check(store->get("veg/leek").value.size() == 100000 && store->get("veg/leek").kind == Kind::blob,
              "get returns the 100 kB value whole, with its enum field");
        check(store->kinds() == std::vector<Kind>{Kind::text, Kind::text, Kind::blob},
              "kinds returns a list of enums in key order");
        check(store->countKind(Kind::blob) == 1 && store->countKind(Kind::text) == 2, "an enum parameter reaches the server");

        auto fruit = store->scan("fruit/");
        check(fruit.size() == 2 && fruit[0].key == "fruit/apple" && fruit[1].key == "fruit/pear" && fruit[1].value.empty(),
              "scan returns the prefix's entries in key order");
        check(store->scan("none/").empty(), "scan of an unused prefix is empty");

        using Keys = std::vector<std::vector<std::string>>;
        check(store->keysByPrefix({"fruit/", "none/", "veg/"}) == Keys{{"fruit/apple", "fruit/pear"}, {}, {"veg/leek"}},
              "a list of lists of Text as a result, with an empty inner list");
        check(store->putBatches({{{"nut/a", bytes("1"), 0, Kind::text}, {"nut/b", bytes("2"), 0, Kind::text}}, {}, {{"nut/c", bytes("3"), 0, Kind::blob}}}) == 3 &&
                  store->get("nut/c").kind == Kind::blob,
              "a list of lists of structs as a parameter");
        check(store->putPairs({{"pair/x", bytes("xy")}, {"pair/y", {}}}) == 2 && store->get("pair/x").value == bytes("xy"),
              "a list of a generic struct bound to Text and Data as a parameter");
        const auto sizes = store->sizes();
        check(sizes.size() == 8 && sizes[0].key == "fruit/apple" && sizes[0].size == 5 && sizes.back().key == "veg/leek" &&
                  sizes.back().size == 100000,
              "a list of a generic struct bound to Text, with a UInt64 field, as a result");
        check(store->get("fruit/pear").type == "text/plain" && store->get("fruit/pear").new_ &&
                  !store->get("fruit/apple").new_,
              "struct fields named like Rust (type) and C++ (new) keywords");
        const auto meta = store->get("fruit/pear").meta;
        check(meta.author == "ann" && meta.tags == std::vector<std::string>{"green", "ripe"} &&
                  store->get("fruit/apple").meta.author.empty(),
              "a group (kvstore::EntryMeta) round-trips inside its struct");
        const auto found = store->tryGet("fruit/pear");
        const auto missing = store->tryGet("fruit/kiwi");
        check(found.error.empty() && found.value.key == "fruit/pear" && missing.error == "no entry for key fruit/kiwi" &&
                  missing.value.key.empty(),
              "a generic struct bound to a struct as a result");
        using Which = kvstore::Query::Which;
        kvstore::Query all;
        all.which = Which::all;
        kvstore::Query veg;
        veg.which = Which::prefix;
        veg.prefix = "veg/";
        kvstore::Query some;
        some.which = Which::keys;
        some.keys = {"fruit/pear", "nut/b", "none"};
        kvstore::Query blobs;
        blobs.which = Which::kind;
        blobs.kind = Kind::blob;
        check(store->select(all).size() == 8 && store->select(veg) == std::vector<std::string>{"veg/leek"} &&
                  store->select(some) == std::vector<std::string>{"fruit/pear", "nut/b"} &&
                  store->select(blobs) == std::vector<std::string>{"nut/c", "veg/leek"},
              "a union-only struct as a parameter, each member (Void, Text, List, enum)");
        const auto missing_stat = store->stat("fruit/kiwi");
        const auto text_stat = store->stat("fruit/apple");
        const auto blob_stat = store->stat("veg/leek");
        check(missing_stat.which == kvstore::Stat::Which::missing && missing_stat.key == "fruit/kiwi" &&
                  text_stat.which == kvstore::Stat::Which::size && text_stat.size == 5 &&
                  blob_stat.which == kvstore::Stat::Which::entry && blob_stat.entry && blob_stat.entry->value.size() == 100000,
              "a union beside a plain field as a result, each member (Void, UInt64, struct)");
        kvstore::Nothing nothing;
        check(store->count(kvstore::Nothing{}, nothing) == 8, "an empty struct as a parameter and an output");
        Tag tag;
        check(store->describe(tag) == "a local tag: 8", "a C++ Named of the caller passed to the server, which calls it back");
        check(store->describe(*store) == "demo: 8", "a Store passed where its base Named is expected");

        check(store->find("fruit/pear") == std::optional<std::vector<unsigned char>>(bytes("")),
              "find of a present key with an empty value");
        check(!store->find("fruit/kiwi").has_value(), "find of a missing key is nullopt (hasResult false)");

        try {
            store->get("fruit/kiwi");
            check(false, "get of a missing key throws kvstore::NotFound");
        } catch (const kvstore::NotFound& e) {
            check(e.key == "fruit/kiwi" && e.message == "no entry for key fruit/kiwi",
                  "get of a missing key throws kvstore::NotFound with the server's fields");
        }

        store.reset(); // destroy: the server releases its MemoryStore
        init.reset();
        server.stop();
        try {
            kvstore::cxx::connectStoreInit(socket);
            check(false, "connecting to a stopped server fails");
        } catch (const mphub::cxx::Error& e) {
            check(true, std::string("connecting to a stopped server fails: ") + e.what());
        }
    } catch (const std::exception& e) {
        std::cout << "FAIL unexpected exception: " << e.what() << "\n";
        ++g_failures;
    }
    rmdir(dir);
    std::cout << (g_failures == 0 ? "kvstore-demo: all checks passed\n" : "kvstore-demo: FAILED\n");
    return g_failures == 0 ? 0 : 1;
}
