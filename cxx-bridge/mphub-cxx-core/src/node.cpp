// The version-independent facade over the generated v31 and master clients.
#include <mphub/core/node.h>
#include <mphub/core/regtest.rs.h>

#include <stdexcept>
#include <utility>

namespace mphub {
namespace core {
namespace {

template <class R>
BlockRef plain(const R& r)
{
    return BlockRef{r.hash, r.height};
}

template <class C>
CoinbaseTx plain_coinbase(const C& c)
{
    return CoinbaseTx{c.version, c.sequence, c.script_sig_prefix, c.witness, c.block_reward_remaining,
                      c.required_outputs, c.lock_time};
}

template <class O>
O create_options(const CreateOptions& o)
{
    O r;
    r.use_mempool = o.use_mempool;
    r.block_reserved_weight = o.block_reserved_weight;
    r.coinbase_output_max_additional_sigops = o.coinbase_output_max_additional_sigops;
    return r;
}

std::runtime_error null_result(const char* what)
{
    return std::runtime_error(std::string(what) + " returned null: the node is shutting down");
}

} // namespace

const char* versionName(Version version) noexcept
{
    return version == Version::V31 ? "v31" : "master";
}

Template::Template(std::unique_ptr<v31::BlockTemplate> t) noexcept : m_v31(std::move(t)) {}
Template::Template(std::unique_ptr<master::BlockTemplate> t) noexcept : m_master(std::move(t)) {}

std::vector<unsigned char> Template::header()
{
    return m_v31 ? m_v31->getBlockHeader() : m_master->getBlockHeader();
}

std::vector<unsigned char> Template::block()
{
    return m_v31 ? m_v31->getBlock() : m_master->getBlock();
}

CoinbaseTx Template::coinbaseTx()
{
    return m_v31 ? plain_coinbase(m_v31->getCoinbaseTx()) : plain_coinbase(m_master->getCoinbaseTx());
}

std::vector<std::vector<unsigned char>> Template::coinbaseMerklePath()
{
    return m_v31 ? m_v31->getCoinbaseMerklePath() : m_master->getCoinbaseMerklePath();
}

SubmitResult Template::submitSolution(std::uint32_t version, std::uint32_t timestamp, std::uint32_t nonce,
                                      const std::vector<unsigned char>& coinbase)
{
    SubmitResult r;
    if (m_v31) {
        r.accepted = m_v31->submitSolution(version, timestamp, nonce, coinbase);
    } else {
        r.accepted = m_master->submitSolution(version, timestamp, nonce, coinbase, r.reason, r.debug);
    }
    return r;
}

Mining::Mining(Version version, std::unique_ptr<v31::Mining> v31, std::unique_ptr<master::Mining> master) noexcept
    : m_version(version), m_v31(std::move(v31)), m_master(std::move(master))
{
}

bool Mining::isTestChain()
{
    return m_v31 ? m_v31->isTestChain() : m_master->isTestChain();
}

std::optional<BlockRef> Mining::tip()
{
    if (m_v31) {
        auto t = m_v31->getTip();
        return t ? std::optional<BlockRef>(plain(*t)) : std::nullopt;
    }
    auto t = m_master->getTip();
    return t ? std::optional<BlockRef>(plain(*t)) : std::nullopt;
}

BlockRef Mining::waitTipChanged(const std::vector<unsigned char>& current_hash, double timeout_ms)
{
    return m_v31 ? plain(m_v31->waitTipChanged(current_hash, timeout_ms))
                 : plain(m_master->waitTipChanged(current_hash, timeout_ms));
}

std::unique_ptr<Template> Mining::createNewBlock(const CreateOptions& options)
{
    if (m_v31) {
        auto t = m_v31->createNewBlock(create_options<v31::BlockCreateOptions>(options), true);
        if (!t) throw null_result("Mining.createNewBlock");
        return std::make_unique<Template>(std::move(t));
    }
    auto t = m_master->createNewBlock(create_options<master::BlockCreateOptions>(options), true);
    if (!t) throw null_result("Mining.createNewBlock");
    return std::make_unique<Template>(std::move(t));
}

Node::Node(std::string socket_path, std::optional<Version> version)
    : m_socket_path(std::move(socket_path)), m_version(version)
{
    if (m_version == Version::V31) {
        m_v31 = v31::connectInit(m_socket_path);
    } else {
        // Master's Init is a superset of v31's for construct, makeEcho and makeMining,
        // so it is used until a call shows the node is v31.
        m_master = master::connectInit(m_socket_path);
    }
}

std::unique_ptr<Node> Node::connect(const std::string& socket_path, std::optional<Version> version)
{
    return std::unique_ptr<Node>(new Node(socket_path, version));
}

void Node::detect()
{
    if (m_version) return;
    if (m_refusal) throw mphub::cxx::Error(mphub::cxx::Error::Kind::Usage, *m_refusal);
    {
        auto mining = m_master->makeMining();
        if (!mining) throw null_result("Init.makeMining");
        try {
            mining->getTransactionsByTxID({});
            m_version = Version::Master;
            return;
        } catch (const mphub::cxx::Error& e) {
            if (e.kind() != mphub::cxx::Error::Kind::Unimplemented) throw;
        }
    }
    // v31, or a node built from PR #29409, whose Init @3 is makeChain: ask v31's
    // Mining.isTestChain on a new connection; a Chain does not answer it either. The
    // master connection stays until v31 is confirmed, so a failure here leaves this Node
    // as it was (Echo still works).
    auto v31_init = v31::connectInit(m_socket_path);
    auto v31_mining = v31_init->makeMining();
    if (!v31_mining) throw null_result("Init.makeMining");
    try {
        v31_mining->isTestChain();
    } catch (const mphub::cxx::Error& e) {
        if (e.kind() != mphub::cxx::Error::Kind::Unimplemented) throw;
        m_refusal = "this node speaks the PR #29409 schema (Init.makeChain at @3, Mining from "
                     "before v31); mphub::core::Node needs a v31 or master node, so use mphub's "
                     "Rust client (mphub_bitcoin::client::Node::chain) for its Chain";
        throw mphub::cxx::Error(mphub::cxx::Error::Kind::Usage, *m_refusal);
    }
    v31_mining.reset();
    m_master.reset();
    m_v31 = std::move(v31_init);
    m_version = Version::V31;
}

Version Node::version()
{
    detect();
    return *m_version;
}

std::string Node::echo(const std::string& text)
{
    if (m_v31) {
        auto echo = m_v31->makeEcho();
        if (!echo) throw null_result("Init.makeEcho");
        return echo->echo(text);
    }
    auto echo = m_master->makeEcho();
    if (!echo) throw null_result("Init.makeEcho");
    return echo->echo(text);
}

std::unique_ptr<Mining> Node::mining()
{
    detect();
    if (m_v31) {
        auto m = m_v31->makeMining();
        if (!m) throw null_result("Init.makeMining");
        return std::make_unique<Mining>(Version::V31, std::move(m), nullptr);
    }
    auto m = m_master->makeMining();
    if (!m) throw null_result("Init.makeMining");
    return std::make_unique<Mining>(Version::Master, nullptr, std::move(m));
}

namespace regtest {

Solution solve(Template& tmpl, const std::vector<unsigned char>& payout_script, std::uint32_t extranonce)
{
    const std::vector<unsigned char> header = tmpl.header();
    const CoinbaseTx cb = tmpl.coinbaseTx();
    std::vector<unsigned char> path;
    for (const auto& h : tmpl.coinbaseMerklePath()) path.insert(path.end(), h.begin(), h.end());
    std::vector<unsigned char> outputs;
    std::vector<std::uint32_t> sizes;
    for (const auto& o : cb.required_outputs) {
        outputs.insert(outputs.end(), o.begin(), o.end());
        sizes.push_back(static_cast<std::uint32_t>(o.size()));
    }
    auto slice = [](const std::vector<unsigned char>& v) {
        return ::rust::Slice<const std::uint8_t>(v.data(), v.size());
    };
    ffi::CoinbasePieces pieces{cb.version,
                               cb.sequence,
                               slice(cb.script_sig_prefix),
                               slice(cb.witness),
                               cb.block_reward_remaining,
                               slice(outputs),
                               ::rust::Slice<const std::uint32_t>(sizes.data(), sizes.size()),
                               cb.lock_time};
    ffi::SolvedBlock solved = [&] {
        try {
            return ffi::solve(slice(header), pieces, slice(path), slice(payout_script), extranonce);
        } catch (const ::rust::Error& e) {
            throw std::runtime_error(std::string("regtest::solve: ") + e.what());
        }
    }();
    return Solution{solved.version, solved.timestamp, solved.nonce,
                    std::vector<unsigned char>(solved.coinbase.begin(), solved.coinbase.end()),
                    std::vector<unsigned char>(solved.block_hash.begin(), solved.block_hash.end())};
}

} // namespace regtest
} // namespace core
} // namespace mphub
