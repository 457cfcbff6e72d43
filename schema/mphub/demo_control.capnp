# mphub's own interface (not Bitcoin Core's): drives the chain of the demo node
# (`mphub serve`), served on a second socket beside the node socket (`<socket>.demo`).
# It does what a developer does to a regtest node with RPC (generate, invalidateblock,
# sendrawtransaction) so a client under test sees blocks, reorgs and mempool changes.
#
# Encodings as in Core's IPC: hashes are 32 bytes in internal order, transactions use the
# segwit serialization, amounts are Int64 satoshis.

@0xeaa23b5a3db804e6;

interface DemoControl {
    # Mines `blocks` blocks on the tip (mempool included); returns their hashes in order.
    mine @0 (blocks :UInt32) -> (hashes :List(Data));
    # Replaces the top `depth` blocks with `blocks` new coinbase-only blocks (the old
    # blocks' transactions go back to the mempool); returns the new blocks' hashes.
    reorg @1 (depth :UInt32, blocks :UInt32) -> (hashes :List(Data));
    # Adds a synthetic transaction paying `fee` satoshis; returns its txid.
    addTransaction @2 (fee :Int64) -> (txid :Data);
    # Offers a transaction to the mempool as broadcastTransaction does; `error` is Core's
    # reject text when `accepted` is false.
    sendTransaction @3 (tx :Data) -> (txid :Data, accepted :Bool, error :Text);
    # Height and hash of the tip.
    tip @4 () -> (height :Int32, hash :Data);
}
