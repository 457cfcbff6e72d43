// Server side: the schema/test implementation (doc/interop.md, "Server semantics") and
// Bitcoin Core's Echo, served like libmultiprocess serves them.
#pragma once

#include "threads.h"

namespace peer {

// The bootstrap capability for a new connection.
capnp::Capability::Client makeTestInit(std::weak_ptr<Connection> conn);
capnp::Capability::Client makeEchoInit(std::weak_ptr<Connection> conn);

using BootstrapFactory = capnp::Capability::Client (*)(std::weak_ptr<Connection>);

// `serve --socket PATH`: listens until SIGTERM/SIGINT. Returns the exit code.
int serveSocket(const std::string& path, BootstrapFactory bootstrap);
// `-ipcfd N`: serves the one connection on fd N; returns 0 when the peer disconnects.
int serveFd(int fd, BootstrapFactory bootstrap);

}  // namespace peer
