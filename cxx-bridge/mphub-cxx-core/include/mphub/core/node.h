// mphub::core: Bitcoin Core's IPC interfaces from C++, for either schema version.
//
// Node connects to a bitcoin-node's IPC socket (-ipcbind=unix) and detects its schema
// version the way mphub's Rust client does: Init.makeMining (@3 in both), then master's
// Mining.getTransactionsByTxID (@8) with an empty list, which a v31 node answers
// "unimplemented"; then v31's Mining.isTestChain, which a node built from Bitcoin Core
// PR #29409 (whose Init @3 is makeChain) does not answer either, so version() and mining()
// throw Error (kind Usage) naming that schema. Mining and Template then call the right
// schema, with the plain types below. The full generated API of each version stays
// available (<mphub/core/v31.h>, <mphub/core/master.h>; Node::v31Init()/masterInit()).
//
// Errors are mphub::cxx::Error (kind Disconnected, Remote, Unimplemented, ...). Objects
// are thread-safe for calls; destroying one releases the node-side object.
#pragma once

#include <mphub/core/master.h>
#include <mphub/core/v31.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mphub {
namespace core {

//! A Bitcoin Core IPC schema version mphub supports.
enum class Version { V31, Master };

//! "v31" or "master".
const char* versionName(Version version) noexcept;

//! A block by hash and height (Core's interfaces::BlockRef). `hash` is 32 bytes in
//! internal byte order (the reverse of RPC hex).
struct BlockRef {
    std::vector<unsigned char> hash;
    std::int32_t height{-1};
};

//! Options of Mining.createNewBlock (node::BlockCreateOptions), with Core's defaults.
struct CreateOptions {
    bool use_mempool{true};
    std::uint64_t block_reserved_weight{8000};
    std::uint64_t coinbase_output_max_additional_sigops{400};
};

//! What a miner needs to build the coinbase (node::CoinbaseTx).
struct CoinbaseTx {
    std::uint32_t version{0};
    std::uint32_t sequence{0};
    std::vector<unsigned char> script_sig_prefix;
    std::vector<unsigned char> witness;
    std::int64_t block_reward_remaining{0};
    std::vector<std::vector<unsigned char>> required_outputs;
    std::uint32_t lock_time{0};
};

//! Outcome of submitSolution. v31 gives only `accepted`; master adds reason and debug.
struct SubmitResult {
    bool accepted{false};
    std::string reason;
    std::string debug;
};

//! A block template (interfaces::BlockTemplate) of either version.
class Template
{
public:
    explicit Template(std::unique_ptr<v31::BlockTemplate> t) noexcept;
    explicit Template(std::unique_ptr<master::BlockTemplate> t) noexcept;
    //! The 80-byte header (merkle root of the template's dummy coinbase).
    std::vector<unsigned char> header();
    //! The whole serialized block.
    std::vector<unsigned char> block();
    CoinbaseTx coinbaseTx();
    //! 32-byte hashes, leaf level first.
    std::vector<std::vector<unsigned char>> coinbaseMerklePath();
    //! BlockTemplate.submitSolution (@7 on v31, @10 on master).
    SubmitResult submitSolution(std::uint32_t version, std::uint32_t timestamp, std::uint32_t nonce,
                                const std::vector<unsigned char>& coinbase);

private:
    std::unique_ptr<v31::BlockTemplate> m_v31;
    std::unique_ptr<master::BlockTemplate> m_master;
};

//! The Mining interface (interfaces::Mining) of either version.
class Mining
{
public:
    Mining(Version version, std::unique_ptr<v31::Mining> v31, std::unique_ptr<master::Mining> master) noexcept;
    Version version() const noexcept { return m_version; }
    bool isTestChain();
    //! The tip, or nullopt while the node has none.
    std::optional<BlockRef> tip();
    //! Waits until the tip differs from `current_hash` or `timeout_ms` passes; returns the
    //! tip then (the same one after a timeout).
    BlockRef waitTipChanged(const std::vector<unsigned char>& current_hash, double timeout_ms);
    std::unique_ptr<Template> createNewBlock(const CreateOptions& options = {});

private:
    Version m_version;
    std::unique_ptr<v31::Mining> m_v31;
    std::unique_ptr<master::Mining> m_master;
};

//! A connection to a bitcoin-node's IPC socket.
class Node
{
public:
    //! Connects (Init.construct). The version is detected by the first mining() call,
    //! or fixed with `version`.
    static std::unique_ptr<Node> connect(const std::string& socket_path,
                                         std::optional<Version> version = std::nullopt);
    //! The version in use (detects it if needed).
    Version version();
    //! Echo.echo through Init.makeEcho.
    std::string echo(const std::string& text);
    //! Init.makeMining, for the node's version.
    std::unique_ptr<Mining> mining();
    //! The generated API of the version in use (the other one is null).
    v31::RemoteInit* v31Init() noexcept { return m_v31.get(); }
    master::RemoteInit* masterInit() noexcept { return m_master.get(); }

private:
    Node(std::string socket_path, std::optional<Version> version);
    void detect();

    std::string m_socket_path;
    std::optional<Version> m_version;
    //! Why detection refused the node (PR #29409), thrown again by later calls.
    std::optional<std::string> m_refusal;
    std::unique_ptr<v31::RemoteInit> m_v31;
    std::unique_ptr<master::RemoteInit> m_master;
};

namespace regtest {
//! A solved block for Template::submitSolution.
struct Solution {
    std::uint32_t version{0};
    std::uint32_t timestamp{0};
    std::uint32_t nonce{0};
    std::vector<unsigned char> coinbase;
    //! 32 bytes, internal byte order.
    std::vector<unsigned char> block_hash;
};

//! Builds the template's coinbase paying the remaining reward to `payout_script`
//! (with `extranonce` after the height push), and grinds the header nonce. For
//! regtest-like difficulty only (a few tries); throws std::runtime_error on bad input.
Solution solve(Template& tmpl, const std::vector<unsigned char>& payout_script, std::uint32_t extranonce);
} // namespace regtest

} // namespace core
} // namespace mphub
