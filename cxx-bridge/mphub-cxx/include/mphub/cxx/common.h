// mphub C++ bridge: the schema-independent part of the C++ API.
//
// Generated headers (e.g. <mphub/cxx/test.h>) add, per wrapped interface X, the classes
// RemoteX and XCap and the functions serve/serveFd/embed/connectX/connectXFd/spawnX.
// Threading and ownership rules: doc/cxx-bridge.md.
#pragma once

#include "rust/cxx.h"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

// cxx: every C++ exception (not only std::exception) becomes a Rust error at the
// boundary instead of terminating the process.
namespace rust {
namespace behavior {
template <typename Try, typename Fail>
static void trycatch(Try&& func, Fail&& fail) noexcept
try {
    func();
} catch (const std::exception& e) {
    fail(e.what());
} catch (...) {
    fail("unknown C++ exception (not derived from std::exception)");
}
} // namespace behavior
} // namespace rust

namespace mphub {
namespace cxx {

//! An IPC failure, with the Rust runtime's message as what().
class Error : public std::runtime_error
{
public:
    enum class Kind {
        Disconnected,  //!< the connection is gone (peer exited, server stopped)
        Remote,        //!< the peer ran the call and it failed (its text)
        Unimplemented, //!< the peer does not implement the method
        Malformed,     //!< the peer sent bad data
        Io,            //!< local I/O (connect, bind, spawn)
        Timeout,       //!< no answer in the time allowed (the server may still run the call)
        Usage,         //!< misuse (bad path, null object, oversize message)
        Panic,         //!< a Rust panic, caught at the boundary
        Other,
    };
    Error(Kind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}
    Kind kind() const noexcept { return m_kind; }
    bool disconnected() const noexcept { return m_kind == Kind::Disconnected; }

private:
    Kind m_kind;
};

//! A running server (a unix-socket listener, or one connection). Destroying it stops
//! it: no new connections, every connection closed, served C++ objects released;
//! bounded (at most about 1 s even while C++ methods are still running).
class Server
{
public:
    class Impl
    {
    public:
        virtual ~Impl() = default;
        virtual void stop() noexcept = 0;
        virtual bool wait(std::int64_t timeout_ms) = 0;
        virtual std::string path() const = 0;
    };
    Server() = default;
    explicit Server(std::unique_ptr<Impl> impl) noexcept : m_impl(std::move(impl)) {}
    Server(Server&&) noexcept = default;
    Server& operator=(Server&& other) noexcept;
    ~Server() { stop(); }

    //! Stops serving (idempotent, bounded).
    void stop() noexcept;
    //! Waits until the server has finished: stopped, or, for serveFd, the peer left.
    //! Returns false on timeout.
    bool wait(std::chrono::milliseconds timeout);
    //! Waits without limit.
    void wait();
    //! The socket path (empty for fd servers).
    std::string path() const;
    explicit operator bool() const noexcept { return m_impl != nullptr; }

private:
    std::unique_ptr<Impl> m_impl;
};

//! A child process (from spawnX). Destroying it waits up to 1 s for the child to exit,
//! then kills it (SIGKILL) and reaps it.
class Process
{
public:
    Process() = default;
    explicit Process(pid_t pid) noexcept : m_pid(pid) {}
    Process(Process&& other) noexcept : m_pid(std::exchange(other.m_pid, -1)) {}
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    pid_t pid() const noexcept { return m_pid; }
    //! SIGKILL and reap (no-op after the child was reaped).
    void kill() noexcept;
    //! Waits for the child to exit; its exit code, or 128 + signal; nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);

private:
    pid_t m_pid{-1};
    std::optional<int> m_status;
};

//! A spawned server process and the client connected to it. The client is destroyed
//! first (so the child sees the disconnect and exits), then the process is reaped.
template <class R>
struct Spawned {
    Process process;
    std::unique_ptr<R> client;
};

//! A server in this process and the client connected to it over a socketpair. The
//! client is destroyed first, then the server stops.
template <class R>
struct Embedded {
    Server server;
    std::unique_ptr<R> client;
};

//! A struct field whose struct holds itself (`next :Tree` inside `Tree`, directly or
//! through other structs): like std::optional<T>, but usable while T is incomplete.
//! Copies copy the value (deep); empty means the field is null on the wire.
template <class T>
class Boxed
{
public:
    Boxed() noexcept = default;
    Boxed(std::nullopt_t) noexcept {}
    Boxed(T value) : m_ptr(std::make_unique<T>(std::move(value))) {}
    Boxed(const Boxed& other) : m_ptr(other.m_ptr ? std::make_unique<T>(*other.m_ptr) : nullptr) {}
    Boxed(Boxed&&) noexcept = default;
    Boxed& operator=(const Boxed& other)
    {
        if (this != &other) m_ptr = other.m_ptr ? std::make_unique<T>(*other.m_ptr) : nullptr;
        return *this;
    }
    Boxed& operator=(Boxed&&) noexcept = default;
    ~Boxed() = default;

    bool has_value() const noexcept { return m_ptr != nullptr; }
    explicit operator bool() const noexcept { return has_value(); }
    T& operator*() { return *m_ptr; }
    const T& operator*() const { return *m_ptr; }
    T* operator->() { return m_ptr.get(); }
    const T* operator->() const { return m_ptr.get(); }
    T& emplace(T value)
    {
        m_ptr = std::make_unique<T>(std::move(value));
        return *m_ptr;
    }
    void reset() noexcept { m_ptr.reset(); }
    friend bool operator==(const Boxed& a, const Boxed& b)
    {
        if (!a.m_ptr || !b.m_ptr) return !a.m_ptr && !b.m_ptr;
        return *a.m_ptr == *b.m_ptr;
    }
    friend bool operator!=(const Boxed& a, const Boxed& b) { return !(a == b); }

private:
    std::unique_ptr<T> m_ptr;
};

//! An `AnyPointer` value (or a generic parameter left unbound), as an opaque copy:
//! `message` is a serialized Cap'n Proto message (standard framing) whose root pointer
//! is the value, empty for null. It round-trips unchanged; capabilities inside cannot
//! be carried. Build one with Cap'n Proto's own serializer if you need to.
struct AnyValue {
    std::vector<unsigned char> message;
    bool isNull() const noexcept { return message.empty(); }
    friend bool operator==(const AnyValue& a, const AnyValue& b) { return a.message == b.message; }
    friend bool operator!=(const AnyValue& a, const AnyValue& b) { return !(a == b); }
};

//! True on a thread the bridge runs C++ server methods and callbacks on.
bool onWorkerThread() noexcept;

//! Logs the runtime's `tracing` output to stderr: `filter` (e.g. "ipc=debug"), or the
//! MPHUB_LOG environment variable when empty. Throws Error on a bad filter.
void initLogging(const std::string& filter = std::string());

namespace detail {

inline rust::Vec<std::uint8_t> to_rust_bytes(const std::string& s)
{
    rust::Vec<std::uint8_t> v;
    v.reserve(s.size());
    for (char c : s) v.push_back(static_cast<std::uint8_t>(c));
    return v;
}
inline rust::Vec<std::uint8_t> to_rust_bytes(const std::vector<unsigned char>& s)
{
    rust::Vec<std::uint8_t> v;
    v.reserve(s.size());
    for (unsigned char c : s) v.push_back(c);
    return v;
}
inline rust::Slice<const std::uint8_t> to_rust_slice(const std::string& s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline rust::Slice<const std::uint8_t> to_rust_slice(const std::vector<unsigned char>& s)
{
    return {s.data(), s.size()};
}
inline std::string to_std_string(rust::Slice<const std::uint8_t> s)
{
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}
inline std::string to_std_string(const rust::Vec<std::uint8_t>& s)
{
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}
inline std::vector<unsigned char> to_std_bytes(rust::Slice<const std::uint8_t> s)
{
    return std::vector<unsigned char>(s.begin(), s.end());
}
inline std::vector<unsigned char> to_std_bytes(const rust::Vec<std::uint8_t>& s)
{
    return std::vector<unsigned char>(s.begin(), s.end());
}
template <class T>
rust::Vec<T> to_rust_vec(const std::vector<T>& s)
{
    rust::Vec<T> v;
    v.reserve(s.size());
    for (const T& x : s) v.push_back(x);
    return v;
}
template <class T>
std::vector<T> to_std_vector(const rust::Vec<T>& s)
{
    return std::vector<T>(s.begin(), s.end());
}

//! Validity of a C++ object passed by reference (`X&` argument) to a remote call: the
//! peer may call it while the call runs; afterwards calls fail instead of touching a
//! dangling reference (revoke() waits for calls in progress).
class Borrow
{
public:
    std::shared_lock<std::shared_mutex> enter();
    void revoke() noexcept;

private:
    std::shared_mutex m_mutex;
    bool m_valid{true};
};

//! Revokes the borrows made for one call when the call returns.
class BorrowScope
{
public:
    BorrowScope() = default;
    BorrowScope(const BorrowScope&) = delete;
    BorrowScope& operator=(const BorrowScope&) = delete;
    ~BorrowScope();
    std::shared_ptr<Borrow> borrow();

private:
    std::shared_ptr<Borrow> m_borrow;
};

//! A C++ object served by the Rust runtime: owned, or borrowed for one call.
template <class T>
class Holder
{
public:
    explicit Holder(std::unique_ptr<T> owned) : m_owned(std::move(owned)), m_ptr(m_owned.get()) {}
    //! Shared with C++ (an object held in a struct field or a list).
    explicit Holder(std::shared_ptr<T> shared) : m_owned(std::move(shared)), m_ptr(m_owned.get()) {}
    Holder(T& borrowed, std::shared_ptr<Borrow> borrow) : m_ptr(&borrowed), m_borrow(std::move(borrow)) {}
    template <class F>
    decltype(auto) with(F&& f) const
    {
        if (!m_borrow) return f(*m_ptr);
        auto lock = m_borrow->enter();
        return f(*m_ptr);
    }

private:
    std::shared_ptr<T> m_owned;
    T* m_ptr;
    std::shared_ptr<Borrow> m_borrow;
};

//! Thrown by generated glue after a declared exception was stashed for the Rust side.
class DeclaredThrown : public std::exception
{
public:
    explicit DeclaredThrown(const std::string& type) : m_what("mphub-cxx-declared:" + type) {}
    const char* what() const noexcept override { return m_what.c_str(); }

private:
    std::string m_what;
};

//! True when `e` carries declared exception type `type` (its value waits in a slot).
bool is_declared(const rust::Error& e, const char* type) noexcept;
//! Throws the mphub::cxx::Error described by `e` ("[kind] message").
[[noreturn]] void throw_error(const rust::Error& e);
//! Test hook: panics in Rust with `message`; throws the resulting Error (kind Panic).
void panic_for_test(const std::string& message);

} // namespace detail
} // namespace cxx
} // namespace mphub
