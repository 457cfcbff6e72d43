// The corpus (schema/corpus): a Corpus server and the corpus client scenarios, written
// against Cap'n Proto C++'s own generated code and reflection. Against mphub's Rust peer
// this checks mphub's encoding of every construct with an independent implementation.
#pragma once

#include "client.h"

namespace peer {

// The bootstrap capability of `serve-corpus`.
capnp::Capability::Client makeCorpus(std::weak_ptr<Connection> conn);

// The scenario names, as the Rust corpus client has them.
std::vector<std::string> corpusScenarioNames();

// `client-corpus`: runs `names` (all when empty) against a Corpus server, printing
// `ok NAME` or `FAIL NAME: why` per scenario. Returns 0 when all passed, 1 otherwise,
// 2 for an unknown name.
int runCorpusClient(const Endpoint& endpoint, const std::vector<std::string>& names);

}  // namespace peer
