#include "test_impl.h"

#include <mphub/cxx/common.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

namespace host {
namespace {

std::atomic<std::int64_t> g_live_counters{0};

template <class T>
T wrapping_add(T a, T b)
{
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}

template <class T>
T wrapping_div(T a, T b)
{
    if (a == std::numeric_limits<T>::min() && b == -1) return a;
    return a / b;
}

template <class T>
T wrapping_rem(T a, T b)
{
    if (a == std::numeric_limits<T>::min() && b == -1) return 0;
    return a % b;
}

class CounterImpl final : public mphub::test::Counter
{
public:
    explicit CounterImpl(std::int64_t start) : m_value(start) { ++g_live_counters; }
    ~CounterImpl() override { --g_live_counters; }
    std::int64_t increment() override { return ++m_value; }
    std::int64_t get() override { return m_value.load(); }

private:
    std::atomic<std::int64_t> m_value;
};

class TesterImpl final : public mphub::test::Tester
{
public:
    mphub::test::Primitives passPrimitives(const mphub::test::Primitives& arg) override { return arg; }
    std::int64_t addInt64(std::int64_t a, std::int64_t b) override
    {
        std::int64_t r;
        if (__builtin_add_overflow(a, b, &r)) throw std::runtime_error("integer overflow in addInt64");
        return r;
    }
    std::string passText(const std::string& arg) override { return arg; }
    mphub::test::Bytes passData(const mphub::test::Bytes& arg) override { return arg; }
    std::optional<mphub::test::Bytes> passOptionalData(const std::optional<mphub::test::Bytes>& arg) override { return arg; }
    std::vector<std::int32_t> passInts(const std::vector<std::int32_t>& arg) override { return arg; }
    std::vector<std::string> passTexts(const std::vector<std::string>& arg) override { return arg; }
    std::vector<mphub::test::Bytes> passDatas(const std::vector<mphub::test::Bytes>& arg) override { return arg; }
    mphub::test::PairList passMap(const mphub::test::PairList& arg) override { return arg; }
    mphub::test::Point passPoint(const mphub::test::Point& arg) override { return arg; }
    std::optional<std::int32_t> maybeInt(bool want) override
    {
        if (want) return 42;
        return std::nullopt;
    }
    std::int32_t divide(std::int32_t a, std::int32_t b, std::int32_t* remainder) override
    {
        if (b == 0) throw std::runtime_error("division by zero");
        if (remainder) *remainder = wrapping_rem(a, b);
        return wrapping_div(a, b);
    }
    void addInOut(std::int32_t x, std::int32_t& sum) override { sum = wrapping_add(sum, x); }
    void split(const std::string& text, std::uint32_t at, std::string& head, std::string& tail) override
    {
        const std::size_t cut = std::min<std::size_t>(at, text.size());
        head = text.substr(0, cut);
        tail = text.substr(cut);
    }
    void raise(std::int32_t code, const std::string& message) override { throw mphub::test::TestError(code, message); }
    std::int32_t checkedDivide(std::int32_t a, std::int32_t b) override
    {
        if (b == 0) throw mphub::test::TestError(1, "division by zero");
        return wrapping_div(a, b);
    }
    void fail(const std::string& message) override { throw std::runtime_error(message); }
    std::int32_t addNoContext(std::int32_t a, std::int32_t b) override { return wrapping_add(a, b); }
    std::string sleepMs(std::uint32_t ms) override
    {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return this_thread_name("cpp-worker");
    }
    std::string threadName() override { return this_thread_name("cpp-worker"); }
    void appendLog(std::int32_t value) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_log.push_back(value);
    }
    std::vector<std::int32_t> takeLog() override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return std::exchange(m_log, {});
    }
    std::int32_t callCallback(mphub::test::IntFn callback, std::int32_t arg) override
    {
        if (!callback) throw std::runtime_error("null callback");
        return callback(arg);
    }
    void saveCallback(mphub::test::IntFn callback) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_saved = std::move(callback);
    }
    std::int32_t callSavedCallback(std::int32_t arg) override
    {
        mphub::test::IntFn cb;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            cb = m_saved;
        }
        if (!cb) throw std::runtime_error("no saved callback");
        // From a fresh thread, outside this request.
        std::int32_t result = 0;
        std::exception_ptr error;
        std::thread([&] {
            try {
                result = cb(arg);
            } catch (...) {
                error = std::current_exception();
            }
        }).join();
        if (error) std::rethrow_exception(error);
        return result;
    }
    std::int32_t recurse(mphub::test::IntFn callback, std::int32_t depth) override
    {
        if (depth <= 0) return 0;
        if (!callback) throw std::runtime_error("null callback");
        return wrapping_add(callback(depth - 1), 1);
    }
    std::int64_t readCounter(mphub::test::Counter& counter) override { return counter.get(); }
    std::int32_t renamed_method(std::int32_t value) override { return wrapping_add(value, value); }
    std::int64_t liveCounters() override { return g_live_counters.load(); }

private:
    std::mutex m_mutex;
    std::vector<std::int32_t> m_log;
    mphub::test::IntFn m_saved;
};

class TestInitImpl final : public mphub::test::TestInit
{
public:
    std::unique_ptr<mphub::test::Tester> makeTester() override { return std::make_unique<TesterImpl>(); }
    std::unique_ptr<mphub::test::Counter> makeCounter(std::int64_t start) override
    {
        return std::make_unique<CounterImpl>(start);
    }
};

} // namespace

std::unique_ptr<mphub::test::TestInit> make_test_init()
{
    return std::make_unique<TestInitImpl>();
}

std::int64_t live_counters()
{
    return g_live_counters.load();
}

std::string this_thread_name(const char* prefix)
{
    return std::string(prefix) + "-" + std::to_string(static_cast<long>(::syscall(SYS_gettid)));
}

} // namespace host
