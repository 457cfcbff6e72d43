#include "common.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace peer {

namespace {
std::string g_exe = "mphub-cpp-capnp-peer";
std::mutex g_logMutex;
}  // namespace

void setExeName(const std::string& argv0)
{
    auto slash = argv0.rfind('/');
    g_exe = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
}

const std::string& exeName() { return g_exe; }

std::string processLabel() { return g_exe + "-" + std::to_string(getpid()); }

std::string currentThreadLabel()
{
    // libmultiprocess names threads "<exe>-<pid>/<pthread name>-<tid>"; a new thread inherits
    // its creator's pthread name, i.e. normally the (truncated) executable name.
    char name[32] = {0};
    if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0 || name[0] == 0) {
        snprintf(name, sizeof(name), "%s", g_exe.c_str());
    }
    return processLabel() + "/" + name + "-" + std::to_string(static_cast<long>(syscall(SYS_gettid)));
}

bool logEnabled()
{
    static const bool enabled = [] {
        const char* v = std::getenv("MPHUB_LOG");
        return v != nullptr && v[0] != 0;
    }();
    return enabled;
}

void logLine(const std::string& line)
{
    std::lock_guard<std::mutex> lock(g_logMutex);
    fprintf(stderr, "{%s} %s\n", currentThreadLabel().c_str(), line.c_str());
}

kj::Exception failure(const std::string& what)
{
    std::string text = "std::exception: " + what;
    return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::heapString(text.data(), text.size()));
}

}  // namespace peer
