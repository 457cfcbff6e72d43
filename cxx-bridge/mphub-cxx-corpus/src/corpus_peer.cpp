// The C++ corpus peer: schema/corpus through the generated C++ bindings only (generated
// types in mphub::corpus, RemoteX / XCap / serve / connect in mphub::corpus::cxx), as a
// C++ program without libmultiprocess or Cap'n Proto C++ would use them.
//
//   client --socket S [--scenario NAME]...   runs the corpus scenarios against a server,
//                                            printing "ok NAME" or "FAIL NAME: why"
//   serve --socket S --fixtures-from R       serves Corpus on S; the fixtures getX returns
//                                            are fetched from the Corpus server at R
//
// Behaviour mirrors the Rust reference (rust-proxies/mphub-corpus-peer/src/server.rs and
// client.rs); values are checked field by field against the schema's fixtures.

#include <mphub/corpus/corpus.h>
#include <mphub/corpus/jobs.h>  // the generated API; it includes <jobs/jobs.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

namespace corpus = mphub::corpus;
namespace bridge = mphub::corpus::cxx;

namespace {

using Bytes = std::vector<unsigned char>;

//! A scenario check that did not hold.
struct Failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void expect(bool cond, const std::string& what)
{
    if (!cond) throw Failed(what);
}

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// ------------------------------------------------------------------ implementations

//! Named + Counter + Derived, like the Rust CounterImpl.
class CounterImpl final : public corpus::Derived
{
public:
    CounterImpl(std::string name, std::int64_t start) : m_name(std::move(name)), m_value(start) {}
    std::string name() override { return m_name; }
    std::int64_t increment(std::int64_t by) override { return m_value.fetch_add(by) + by; }
    std::int64_t reset() override { return m_value.exchange(0); }

private:
    std::string m_name;
    std::atomic<std::int64_t> m_value;
};

class ListenerImpl final : public corpus::Listener
{
public:
    void notify(std::int32_t value) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_seen.push_back(value);
    }
    std::vector<std::int32_t> seen()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_seen;
    }

private:
    std::mutex m_mutex;
    std::vector<std::int32_t> m_seen;
};

//! Thrown for raise(n > 3): not a std::exception, so no declared exception slot
//! (std::exception is one) catches it and the peer sees a plain failure.
struct NotAStdException {
    int which;
};

//! The fixture lists, as a peer returned them.
struct Fixtures {
    std::vector<corpus::Scalars> scalars;
    std::vector<corpus::Shapes> shapes;
    std::vector<corpus::Choice> choice;
    std::vector<corpus::Generics> generics;
    std::vector<corpus::Keywords> keywords;
    std::vector<corpus::Annotated> annotated;
};

//! getX(0), getX(1), ... until the peer says there is no such fixture.
template <class T, class Get>
std::vector<T> fetch_all(Get get)
{
    std::vector<T> all;
    for (std::uint32_t i = 0; i < 1000; ++i) {
        try {
            all.push_back(get(i));
        } catch (const mphub::cxx::Error&) {
            break;
        }
    }
    return all;
}

Fixtures fetch_fixtures(corpus::Corpus& from)
{
    Fixtures f;
    f.scalars = fetch_all<corpus::Scalars>([&](std::uint32_t i) { return from.getScalars(i); });
    f.shapes = fetch_all<corpus::Shapes>([&](std::uint32_t i) { return from.getShapes(i); });
    f.choice = fetch_all<corpus::Choice>([&](std::uint32_t i) { return from.getChoice(i); });
    f.generics = fetch_all<corpus::Generics>([&](std::uint32_t i) { return from.getGenerics(i); });
    f.keywords = fetch_all<corpus::Keywords>([&](std::uint32_t i) { return from.getKeywords(i); });
    f.annotated = fetch_all<corpus::Annotated>([&](std::uint32_t i) { return from.getAnnotated(i); });
    return f;
}

corpus::FindResult find_result(const Bytes& key, const corpus::FindParam& want)
{
    corpus::FindResult r;
    r.found = !key.empty();
    if (want.wantHash) r.hash = key;
    if (want.wantHeight) r.height = static_cast<std::int32_t>(key.size());
    if (want.next) r.next = find_result(key, *want.next);
    return r;
}

//! `v` modulo 2^32 as an int32_t: Rust's wrapping arithmetic, which the Rust reference's
//! mappers use.
std::int32_t wrapping(std::int64_t v)
{
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
}

//! runJob's rule: `first`, then each of `rest`, applied to `value`; empty functions (null
//! capabilities) are skipped.
template <class F>
std::int32_t apply(const F& first, const std::vector<F>& rest, std::int32_t value)
{
    if (first) value = first(value);
    for (const auto& f : rest) {
        if (f) value = f(value);
    }
    return value;
}

//! The C++ Corpus server, answering like the Rust reference.
class CorpusImpl final : public corpus::Corpus
{
public:
    explicit CorpusImpl(Fixtures fixtures) : m_f(std::move(fixtures)) {}

    template <class T>
    static T at(const std::vector<T>& list, std::uint32_t index, const char* what)
    {
        if (index >= list.size()) {
            throw std::runtime_error("no " + std::string(what) + " fixture #" + std::to_string(index));
        }
        return list[index];
    }
    template <class T>
    static void check(const std::vector<T>& list, std::uint32_t index, const T& value, bool& ok, std::string& detail)
    {
        ok = index < list.size() && list[index] == value;
        detail = ok ? "" : "differs from fixture #" + std::to_string(index);
    }

    corpus::Scalars echoScalars(const corpus::Scalars& v) override { return v; }
    corpus::Scalars getScalars(std::uint32_t i) override { return at(m_f.scalars, i, "scalars"); }
    void checkScalars(std::uint32_t i, const corpus::Scalars& v, bool& ok, std::string& d) override { check(m_f.scalars, i, v, ok, d); }
    corpus::Shapes echoShapes(const corpus::Shapes& v) override { return v; }
    corpus::Shapes getShapes(std::uint32_t i) override { return at(m_f.shapes, i, "shapes"); }
    void checkShapes(std::uint32_t i, const corpus::Shapes& v, bool& ok, std::string& d) override { check(m_f.shapes, i, v, ok, d); }
    corpus::Choice echoChoice(const corpus::Choice& v) override { return v; }
    corpus::Choice getChoice(std::uint32_t i) override { return at(m_f.choice, i, "choice"); }
    void checkChoice(std::uint32_t i, const corpus::Choice& v, bool& ok, std::string& d) override { check(m_f.choice, i, v, ok, d); }
    corpus::Generics echoGenerics(const corpus::Generics& v) override { return v; }
    corpus::Generics getGenerics(std::uint32_t i) override { return at(m_f.generics, i, "generics"); }
    void checkGenerics(std::uint32_t i, const corpus::Generics& v, bool& ok, std::string& d) override { check(m_f.generics, i, v, ok, d); }
    corpus::Keywords echoKeywords(const corpus::Keywords& v) override { return v; }
    corpus::Keywords getKeywords(std::uint32_t i) override { return at(m_f.keywords, i, "keywords"); }
    void checkKeywords(std::uint32_t i, const corpus::Keywords& v, bool& ok, std::string& d) override { check(m_f.keywords, i, v, ok, d); }
    corpus::Annotated echoAnnotated(const corpus::Annotated& v) override { return v; }
    corpus::Annotated getAnnotated(std::uint32_t i) override { return at(m_f.annotated, i, "annotated"); }
    void checkAnnotated(std::uint32_t i, const corpus::Annotated& v, bool& ok, std::string& d) override { check(m_f.annotated, i, v, ok, d); }

    std::unique_ptr<corpus::Counter> makeCounter(const std::string& name, std::int64_t start) override
    {
        return std::make_unique<CounterImpl>(name, start);
    }
    std::unique_ptr<corpus::Derived> makeDerived(const std::string& name) override
    {
        return std::make_unique<CounterImpl>(name, 0);
    }
    std::vector<std::shared_ptr<corpus::Counter>> makeCounters(std::uint32_t count) override
    {
        if (count > 1024) throw std::runtime_error("makeCounters: " + std::to_string(count) + " is more than 1024");
        std::vector<std::shared_ptr<corpus::Counter>> all;
        for (std::uint32_t i = 0; i < count; ++i) {
            all.push_back(std::make_shared<CounterImpl>("c" + std::to_string(i), i));
        }
        return all;
    }
    std::int64_t sumCounters(const std::vector<std::shared_ptr<corpus::Counter>>& counters) override
    {
        std::int64_t sum = 0;
        for (const auto& c : counters) {
            if (!c) throw std::runtime_error("sumCounters: a null counter");
            sum += c->increment(0);
        }
        return sum;
    }
    corpus::Holder echoHolder(const corpus::Holder& v) override { return v; }
    std::string readName(corpus::Named& named) override { return named.name(); }
    std::int32_t raise(std::uint8_t which) override
    {
        switch (which) {
        case 0: return 42;
        case 1: throw corpus::Failure(1, "first");
        case 2: throw std::runtime_error("second");
        case 3: throw corpus::Note("third");
        default: throw NotAStdException{which};
        }
    }
    bool find(const Bytes& key, const corpus::FindParam& block, corpus::FindResult& blockOut) override
    {
        blockOut = find_result(key, block);
        return blockOut.found;
    }
    std::uint32_t start(const std::vector<std::string>& argv) override { return static_cast<std::uint32_t>(argv.size()); }
    std::int32_t tick(std::int32_t step) override
    {
        if (step == std::numeric_limits<std::int32_t>::max()) throw std::runtime_error("tick: overflow");
        return step + 1;
    }
    std::int32_t addNoContext(std::int32_t a, std::int32_t b) override
    {
        std::int64_t sum = std::int64_t{a} + b;
        if (sum != static_cast<std::int32_t>(sum)) throw std::runtime_error("addNoContext: overflow");
        return static_cast<std::int32_t>(sum);
    }
    void subscribe(corpus::Listener& listener, std::int32_t count) override
    {
        for (std::int32_t i = 0; i < count; ++i) listener.notify(i);
    }
    std::int32_t early() override { return 31; }
    std::int32_t late() override { return 32; }
    std::int32_t type(std::int32_t self, std::int32_t match) override
    {
        std::int64_t product = std::int64_t{self} * match;
        if (product != static_cast<std::int32_t>(product)) throw std::runtime_error("type: overflow");
        return static_cast<std::int32_t>(product);
    }
    std::int32_t local() override { return 34; }
    std::int32_t intoCap() override { return 35; }
    std::int32_t count() override { return 36; }
    std::int32_t countBlocking() override { return 37; }
    std::optional<corpus::Point> maybe(bool want) override
    {
        if (!want) return std::nullopt;
        return corpus::Point{1, 2};
    }
    std::int32_t divide(std::int32_t a, std::int32_t b, std::int32_t* remainder) override
    {
        if (b == 0) throw std::runtime_error("division by zero");
        // Rust's wrapping_div/wrapping_rem, without C++'s overflow on INT_MIN / -1.
        bool overflow = a == std::numeric_limits<std::int32_t>::min() && b == -1;
        if (remainder) *remainder = overflow ? 0 : a % b;
        return overflow ? a : a / b;
    }
    std::int32_t runJob(const corpus::Job& job, std::int32_t value) override { return apply(job.mapper, job.then, value); }
    corpus::Job makeJob(std::int32_t offset) override
    {
        corpus::Job job;
        job.label = "add " + std::to_string(offset) + " then double";
        job.mapper = [offset](std::int32_t v) { return wrapping(std::int64_t{v} + offset); };
        job.then = {[](std::int32_t v) { return wrapping(std::int64_t{v} * 2); }};
        job.tagged = corpus::Tagged<std::string>{"tag", [](std::int32_t v) { return wrapping(std::int64_t{v} + 100); }};
        return job;
    }

private:
    Fixtures m_f;
};

// ------------------------------------------------------------------ client scenarios

//! get/check/echo of every fixture, then a get past the last one must fail.
template <class T, class Get, class Check, class Echo>
std::vector<T> values(Get get, Check check, Echo echo, const char* what, bool check_must_pass = true)
{
    std::vector<T> all = fetch_all<T>(get);
    expect(!all.empty(), std::string(what) + ": no fixtures");
    for (std::uint32_t i = 0; i < all.size(); ++i) {
        std::string at = std::string(what) + " #" + std::to_string(i);
        bool ok = false;
        std::string detail;
        check(i, all[i], ok, detail);
        if (check_must_pass) expect(ok, at + ": check refused it: " + detail);
        expect(echo(all[i]) == all[i], at + ": echo changed it");
    }
    bool past = false;
    try {
        get(static_cast<std::uint32_t>(all.size()));
    } catch (const mphub::cxx::Error&) {
        past = true;
    }
    expect(past, std::string(what) + ": get past the last fixture must fail");
    return all;
}

void scalars(corpus::Corpus& c)
{
    auto all = values<corpus::Scalars>(
        [&](std::uint32_t i) { return c.getScalars(i); },
        [&](std::uint32_t i, const corpus::Scalars& v, bool& ok, std::string& d) { c.checkScalars(i, v, ok, d); },
        [&](const corpus::Scalars& v) { return c.echoScalars(v); }, "scalars");
    expect(all.size() == 4, "four scalars fixtures");
    // #0 is `()`: every field at its schema default.
    const auto& d = all[0];
    expect(d.b && d.i8 == -8 && d.i16 == -1600 && d.i32 == -320000 && d.i64 == -64000000000, "#0 signed defaults");
    expect(d.u8 == 8 && d.u16 == 1600 && d.u32 == 320000 && d.u64 == 64000000000u, "#0 unsigned defaults");
    expect(d.f32 == 1.5f && d.f64 == -2.25, "#0 float defaults");
    expect(d.text == "default text" && d.data == Bytes({0x00, 0xff, 0x10}), "#0 Text/Data defaults");
    expect(d.color == corpus::Color::blue && d.ints == std::vector<std::int32_t>({1, 2, 3}), "#0 enum/list defaults");
    // #2: the extremes.
    const auto& m = all[2];
    expect(m.b && m.i8 == 127 && m.i16 == 32767 && m.i32 == 2147483647 && m.i64 == 9223372036854775807, "#2 signed maxima");
    expect(m.u8 == 255 && m.u16 == 65535 && m.u32 == 4294967295u && m.u64 == 18446744073709551615u, "#2 unsigned maxima");
    expect(m.f32 == 3.4028234e38f && m.f64 == 1.7976931348623157e308, "#2 float maxima");
    expect(m.text == std::string("NUL \0 and UTF-8 \xc3\xa9 \xe2\x82\xac", 22), "#2 text with NUL and UTF-8");
    expect(m.data == Bytes({0x00, 0x01, 0xfe, 0xff}) && m.color == corpus::Color::green, "#2 data and color");
    expect(m.ints == std::vector<std::int32_t>({std::numeric_limits<std::int32_t>::min(), 0, 2147483647}), "#2 ints");
    expect(m.point && m.point->x == -1 && m.point->y == 1 && m.plain == -1, "#2 point and plain");
    const auto& n = all[3];
    expect(n.i8 == -128 && n.i64 == std::numeric_limits<std::int64_t>::min(), "#3 signed minima");
    expect(n.f32 == -std::numeric_limits<float>::infinity() && n.f64 == std::numeric_limits<double>::infinity(), "#3 infinities");
}

void shapes(corpus::Corpus& c)
{
    auto all = values<corpus::Shapes>(
        [&](std::uint32_t i) { return c.getShapes(i); },
        [&](std::uint32_t i, const corpus::Shapes& v, bool& ok, std::string& d) { c.checkShapes(i, v, ok, d); },
        [&](const corpus::Shapes& v) { return c.echoShapes(v); }, "shapes");
    expect(all.size() == 4, "four shapes fixtures");
    expect(!all[0].tree && !all[0].empty && all[0].voids.empty(), "#0: null struct fields stay null");
    const auto& s = all[1];
    expect(s.color == corpus::Color::blue && s.colors.size() == 3 && s.colors[1] == corpus::Color::green, "#1 enums");
    expect(s.matrix == std::vector<std::vector<std::int32_t>>({{}, {1}, {2, 3}}), "#1 List(List(Int32))");
    expect(s.words == std::vector<std::vector<std::string>>({{"a", ""}, {}}), "#1 List(List(Text))");
    expect(s.flags.size() == 9 && s.flags[0] && !s.flags[1] && s.flags[8], "#1 List(Bool)");
    expect(s.voids.size() == 3 && s.empty && s.empties.size() == 2, "#1 List(Void), empty structs");
    expect(s.group.a == 7 && s.group.b == "grouped", "#1 group");
    expect(s.shape.which == corpus::ShapesShape::Which::square && s.shape.square && s.shape.square->x == 3 && s.shape.square->y == 4, "#1 named union");
    expect(s.which == corpus::Shapes::Which::number && s.number == -5, "#1 unnamed union");
    expect(s.tree && s.tree->value == 1 && s.tree->children.size() == 2 && s.tree->children[1].children[0].value == 4, "#1 tree children");
    const corpus::Tree* link = &*s.tree;
    for (std::int32_t want : {5, 6, 7, 8}) {
        expect(link->next && link->next->value == want, "#1 tree next chain (recursive struct)");
        link = &*link->next;
    }
    expect(!link->next, "#1 tree next chain ends");
    expect(s.nested && s.nested->kind == corpus::OuterKind::large && s.nested->label == "inner" && s.kind == corpus::OuterKind::large, "#1 nested types");
    expect(all[2].shape.which == corpus::ShapesShape::Which::circle && all[2].shape.circle == 2.5, "#2 circle");
    expect(all[2].which == corpus::Shapes::Which::label && all[2].label.empty() && all[2].tree->value == -1, "#2 label and tree");
    expect(all[3].shape.which == corpus::ShapesShape::Which::none && all[3].which == corpus::Shapes::Which::nothing, "#3 Void members");
}

void choice(corpus::Corpus& c)
{
    auto all = values<corpus::Choice>(
        [&](std::uint32_t i) { return c.getChoice(i); },
        [&](std::uint32_t i, const corpus::Choice& v, bool& ok, std::string& d) { c.checkChoice(i, v, ok, d); },
        [&](const corpus::Choice& v) { return c.echoChoice(v); }, "choice");
    using W = corpus::Choice::Which;
    expect(all.size() == 6, "six choice fixtures");
    expect(all[0].which == W::none, "#0 none");
    expect(all[1].which == W::count && all[1].count == 4294967295u, "#1 count");
    expect(all[2].which == W::name && all[2].name.empty(), "#2 empty name");
    expect(all[3].which == W::name && all[3].name == "named", "#3 name");
    expect(all[4].which == W::point && all[4].point && all[4].point->x == 9 && all[4].point->y == -9, "#4 point");
    expect(all[5].which == W::tree && all[5].tree && all[5].tree->next && all[5].tree->next->value == 2, "#5 tree");
}

void generics(corpus::Corpus& c)
{
    auto all = values<corpus::Generics>(
        [&](std::uint32_t i) { return c.getGenerics(i); },
        [&](std::uint32_t i, const corpus::Generics& v, bool& ok, std::string& d) { c.checkGenerics(i, v, ok, d); },
        [&](const corpus::Generics& v) { return c.echoGenerics(v); }, "generics");
    expect(all.size() == 2, "two generics fixtures");
    const auto& g = all[1];
    expect(g.textData && g.textData->key == "k" && g.textData->value == Bytes({0xbe, 0xef}), "Pair(Text, Data)");
    expect(g.textList && g.textList->value == std::vector<std::string>({"a", "b", ""}), "Pair(Text, List(Text))");
    expect(g.deep.size() == 1 && g.deep[0].value.size() == 2 && g.deep[0].value[0].value == std::vector<std::string>({"x", "y"}), "nested generic lists");
    expect(g.result && g.result->value.text == "ok" && !g.result->error, "Result(Scalars)");
    expect(g.failed && g.failed->error && g.failed->error->code == 7 && g.failed->error->message == "failed", "Result(Text) error");
    expect(g.void_ && g.void_->error && g.void_->error->message == "void failed", "ResultVoid");
    using W = corpus::Expected<Bytes, corpus::Failure>::Which;
    expect(g.ok && g.ok->which == W::value && g.ok->value == Bytes({0x01}), "Expected(Data, Failure) value (generic union)");
    expect(g.err && g.err->which == W::error && g.err->error.code == 2 && g.err->error.message == "err", "Expected error");
    expect(g.counts.size() == 3 && g.counts[1].value == 9223372036854775807 && g.counts[1].key == Bytes({0xbb}), "List(PairInt64(Data))");
    expect(g.nested && g.nested->value.value.size() == 2 && g.nested->value.value[1].y == 4, "Pair(Text, Pair(Data, List(Point)))");
}

void keywords(corpus::Corpus& c)
{
    auto all = values<corpus::Keywords>(
        [&](std::uint32_t i) { return c.getKeywords(i); },
        [&](std::uint32_t i, const corpus::Keywords& v, bool& ok, std::string& d) { c.checkKeywords(i, v, ok, d); },
        [&](const corpus::Keywords& v) { return c.echoKeywords(v); }, "keywords");
    expect(all.size() == 3, "three keywords fixtures");
    const auto& k = all[1];
    expect(k.type == 1 && k.self == "self" && k.match && k.fn == std::vector<std::int32_t>({1, 2}) && k.which == 3, "keyword-named fields");
    expect(k.which_ == corpus::Keywords::Which::await && k.await == 4, "union beside a field named which");
    expect(all[2].which_ == corpus::Keywords::Which::async, "Void member async");
}

void annotated(corpus::Corpus& c)
{
    // `hidden` is `$Proxy.skip`: C++ (like libmultiprocess) has no member for it, so the
    // Rust server's check of fixture #1 (hidden = 0x0123...) sees it empty.
    auto all = values<corpus::Annotated>(
        [&](std::uint32_t i) { return c.getAnnotated(i); },
        [&](std::uint32_t i, const corpus::Annotated& v, bool& ok, std::string& d) {
            c.checkAnnotated(i, v, ok, d);
            expect(ok == (i == 0), "annotated #" + std::to_string(i) + ": check verdict");
            expect(ok || d.find("hidden") != std::string::npos, "annotated #1: the check names the skipped field: " + d);
        },
        [&](const corpus::Annotated& v) { return c.echoAnnotated(v); }, "annotated", false);
    expect(all.size() == 2 && all[1].m_renamed == 42 && all[1].plain == "plain", "$Proxy.name member m_renamed");
}

//! A standalone message whose root is struct Point{x = 5, y = 6} (AnyPointer payload).
mphub::cxx::AnyValue point_message()
{
    return mphub::cxx::AnyValue{Bytes({0, 0, 0, 0, 2, 0, 0, 0,   // one segment of two words
                                       0, 0, 0, 0, 1, 0, 0, 0,   // root: struct, 1 data word
                                       5, 0, 0, 0, 6, 0, 0, 0})}; // x, y
}

void large(corpus::Corpus& c)
{
    corpus::Scalars big;
    big.data.resize(1024 * 1024);
    for (std::size_t i = 0; i < big.data.size(); ++i) big.data[i] = static_cast<unsigned char>(i % 251);
    for (std::int32_t i = 0; i < 100000; ++i) big.ints.push_back(i);
    big.text.assign(65536, 'x');
    auto echoed = c.echoScalars(big);
    expect(echoed.data == big.data && echoed.ints == big.ints && echoed.text == big.text, "echo of 1 MiB Data and 100k ints changed them");
    // `point` left null reads back as the schema default (Cap'n Proto's rule for a null
    // struct field with a default).
    expect(echoed.point == corpus::Point{1, 2}, "a null struct field reads as its schema default");
    big.point = corpus::Point{1, 2};
    expect(echoed == big, "echo of a large Scalars changed another field");
    corpus::Tree tree;
    for (std::int32_t depth = 1; depth < 40; ++depth) {
        corpus::Tree up;
        up.value = depth;
        corpus::Tree child;
        child.value = -depth;
        up.children.push_back(child);
        up.next = std::move(tree);
        tree = std::move(up);
    }
    corpus::Shapes shapes;
    shapes.tree = tree;
    for (std::int32_t i = 0; i < 1000; ++i) shapes.matrix.push_back(std::vector<std::int32_t>(10, i));
    shapes.any = point_message();
    auto back = c.echoShapes(shapes);
    expect(back.tree == shapes.tree, "echo of a 40-deep tree changed it");
    expect(back.matrix == shapes.matrix, "echo of a 1000x10 matrix changed it");
    expect(back.any == shapes.any, "echo of an AnyPointer value changed its message");
}

void interfaces(corpus::Corpus& c)
{
    auto counter = c.makeCounter("a", 5);
    expect(counter != nullptr, "makeCounter returned null");
    expect(counter->increment(2) == 7, "increment(2)");
    expect(counter->increment(-10) == -3, "increment(-10)");
    expect(counter->name() == "a", "name (inherited)");
}

void extends(corpus::Corpus& c)
{
    auto derived = c.makeDerived("d");
    expect(derived != nullptr, "makeDerived returned null");
    expect(derived->increment(3) == 3, "increment(3) (inherited from Counter)");
    expect(derived->name() == "d", "name (inherited from Named, two levels up)");
    expect(derived->reset() == 3, "reset");
    expect(c.readName(*derived) == "d", "readName(remote Derived)");
    CounterImpl local("local", 0);
    expect(c.readName(local) == "local", "readName(local Derived)");
    corpus::Counter& as_base = *derived;
    expect(as_base.increment(1) == 1, "increment through the base class");
}

void interface_lists(corpus::Corpus& c)
{
    auto counters = c.makeCounters(3);
    expect(counters.size() == 3, "makeCounters(3) length");
    for (std::size_t i = 0; i < counters.size(); ++i) {
        expect(counters[i] != nullptr, "counter #" + std::to_string(i) + " is null");
        expect(counters[i]->increment(0) == static_cast<std::int64_t>(i), "counter value");
        expect(counters[i]->name() == "c" + std::to_string(i), "counter name");
    }
    std::vector<std::shared_ptr<corpus::Counter>> locals;
    for (int i = 1; i <= 3; ++i) locals.push_back(std::make_shared<CounterImpl>("l" + std::to_string(i), i));
    expect(c.sumCounters(locals) == 6, "sumCounters(local 1, 2, 3)");
    expect(c.sumCounters(counters) == 3, "sumCounters(its own 0, 1, 2)");
    expect(c.sumCounters({}) == 0, "sumCounters([])");
}

void interface_structs(corpus::Corpus& c)
{
    auto held = std::make_shared<CounterImpl>("held", 10);
    corpus::Holder holder;
    holder.label = "holder";
    holder.counter = held;
    holder.counters = {held, nullptr, std::make_shared<CounterImpl>("other", 1)};
    holder.boxed = corpus::Pair<std::string, std::shared_ptr<corpus::Counter>>{"boxed", held};
    corpus::Result<std::shared_ptr<corpus::Counter>> result;
    result.value = held;
    result.error = corpus::Failure(0, "");
    holder.result = result;
    auto back = c.echoHolder(holder);
    expect(back.label == "holder", "label");
    expect(back.counters.size() == 3 && back.counters[1] == nullptr, "a null capability in a list stays null");
    expect(back.boxed && back.result && back.result->error && back.result->error->code == 0, "generic structs holding capabilities");
    std::int64_t total = 0;
    for (const auto& [what, cap] : std::vector<std::pair<std::string, std::shared_ptr<corpus::Counter>>>{
             {"counter", back.counter}, {"counters[0]", back.counters[0]}, {"boxed.value", back.boxed->value}, {"result.value", back.result->value}}) {
        expect(cap != nullptr, what + " came back null");
        total += 1;
        expect(cap->increment(1) == 10 + total, what + ": increment reaches the C++ object");
    }
    expect(back.counters[2]->name() == "other", "counters[2] name");
}

//! Callbacks (std::function) inside a struct and a list, both ways, as Core PR #29409's
//! RPCCommand.actor: the server calls ours, we call the server's.
void callback_structs(corpus::Corpus& c)
{
    corpus::Job job;
    job.label = "job";
    job.mapper = [](std::int32_t v) { return v + 1; };
    job.then = {[](std::int32_t v) { return v * 2; }, nullptr, [](std::int32_t v) { return v - 3; }};
    expect(c.runJob(job, 5) == 9, "runJob(add 1, then double, null, add -3; 5) != 9");
    corpus::Job empty;
    empty.label = "empty";
    expect(c.runJob(empty, 7) == 7, "runJob(null mapper, no then; 7) != 7");

    corpus::Job made = c.makeJob(10);
    expect(made.label == "add 10 then double", "makeJob label: " + made.label);
    expect(made.mapper && made.then.size() == 1 && made.then[0], "makeJob: a mapper and one then");
    expect(made.mapper(1) == 11, "makeJob mapper(1) != 11");
    expect(made.then[0](11) == 22, "makeJob then[0](11) != 22");
    expect(made.tagged && made.tagged->tag == "tag" && made.tagged->mapper && made.tagged->mapper(1) == 101,
           "makeJob tagged: tag and a mapper adding 100 (a callback in a generic struct)");
    // The server's own mappers, handed back inside a Job.
    expect(c.runJob(made, 1) == 22, "runJob(makeJob(10); 1) != 22");
}

void exceptions(corpus::Corpus& c)
{
    expect(c.raise(0) == 42, "raise(0)");
    try {
        c.raise(1);
        throw Failed("raise(1) must throw");
    } catch (const corpus::Failure& e) {
        expect(e.code == 1 && e.message == "first", "raise(1): Failure{1, first}");
    }
    try {
        c.raise(2);
        throw Failed("raise(2) must throw");
    } catch (const corpus::Note&) {
        throw Failed("raise(2) threw Note");
    } catch (const std::runtime_error& e) {
        expect(dynamic_cast<const mphub::cxx::Error*>(&e) == nullptr, "raise(2): a declared std::exception, not an IPC error");
        expect(std::string(e.what()) == "second", "raise(2) text");
    }
    try {
        c.raise(3);
        throw Failed("raise(3) must throw");
    } catch (const corpus::Note& e) {
        expect(std::string(e.what()) == "third", "raise(3) text");
    }
    try {
        c.raise(9);
        throw Failed("raise(9) must throw");
    } catch (const mphub::cxx::Error& e) {
        expect(e.kind() == mphub::cxx::Error::Kind::Remote, "raise(9): a plain remote failure");
    }
}

void in_out(corpus::Corpus& c)
{
    corpus::FindParam want;
    want.wantHash = true;
    corpus::FindParam next;
    next.wantHeight = true;
    want.next = next;
    corpus::FindResult out;
    expect(c.find(bytes("key"), want, out), "find(key) must be found");
    expect(out.found && out.hash == bytes("key") && out.height == 0, "find(key) first link");
    expect(out.next && out.next->hash.empty() && out.next->height == 3 && !out.next->next, "find(key) second link");
    corpus::FindResult none;
    expect(!c.find({}, corpus::FindParam{}, none), "find(empty key) must not be found");
    expect(!none.found, "find(empty) block.found");
}

void no_context(corpus::Corpus& c)
{
    expect(c.addNoContext(2, 3) == 5, "addNoContext(2, 3)");
    ListenerImpl listener;
    c.subscribe(listener, 5);
    expect(listener.seen() == std::vector<std::int32_t>({0, 1, 2, 3, 4}), "notifications seen by the listener");
}

void names(corpus::Corpus& c)
{
    expect(c.type(6, 7) == 42, "type(6, 7)");
    expect(c.local() == 34 && c.intoCap() == 35 && c.count() == 36 && c.countBlocking() == 37, "methods named like generated items");
}

void optional(corpus::Corpus& c)
{
    auto p = c.maybe(true);
    expect(p && p->x == 1 && p->y == 2, "maybe(true)");
    expect(!c.maybe(false), "maybe(false)");
    std::int32_t rem = -1;
    expect(c.divide(7, 2, &rem) == 3 && rem == 1, "divide(7, 2, want)");
    expect(c.divide(7, 2, nullptr) == 3, "divide(7, 2, no want)");
    bool threw = false;
    try {
        c.divide(1, 0, nullptr);
    } catch (const mphub::cxx::Error&) {
        threw = true;
    }
    expect(threw, "divide by zero must fail");
}

const std::vector<std::pair<std::string, std::function<void(corpus::Corpus&)>>>& scenarios()
{
    static const std::vector<std::pair<std::string, std::function<void(corpus::Corpus&)>>> all{
        {"scalars", scalars},
        {"shapes", shapes},
        {"choice", choice},
        {"generics", generics},
        {"keywords", keywords},
        {"annotated", annotated},
        {"large", large},
        {"interfaces", interfaces},
        {"extends", extends},
        {"interface-lists", interface_lists},
        {"interface-structs", interface_structs},
        {"callback-structs", callback_structs},
        {"exceptions", exceptions},
        {"in-out", in_out},
        {"count-param", [](corpus::Corpus& c) { expect(c.start({"mphub", "-x", ""}) == 3, "start(argv of 3)"); }},
        {"void-param", [](corpus::Corpus& c) { expect(c.tick(5) == 6, "tick(step 5)"); }},
        {"no-context", no_context},
        {"ordinals", [](corpus::Corpus& c) { expect(c.late() == 32 && c.early() == 31, "late @32, early @31"); }},
        {"names", names},
        {"optional", optional},
    };
    return all;
}

//! jobs::Runner (header mode: the user's header declares the callback type and the struct).
class RunnerImpl final : public jobs::Runner
{
public:
    std::int32_t run(const jobs::Plan& plan, std::int32_t value) override { return apply(plan.step, plan.steps, value); }
    jobs::Plan make(std::int32_t offset) override
    {
        return jobs::Plan{"add then double", [offset](std::int32_t v) { return wrapping(std::int64_t{v} + offset); },
                          {[](std::int32_t v) { return wrapping(std::int64_t{v} * 2); }}};
    }
};

//! Callbacks inside a struct with a hand-written header (libmultiprocess's header mode),
//! through the bridge and the Rust runtime in this process (embed: a socketpair).
int run_header_callbacks()
{
    auto e = mphub::corpus::header::embed(mphub::corpus::header::RunnerCap(std::make_unique<RunnerImpl>()));
    jobs::Runner& runner = *e.client;
    jobs::Plan plan{"ours", [](std::int32_t v) { return v + 1; }, {[](std::int32_t v) { return v * 2; }, nullptr}};
    expect(runner.run(plan, 5) == 12, "run(add 1, then double, null; 5) != 12");
    expect(runner.run(jobs::Plan{}, 7) == 7, "run(empty plan; 7) != 7");
    jobs::Plan made = runner.make(10);
    expect(made.name == "add then double" && made.step && made.steps.size() == 1, "make(10): name, step, one step");
    expect(made.step(1) == 11 && made.steps[0](11) == 22, "make(10): its callbacks call the server");
    expect(runner.run(made, 1) == 22, "run(make(10); 1): the server's own callbacks handed back");
    std::cout << "ok header-callbacks" << std::endl;
    return 0;
}

int run_client(const std::string& socket, const std::vector<std::string>& only)
{
    auto corpus_client = bridge::connectCorpus(socket);
    int failures = 0;
    for (const auto& [name, run] : scenarios()) {
        if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
        try {
            run(*corpus_client);
            std::cout << "ok " << name << std::endl;
        } catch (const std::exception& e) {
            ++failures;
            std::cout << "FAIL " << name << ": " << e.what() << std::endl;
        }
    }
    return failures == 0 ? 0 : 1;
}

int run_server(const std::string& socket, const std::string& fixtures_from)
{
    Fixtures fixtures;
    {
        auto source = bridge::connectCorpus(fixtures_from);
        fixtures = fetch_fixtures(*source);
    }
    auto server = bridge::serve(bridge::CorpusCap(std::make_unique<CorpusImpl>(std::move(fixtures))), socket);
    std::cerr << "serving Corpus on " << server.path() << std::endl;
    // Runs until killed (the tests stop it with SIGKILL/SIGTERM).
    server.wait();
    return 0;
}

} // namespace

extern "C" int mphub_cxx_corpus_main(int argc, const char* const* argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    auto value = [&](const std::string& flag) -> std::string {
        for (std::size_t i = 0; i + 1 < args.size(); ++i) {
            if (args[i] == flag) return args[i + 1];
        }
        return {};
    };
    std::vector<std::string> only;
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "--scenario") only.push_back(args[i + 1]);
    }
    try {
        if (!args.empty() && args[0] == "header-callbacks") return run_header_callbacks();
        if (!args.empty() && args[0] == "client" && !value("--socket").empty()) {
            return run_client(value("--socket"), only);
        }
        if (!args.empty() && args[0] == "serve" && !value("--socket").empty() && !value("--fixtures-from").empty()) {
            return run_server(value("--socket"), value("--fixtures-from"));
        }
    } catch (const std::exception& e) {
        std::cerr << "mphub-cxx-corpus: " << e.what() << std::endl;
        return 1;
    }
    std::cerr << "usage: mphub-cxx-corpus client --socket PATH [--scenario NAME]...\n"
                 "       mphub-cxx-corpus header-callbacks\n"
                 "       mphub-cxx-corpus serve --socket PATH --fixtures-from PATH\n";
    return 2;
}
