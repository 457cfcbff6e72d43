// Plain C++ values for schema/test types, and blocking client wrappers for its interfaces.
//
// The wrappers run on ordinary threads (a client scenario, a server worker calling back) and
// follow libmultiprocess's client rules: every Context method gets `context.thread` (a Thread
// of the peer, made once per OS thread) and `context.callbackThread` (ours), declared
// exceptions in a result field are thrown as DeclaredTestError, and `destroy` is sent before
// a capability is dropped.
#pragma once

#include "threads.h"

#include <functional>

namespace peer {

struct Primitives {
    bool b = false;
    int8_t i8 = 0;
    int16_t i16 = 0;
    int32_t i32 = 0;
    int64_t i64 = 0;
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    float f32 = 0;
    double f64 = 0;
};

struct Point {
    int32_t x = 0;
    int32_t y = 0;
    std::string label;
    std::vector<std::string> tags;
    double weight = 0;
    bool hasWeight = false;
};

struct Pair {
    std::string key;
    int64_t value = 0;
    bool operator==(const Pair& o) const { return key == o.key && value == o.value; }
};

// The C++ side of `TestError` ($Proxy.exception("mphub::test::TestError")).
class DeclaredTestError : public std::runtime_error {
public:
    DeclaredTestError(int32_t code, std::string message)
        : std::runtime_error("TestError{" + std::to_string(code) + ", " + message + "}"), code(code),
          message(kj::mv(message))
    {
    }
    int32_t code;
    std::string message;
};

Primitives readPrimitives(msg::Primitives::Reader r);
void writePrimitives(msg::Primitives::Builder b, const Primitives& v);
Point readPoint(msg::Point::Reader r);
void writePoint(msg::Point::Builder b, const Point& v);
std::vector<Pair> readPairs(capnp::List<msg::Pair>::Reader r);
void writePairs(capnp::List<msg::Pair>::Builder b, const std::vector<Pair>& v);

// Calls a (peer-hosted) Callback.
int32_t invokeCallback(const CapRef<msg::Callback::Client>& cb, int32_t arg);

// A Callback we host: `call` runs `fn` on the thread the peer's context names (normally the
// thread of ours that is waiting for the call that led to this callback).
CapRef<msg::Callback::Client> hostCallback(const std::weak_ptr<Connection>& conn, std::function<int32_t(int32_t)> fn);

class CounterProxy {
public:
    CounterProxy() = default;
    explicit CounterProxy(CapRef<msg::Counter::Client> cap) : cap_(kj::mv(cap)) {}
    int64_t increment();
    int64_t get();
    // Sends destroy and drops the capability.
    void destroy();
    const CapRef<msg::Counter::Client>& cap() const { return cap_; }

private:
    CapRef<msg::Counter::Client> cap_;
};

// Which `context.thread` a raw call sends (hostile scenarios).
enum class RawThread { SelfHosted, Null };

class TesterProxy {
public:
    TesterProxy() = default;
    explicit TesterProxy(CapRef<msg::Tester::Client> cap) : cap_(kj::mv(cap)) {}
    const CapRef<msg::Tester::Client>& cap() const { return cap_; }

    Primitives passPrimitives(const Primitives& v);
    int64_t addInt64(int64_t a, int64_t b);
    std::string passText(const std::string& v);
    std::string passData(const std::string& v);
    std::optional<std::string> passOptionalData(const std::optional<std::string>& v);
    std::vector<int32_t> passInts(const std::vector<int32_t>& v);
    std::vector<std::string> passTexts(const std::vector<std::string>& v);
    std::vector<std::string> passDatas(const std::vector<std::string>& v);
    std::vector<Pair> passMap(const std::vector<Pair>& v);
    Point passPoint(const Point& v);
    std::optional<int32_t> maybeInt(bool want);
    // Returns (quotient, remainder field as received: meaningful only when wanted).
    std::pair<int32_t, int32_t> divide(int32_t a, int32_t b, bool wantRemainder);
    int32_t addInOut(int32_t x, int32_t sum);
    std::pair<std::string, std::string> split(const std::string& text, uint32_t at);
    void raise(int32_t code, const std::string& message);
    int32_t checkedDivide(int32_t a, int32_t b);
    void fail(const std::string& message);
    int32_t addNoContext(int32_t a, int32_t b);
    std::string sleepMs(uint32_t ms);
    std::string threadName();
    void appendLog(int32_t value);
    // Sends every appendLog at once from this thread, then waits for all of them.
    void appendLogPipelined(const std::vector<int32_t>& values);
    std::vector<int32_t> takeLog();
    int32_t callCallback(const CapRef<msg::Callback::Client>& cb, int32_t arg);
    void saveCallback(const CapRef<msg::Callback::Client>& cb);
    int32_t callSavedCallback(int32_t arg);
    int32_t recurse(const CapRef<msg::Callback::Client>& cb, int32_t depth);
    int64_t readCounter(const CounterProxy& counter);
    int32_t renamedMethod(int32_t value);
    int64_t liveCounters();
    void destroy();

    // addInt64 with a deliberately wrong context.thread.
    int64_t addInt64Raw(RawThread thread, int64_t a, int64_t b);

private:
    CapRef<msg::Tester::Client> cap_;
};

}  // namespace peer
