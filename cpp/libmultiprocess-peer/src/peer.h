// mphub: pieces shared by the client and server halves of the libmultiprocess peer.

#ifndef MPHUB_LIBMULTIPROCESS_PEER_PEER_H
#define MPHUB_LIBMULTIPROCESS_PEER_PEER_H

#include <mp/proxy-io.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mphub {
namespace peer {

//! Error raised by libmultiprocess on the calling thread (a Log::Raise message): a
//! failed call, or a call that could not complete because the connection is gone.
class IpcError : public std::runtime_error
{
public:
    explicit IpcError(const std::string& message) : std::runtime_error(message) {}
    //! libmultiprocess reports lost connections as "IPC client method call
    //! interrupted by disconnect." / "IPC client method called after disconnect.".
    bool disconnected() const;
};

//! Logging options for an EventLoop: Raise messages are thrown as IpcError; other
//! messages go to stderr only at or above the level named by the MPHUB_LOG environment
//! variable (trace, debug, info, warning, error). Default: silent, so a client's last
//! stderr line stays its verdict.
mp::LogOptions MakeLogOptions();

//! `serve --socket PATH`: listen on PATH (mode 0600) until SIGTERM/SIGINT.
int ServeSocket(const std::string& path);

//! `-ipcfd N`: serve the inherited socket N; return when the peer disconnects.
int ServeFd(int fd);

struct ClientOptions
{
    std::string socket_path;
    std::string spawn_bin;
    std::optional<int> server_pid;
    std::string scenario;
    std::string bench_kind;
    uint64_t calls{0};
    std::optional<uint64_t> warmup;
    //! Client threads (concurrent kinds) or remote threads (scale).
    uint64_t threads{1};
};

//! `client ...`: returns the process exit code (0 pass, 1 fail, 77 skip, 2 unknown).
int RunClient(const ClientOptions& options);

//! Names of all scenarios the client knows (doc/interop.md).
const std::vector<std::string>& ScenarioNames();

} // namespace peer
} // namespace mphub

#endif // MPHUB_LIBMULTIPROCESS_PEER_PEER_H
