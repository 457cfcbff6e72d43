// mining-client SOCKET: connects to a bitcoin-node (or `mphub serve`) over IPC, detects
// its schema version, and runs a miner's round: the tip, a new block template on top of
// it, a solved block (regtest difficulty) submitted with submitSolution, and a wait for
// the next tip, which must be the submitted block. Each step prints one line; the first
// field is "ok" or "FAIL". Exit status 0 when every check held.
#include <mphub/core/node.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what)
{
    std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
    if (!ok) ++g_failures;
}

//! RPC hex of a 32-byte internal-order hash (reversed).
std::string rpc_hex(const std::vector<unsigned char>& hash)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto it = hash.rbegin(); it != hash.rend(); ++it) {
        out += digits[*it >> 4];
        out += digits[*it & 15];
    }
    return out;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::cerr << "usage: mining-client SOCKET\n";
        return 2;
    }
    try {
        auto node = mphub::core::Node::connect(argv[1]);
        try {
            node->version();
        } catch (const mphub::cxx::Error& e) {
            if (e.kind() != mphub::cxx::Error::Kind::Usage) throw;
            // Reachable, but not a schema this client speaks: say so, and that Echo works.
            std::cout << "FAIL " << e.what() << "\n";
            std::cout << "echo " << node->echo("mining-client") << "\n";
            return 1;
        }
        auto mining = node->mining();
        std::cout << "version " << mphub::core::versionName(node->version()) << "\n";
        check(node->echo("mining-client") == "mining-client", "Echo.echo returns its argument");
        check(mining->isTestChain(), "Mining.isTestChain: a test chain (regtest)");

        auto tip = mining->tip();
        check(tip.has_value() && tip->hash.size() == 32, "Mining.getTip returns a 32-byte hash");
        if (!tip) return 1;
        std::cout << "tip " << tip->height << " " << rpc_hex(tip->hash) << "\n";

        auto tmpl = mining->createNewBlock();
        const auto header = tmpl->header();
        check(header.size() == 80, "BlockTemplate.getBlockHeader is 80 bytes");
        check(std::vector<unsigned char>(header.begin() + 4, header.begin() + 36) == tip->hash,
              "the template's previous block is the tip");
        const auto cb = tmpl->coinbaseTx();
        check(cb.block_reward_remaining > 0, "CoinbaseTx.block_reward_remaining is positive");

        // Pay to OP_TRUE; the extranonce makes each run's block different.
        const auto solution = mphub::core::regtest::solve(*tmpl, {0x51}, static_cast<std::uint32_t>(std::time(nullptr)));
        const auto submitted = tmpl->submitSolution(solution.version, solution.timestamp, solution.nonce, solution.coinbase);
        check(submitted.accepted, "BlockTemplate.submitSolution accepts the solved block" +
                                      (submitted.accepted ? std::string() : ": " + submitted.reason + " " + submitted.debug));
        std::cout << "submitted " << (tip->height + 1) << " " << rpc_hex(solution.block_hash) << "\n";

        const auto next = mining->waitTipChanged(tip->hash, 10000);
        check(next.height == tip->height + 1, "Mining.waitTipChanged: the tip advanced by one block");
        check(next.hash == solution.block_hash, "Mining.waitTipChanged: the new tip is the submitted block");
        std::cout << "new-tip " << next.height << " " << rpc_hex(next.hash) << "\n";
    } catch (const std::exception& e) {
        std::cout << "FAIL " << e.what() << "\n";
        return 1;
    }
    std::cout << (g_failures == 0 ? "mining-client: all checks passed\n" : "mining-client: FAILED\n");
    return g_failures == 0 ? 0 : 1;
}
