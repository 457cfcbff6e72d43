// Shared includes and small helpers for the cpp-capnp peer.
//
// This peer reproduces libmultiprocess's conventions (Context/Thread/ThreadMap, construct,
// destroy, declared exceptions) on plain Cap'n Proto C++ RPC, without libmultiprocess itself.
#pragma once

#include <capnp/capability.h>
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async.h>
#include <kj/debug.h>
#include <kj/exception.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <bitcoin/master/echo.capnp.h>
#include <bitcoin/master/init.capnp.h>
#include <mp/proxy.capnp.h>
#include <test/test.capnp.h>

namespace peer {

namespace msg = mphub::test::messages;
namespace btc = ipc::capnp::messages;

// Placeholder result for jobs that return nothing (the cross-thread machinery wants a value).
struct Done {};

// Process name used in thread names, as libmultiprocess does: "<exe>-<pid>".
void setExeName(const std::string& argv0);
const std::string& exeName();
std::string processLabel();  // "<exe>-<pid>"
std::string currentThreadLabel();  // "<exe>-<pid>/<pthread name>-<tid>"

// Debug logging to stderr, enabled by a non-empty MPHUB_LOG (the variable the Rust peer uses).
bool logEnabled();
void logLine(const std::string& line);
#define PEER_LOG(expr)                                                                 \
    do {                                                                              \
        if (::peer::logEnabled()) {                                                   \
            ::peer::logLine(std::string() + expr);                                    \
        }                                                                             \
    } while (0)

// The failure libmultiprocess reports for a C++ exception escaping a server method: kj turns
// std::exception into "std::exception: <what()>", and peers match on that text.
kj::Exception failure(const std::string& what);

// Text is not UTF-8 checked by libmultiprocess; keep it as raw bytes.
inline std::string toString(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }
inline std::string toString(capnp::Data::Reader d)
{
    return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}
// std::string keeps a NUL after its bytes, which Text::Reader requires.
inline capnp::Text::Reader asText(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }
inline capnp::Data::Reader asData(const std::string& s)
{
    return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

}  // namespace peer
