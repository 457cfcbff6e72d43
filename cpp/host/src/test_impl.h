// The host's own C++ implementation of schema/test (mphub::test::TestInit and friends),
// served through the bridge's adapter. Same semantics as the Rust reference server
// (rust-proxies/mphub-test-peer/src/server.rs; doc/interop.md, "Server semantics").
#pragma once

#include <mphub/test/test.h>

#include <cstdint>
#include <memory>

namespace host {

//! A new C++ TestInit.
std::unique_ptr<mphub::test::TestInit> make_test_init();

//! Counters of this implementation alive in this process.
std::int64_t live_counters();

//! A name for the calling OS thread: "<prefix>-<tid>".
std::string this_thread_name(const char* prefix);

} // namespace host
