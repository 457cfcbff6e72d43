// mphub: server role of the libmultiprocess peer (`serve --socket PATH`, `-ipcfd N`).

#include "peer.h"
#include "test_impl.h"

#include <mphub/test/test.capnp.h>
#include <mphub/test/test.capnp.proxy.h>

#include <mp/proxy-io.h>
#include <mp/util.h>

#include <cerrno>
#include <fcntl.h>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <pthread.h>
#include <string>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace mphub {
namespace peer {
namespace {

using InitInterface = mphub::test::messages::TestInit;

//! Create a listening unix socket at `path` with mode 0600, replacing a stale socket
//! file. Returns -1 after printing the reason.
int ListenUnix(const std::string& path)
{
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path)) {
        std::cerr << "socket path too long: " << path << std::endl;
        return -1;
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

    // Same rule as mphub::bind_unix: servers serialise on an advisory lock of the folder,
    // a socket file that answers belongs to a running server, only a refused one is stale.
    const std::string::size_type slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 || ::flock(dir_fd, LOCK_EX) != 0) {
        std::cerr << "locking " << dir << ": " << std::strerror(errno) << std::endl;
        if (dir_fd >= 0) ::close(dir_fd);
        return -1;
    }
    struct DirLock {
        int fd;
        ~DirLock() { ::close(fd); }
    } dir_lock{dir_fd};

    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        const bool answers = probe >= 0 &&
            (::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 || errno == EAGAIN);
        if (probe >= 0) ::close(probe);
        if (answers) {
            std::cerr << path << " is in use by a running server" << std::endl;
            return -1;
        }
        ::unlink(path.c_str());
    }

    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        std::cerr << "socket: " << std::strerror(errno) << std::endl;
        return -1;
    }
    // Create the socket file with no group/other permissions from the start.
    const mode_t old_mask = ::umask(0177);
    const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    const int bind_errno = errno;
    ::umask(old_mask);
    if (bound != 0) {
        std::cerr << "bind " << path << ": " << std::strerror(bind_errno) << std::endl;
        ::close(fd);
        return -1;
    }
    ::chmod(path.c_str(), 0600);
    if (::listen(fd, 64) != 0) {
        std::cerr << "listen " << path << ": " << std::strerror(errno) << std::endl;
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace

int ServeSocket(const std::string& path)
{
    ::signal(SIGPIPE, SIG_IGN);
    // SIGTERM/SIGINT are taken by a dedicated thread (blocked everywhere else, which
    // every thread started later inherits).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    const int fd = ListenUnix(path);
    if (fd < 0) return 1;

    std::thread([stop_signals, path] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        // Connections may still be open and their worker threads busy; a test server
        // has no state worth flushing, so leave without tearing the event loop down.
        ::unlink(path.c_str());
        std::_Exit(0);
    }).detach();

    const std::unique_ptr<mphub::test::TestInit> init = mphub::test::MakeTestInit();
    mp::EventLoop loop(mphub::test::kExeName, MakeLogOptions());
    // ListenConnections holds no reference on the loop: without this one, loop() would
    // return as soon as the last connection closed.
    mp::EventLoopRef keep_running{loop};
    mp::ListenConnections<InitInterface>(loop, fd, *init);
    loop.loop();
    return 0;
}

int ServeFd(int fd)
{
    ::signal(SIGPIPE, SIG_IGN);
    const std::unique_ptr<mphub::test::TestInit> init = mphub::test::MakeTestInit();
    mp::EventLoop loop(mphub::test::kExeName, MakeLogOptions());
    mp::ServeStream<InitInterface>(loop, mp::MakeStream(loop, fd), *init);
    // Returns once the parent has disconnected and every server object is gone.
    loop.loop();
    return 0;
}

} // namespace peer
} // namespace mphub
