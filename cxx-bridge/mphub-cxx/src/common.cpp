// mphub C++ bridge: implementation of <mphub/cxx/common.h>.
#include <mphub/cxx/common.h>
#include <mphub/cxx/detail/core.rs.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string_view>
#include <thread>

#include <sys/wait.h>

namespace mphub {
namespace cxx {

Server& Server::operator=(Server&& other) noexcept
{
    if (this != &other) {
        stop();
        m_impl = std::move(other.m_impl);
    }
    return *this;
}

void Server::stop() noexcept
{
    if (m_impl) m_impl->stop();
}

bool Server::wait(std::chrono::milliseconds timeout)
{
    if (!m_impl) return true;
    return m_impl->wait(timeout.count() < 0 ? 0 : static_cast<std::int64_t>(timeout.count()));
}

void Server::wait()
{
    if (m_impl) m_impl->wait(-1);
}

std::string Server::path() const
{
    return m_impl ? m_impl->path() : std::string();
}

Process& Process::operator=(Process&& other) noexcept
{
    if (this != &other) {
        kill();
        m_pid = std::exchange(other.m_pid, -1);
        m_status = std::exchange(other.m_status, std::nullopt);
    }
    return *this;
}

Process::~Process()
{
    if (m_pid > 0 && !m_status) {
        if (!wait(std::chrono::milliseconds(1000))) kill();
    }
}

static std::optional<int> decode_status(int status)
{
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return std::nullopt;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout)
{
    if (m_status || m_pid <= 0) return m_status;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
        if (r == m_pid) {
            if (auto s = decode_status(status)) {
                m_status = s;
                return m_status;
            }
        } else if (r < 0 && errno != EINTR) {
            // Not our child (any more): nothing to wait for.
            m_status = -1;
            return m_status;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void Process::kill() noexcept
{
    if (m_pid <= 0 || m_status) return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(m_pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    m_status = (r == m_pid) ? decode_status(status).value_or(-1) : -1;
}

bool onWorkerThread() noexcept
{
    return core::on_worker_thread();
}

void initLogging(const std::string& filter)
{
    try {
        core::init_logging(filter);
    } catch (const rust::Error& e) {
        detail::throw_error(e);
    }
}

namespace detail {

std::shared_lock<std::shared_mutex> Borrow::enter()
{
    std::shared_lock<std::shared_mutex> lock(m_mutex);
    if (!m_valid) {
        throw std::logic_error(
            "object passed by reference is no longer available: the call it was passed to has returned");
    }
    return lock;
}

void Borrow::revoke() noexcept
{
    std::unique_lock<std::shared_mutex> lock(m_mutex);
    m_valid = false;
}

BorrowScope::~BorrowScope()
{
    if (m_borrow) m_borrow->revoke();
}

std::shared_ptr<Borrow> BorrowScope::borrow()
{
    if (!m_borrow) m_borrow = std::make_shared<Borrow>();
    return m_borrow;
}

bool is_declared(const rust::Error& e, const char* type) noexcept
{
    const std::string_view what(e.what());
    const std::string_view prefix("[declared:");
    if (what.substr(0, prefix.size()) != prefix) return false;
    const std::string_view rest = what.substr(prefix.size());
    const std::size_t n = std::strlen(type);
    return rest.size() > n && rest.substr(0, n) == type && rest[n] == ']';
}

void throw_error(const rust::Error& e)
{
    const std::string_view what(e.what());
    Error::Kind kind = Error::Kind::Other;
    std::string_view message = what;
    if (!what.empty() && what.front() == '[') {
        const std::size_t close = what.find("] ");
        if (close != std::string_view::npos) {
            const std::string_view tag = what.substr(1, close - 1);
            message = what.substr(close + 2);
            if (tag == "disconnected") kind = Error::Kind::Disconnected;
            else if (tag == "remote") kind = Error::Kind::Remote;
            else if (tag == "unimplemented") kind = Error::Kind::Unimplemented;
            else if (tag == "malformed") kind = Error::Kind::Malformed;
            else if (tag == "io") kind = Error::Kind::Io;
            else if (tag == "timeout") kind = Error::Kind::Timeout;
            else if (tag == "usage") kind = Error::Kind::Usage;
            else if (tag == "panic") kind = Error::Kind::Panic;
            else if (tag.substr(0, 9) == "declared:") kind = Error::Kind::Remote;
        }
    }
    throw Error(kind, std::string(message));
}

void panic_for_test(const std::string& message)
{
    try {
        core::panic_for_test(message);
    } catch (const rust::Error& e) {
        throw_error(e);
    }
}

} // namespace detail
} // namespace cxx
} // namespace mphub
