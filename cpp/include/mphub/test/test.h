// mphub: C++ interfaces named by the $Proxy.wrap annotations of schema/test/test.capnp.
//
// mpgen maps every capnp method to a member function of these classes (ProxyClient<X>
// derives from the class and overrides each method; ProxyServer<X> calls into an
// implementation of it). The argument lists follow libmultiprocess's mapping rules:
//  - `context` and `threadMap` fields are not C++ arguments;
//  - a result field named `result` is the return value, other result-only fields are
//    out-parameters (`T&`), a name present in params and results is in/out (`T&`);
//  - `hasX` makes X a std::optional, `wantX` makes out-parameter X a nullable `T*`;
//  - a result field carrying `$Proxy.exception("T")` is not an argument: the server
//    throws T and the client rethrows it;
//  - `construct` and `destroy` map to no member function;
//  - `$Proxy.name("n")` renames the member (renamedMethod -> renamed_method).
// Arguments appear in params order followed by result-only fields.

#ifndef MPHUB_TEST_TEST_H
#define MPHUB_TEST_TEST_H

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mphub {
namespace test {

//! Byte string carried in capnp `Data` fields.
using Bytes = std::vector<unsigned char>;

//! Client-implemented function object carried by the capnp `Callback` interface
//! (wrapped as ProxyCallback<std::function<int32_t(int32_t)>>).
using IntFn = std::function<int32_t(int32_t)>;

//! Ordered key/value list carried as `List(Pair)`. A vector of pairs rather than a
//! std::map so that entries keep the order the caller sent them in (the interop
//! contract's `map` scenario checks order).
using PairList = std::vector<std::pair<std::string, int64_t>>;

//! capnp struct Primitives: one member per schema field, same names.
struct Primitives
{
    bool b{false};
    int8_t i8{0};
    int16_t i16{0};
    int32_t i32{0};
    int64_t i64{0};
    uint8_t u8{0};
    uint16_t u16{0};
    uint32_t u32{0};
    uint64_t u64{0};
    float f32{0};
    double f64{0};
};

//! capnp struct Point. `hasWeight` is folded into the optional `weight`.
struct Point
{
    int32_t x{0};
    int32_t y{0};
    std::string label;
    std::vector<std::string> tags;
    std::optional<double> weight;
};

//! Declared error of `raise` and `checkedDivide` (capnp struct TestError). Thrown by
//! servers and rethrown by clients as this type; members match the schema fields.
struct TestError : std::exception
{
    TestError() = default;
    TestError(int32_t code_, std::string message_) : code(code_), message(std::move(message_)) {}
    const char* what() const noexcept override { return message.c_str(); }

    int32_t code{0};
    std::string message;
};

class Counter
{
public:
    virtual ~Counter() = default;
    virtual int64_t increment() = 0;
    virtual int64_t get() = 0;
};

class Tester
{
public:
    virtual ~Tester() = default;
    virtual Primitives passPrimitives(const Primitives& arg) = 0;
    virtual int64_t addInt64(int64_t a, int64_t b) = 0;
    virtual std::string passText(const std::string& arg) = 0;
    virtual Bytes passData(const Bytes& arg) = 0;
    virtual std::optional<Bytes> passOptionalData(const std::optional<Bytes>& arg) = 0;
    virtual std::vector<int32_t> passInts(const std::vector<int32_t>& arg) = 0;
    virtual std::vector<std::string> passTexts(const std::vector<std::string>& arg) = 0;
    virtual std::vector<Bytes> passDatas(const std::vector<Bytes>& arg) = 0;
    virtual PairList passMap(const PairList& arg) = 0;
    virtual Point passPoint(const Point& arg) = 0;
    virtual std::optional<int32_t> maybeInt(bool want) = 0;
    //! `remainder` is null when the caller does not want it (wantRemainder = false).
    virtual int32_t divide(int32_t a, int32_t b, int32_t* remainder) = 0;
    virtual void addInOut(int32_t x, int32_t& sum) = 0;
    virtual void split(const std::string& text, uint32_t at, std::string& head, std::string& tail) = 0;
    //! Always throws TestError{code, message}.
    virtual void raise(int32_t code, const std::string& message) = 0;
    //! Throws TestError{1, "division by zero"} when b == 0.
    virtual int32_t checkedDivide(int32_t a, int32_t b) = 0;
    //! Always throws a generic exception whose text contains `message`.
    virtual void fail(const std::string& message) = 0;
    virtual int32_t addNoContext(int32_t a, int32_t b) = 0;
    virtual std::string sleepMs(uint32_t ms) = 0;
    virtual std::string threadName() = 0;
    virtual void appendLog(int32_t value) = 0;
    virtual std::vector<int32_t> takeLog() = 0;
    virtual int32_t callCallback(IntFn callback, int32_t arg) = 0;
    virtual void saveCallback(IntFn callback) = 0;
    virtual int32_t callSavedCallback(int32_t arg) = 0;
    virtual int32_t recurse(IntFn callback, int32_t depth) = 0;
    virtual int64_t readCounter(Counter& counter) = 0;
    //! Schema name renamedMethod, C++ name renamed_method ($Proxy.name). mpgen makes the
    //! server call renamed_method but names the generated client proxy's method after
    //! the capnp method (renamedMethod). The two forward to each other so that both the
    //! proxy (which overrides renamedMethod) and implementations (which override
    //! renamed_method) can be called by the C++ name; an implementation must override
    //! at least one of them.
    virtual int32_t renamed_method(int32_t value) { return renamedMethod(value); }
    virtual int32_t renamedMethod(int32_t value) { return renamed_method(value); }
    virtual int64_t liveCounters() = 0;
};

class TestInit
{
public:
    virtual ~TestInit() = default;
    virtual std::unique_ptr<Tester> makeTester() = 0;
    virtual std::unique_ptr<Counter> makeCounter(int64_t start) = 0;
};

} // namespace test
} // namespace mphub

#endif // MPHUB_TEST_TEST_H

// Where mpgen's generated code for schema/test is on the include path, also pull in the
// adjustments its ProxyClient classes need before they are defined; see test-mpgen.h.
#if defined(__has_include)
#if __has_include(<mphub/test/test.capnp.proxy.h>) && __has_include(<mp/proxy.h>)
#include <mphub/test/test-mpgen.h>
#endif
#endif
