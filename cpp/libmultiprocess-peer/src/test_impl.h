// mphub: server-side implementations of the mphub::test interfaces with the semantics
// doc/interop.md prescribes (rust-proxies/mphub-test-peer/src/server.rs is the reference).

#ifndef MPHUB_LIBMULTIPROCESS_PEER_TEST_IMPL_H
#define MPHUB_LIBMULTIPROCESS_PEER_TEST_IMPL_H

#include <mphub/test/test.h>

#include <cstdint>
#include <memory>

namespace mphub {
namespace test {

//! Process name used in libmultiprocess thread names and log lines.
inline constexpr const char* kExeName = "mphub-cpp-libmultiprocess-peer";

//! Counters currently alive in this process (what Tester.liveCounters reports).
int64_t LiveCounters();

//! The bootstrap object served to every connection.
std::unique_ptr<TestInit> MakeTestInit();

} // namespace test
} // namespace mphub

#endif // MPHUB_LIBMULTIPROCESS_PEER_TEST_IMPL_H
