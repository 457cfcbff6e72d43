// mphub: implementations of TestInit, Tester and Counter for the libmultiprocess peer.

#include "test_impl.h"

#include <mp/proxy-io.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mphub {
namespace test {
namespace {

std::atomic<int64_t> g_live_counters{0};

//! Two's-complement wrapping arithmetic (the reference server uses Rust's wrapping_*).
int32_t WrapAdd(int32_t a, int32_t b)
{
    return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

int32_t WrapDiv(int32_t a, int32_t b)
{
    if (b == -1) return static_cast<int32_t>(0u - static_cast<uint32_t>(a));
    return a / b;
}

int32_t WrapRem(int32_t a, int32_t b)
{
    if (b == -1) return 0;
    return a % b;
}

//! Name of the thread running the current request: for a request carrying a Context
//! this is the worker libmultiprocess created for the caller's Thread.
std::string CurrentThreadName()
{
    return mp::LongThreadName(kExeName);
}

class CounterImpl final : public Counter
{
public:
    explicit CounterImpl(int64_t start) : m_value(start) { ++g_live_counters; }
    ~CounterImpl() override { --g_live_counters; }
    CounterImpl(const CounterImpl&) = delete;
    CounterImpl& operator=(const CounterImpl&) = delete;

    int64_t increment() override { return ++m_value; }
    int64_t get() override { return m_value.load(); }

private:
    std::atomic<int64_t> m_value;
};

class TesterImpl final : public Tester
{
public:
    Primitives passPrimitives(const Primitives& arg) override { return arg; }

    int64_t addInt64(int64_t a, int64_t b) override
    {
        int64_t sum;
        if (__builtin_add_overflow(a, b, &sum)) throw std::overflow_error("integer overflow in addInt64");
        return sum;
    }

    std::string passText(const std::string& arg) override { return arg; }
    Bytes passData(const Bytes& arg) override { return arg; }
    std::optional<Bytes> passOptionalData(const std::optional<Bytes>& arg) override { return arg; }
    std::vector<int32_t> passInts(const std::vector<int32_t>& arg) override { return arg; }
    std::vector<std::string> passTexts(const std::vector<std::string>& arg) override { return arg; }
    std::vector<Bytes> passDatas(const std::vector<Bytes>& arg) override { return arg; }
    PairList passMap(const PairList& arg) override { return arg; }
    Point passPoint(const Point& arg) override { return arg; }

    std::optional<int32_t> maybeInt(bool want) override
    {
        if (want) return 42;
        return std::nullopt;
    }

    int32_t divide(int32_t a, int32_t b, int32_t* remainder) override
    {
        if (b == 0) throw std::domain_error("division by zero");
        if (remainder) *remainder = WrapRem(a, b);
        return WrapDiv(a, b);
    }

    void addInOut(int32_t x, int32_t& sum) override { sum = WrapAdd(sum, x); }

    void split(const std::string& text, uint32_t at, std::string& head, std::string& tail) override
    {
        const size_t cut = std::min<size_t>(at, text.size());
        head = text.substr(0, cut);
        tail = text.substr(cut);
    }

    void raise(int32_t code, const std::string& message) override { throw TestError{code, message}; }

    int32_t checkedDivide(int32_t a, int32_t b) override
    {
        if (b == 0) throw TestError{1, "division by zero"};
        return WrapDiv(a, b);
    }

    void fail(const std::string& message) override { throw std::runtime_error(message); }

    int32_t addNoContext(int32_t a, int32_t b) override { return WrapAdd(a, b); }

    std::string sleepMs(uint32_t ms) override
    {
        std::this_thread::sleep_for(std::chrono::milliseconds{ms});
        return CurrentThreadName();
    }

    std::string threadName() override { return CurrentThreadName(); }

    void appendLog(int32_t value) override
    {
        const std::lock_guard<std::mutex> lock{m_mutex};
        m_log.push_back(value);
    }

    std::vector<int32_t> takeLog() override
    {
        const std::lock_guard<std::mutex> lock{m_mutex};
        return std::exchange(m_log, {});
    }

    int32_t callCallback(IntFn callback, int32_t arg) override
    {
        if (!callback) throw std::invalid_argument("null callback");
        return callback(arg);
    }

    void saveCallback(IntFn callback) override
    {
        IntFn previous;
        {
            const std::lock_guard<std::mutex> lock{m_mutex};
            previous = std::exchange(m_saved, std::move(callback));
        }
        // `previous` (if any) is released here, outside the lock: dropping the last
        // reference to a client-hosted callback makes a `destroy` call to the client.
    }

    int32_t callSavedCallback(int32_t arg) override
    {
        IntFn callback;
        {
            const std::lock_guard<std::mutex> lock{m_mutex};
            callback = m_saved;
        }
        if (!callback) throw std::logic_error("no saved callback");
        // A fresh OS thread has no request in progress, so libmultiprocess has to make a
        // thread on the client's ThreadMap (from Init.construct) to call it.
        int32_t result{0};
        std::exception_ptr error;
        std::thread thread{[&] {
            try {
                result = callback(arg);
            } catch (...) {
                error = std::current_exception();
            }
        }};
        thread.join();
        if (error) std::rethrow_exception(error);
        return result;
    }

    int32_t recurse(IntFn callback, int32_t depth) override
    {
        if (depth <= 0) return 0;
        if (!callback) throw std::invalid_argument("null callback");
        return WrapAdd(callback(depth - 1), 1);
    }

    int64_t readCounter(Counter& counter) override { return counter.get(); }

    int32_t renamed_method(int32_t value) override { return WrapAdd(value, value); }

    int64_t liveCounters() override { return g_live_counters.load(); }

private:
    std::mutex m_mutex;
    std::vector<int32_t> m_log;
    IntFn m_saved;
};

class TestInitImpl final : public TestInit
{
public:
    std::unique_ptr<Tester> makeTester() override { return std::make_unique<TesterImpl>(); }
    std::unique_ptr<Counter> makeCounter(int64_t start) override { return std::make_unique<CounterImpl>(start); }
};

} // namespace

int64_t LiveCounters() { return g_live_counters.load(); }

std::unique_ptr<TestInit> MakeTestInit() { return std::make_unique<TestInitImpl>(); }

} // namespace test
} // namespace mphub
