//! The Mining interface from before v31 (PR #29409 schema's `Init.makeMining @2`, as in
//! Core v29/v30) over the demo chain, so miners and wallets can share one demo node.
//!
//! Differences from the v31 servers: `createNewBlock` has no context and no cooldown;
//! `getCoinbaseTx` returns the template's dummy coinbase (serialized), with
//! `getCoinbaseCommitment` and `getWitnessCommitmentIndex` beside it; there is no
//! `interrupt`, `checkBlock` or `interruptWait`.

use mphub::{CallContext, Cap, Result};
use mphub_chain::{duration_from_millis_f64, BlockRef, CreateOptions, DemoChain};

use super::chain_error;
use crate::pr29409 as s;

/// `Mining` (Core's `MinerImpl` before v31).
pub(crate) struct Mining {
    pub(crate) chain: DemoChain,
}

fn block_ref(b: BlockRef) -> s::common::BlockRef {
    s::common::BlockRef {
        hash: b.hash.to_vec(),
        height: b.height,
    }
}

impl s::MiningServer for Mining {
    async fn is_test_chain(&self, _cx: &CallContext) -> Result<bool> {
        Ok(self.chain.is_test_chain())
    }

    async fn is_initial_block_download(&self, _cx: &CallContext) -> Result<bool> {
        Ok(self.chain.is_initial_block_download())
    }

    async fn get_tip(&self, _cx: &CallContext) -> Result<Option<s::common::BlockRef>> {
        Ok(Some(block_ref(self.chain.tip())))
    }

    async fn wait_tip_changed(
        &self,
        _cx: &CallContext,
        current_tip: Vec<u8>,
        timeout: f64,
    ) -> Result<Option<s::common::BlockRef>> {
        let current = super::hash32(&current_tip, "currentTip")?;
        let tip = self
            .chain
            .wait_tip_changed(current, duration_from_millis_f64(timeout))
            .await;
        Ok((!tip.is_null()).then(|| block_ref(tip)))
    }

    async fn create_new_block(
        &self,
        _cx: &CallContext,
        options: Option<s::BlockCreateOptions>,
    ) -> Result<Cap<s::BlockTemplateClient>> {
        // No schema defaults before v31: a null struct is all zeros, which Core's C++
        // struct defaults then fill; the demo uses Core's defaults for zero weights.
        let options = options.unwrap_or_default();
        let defaults = CreateOptions::default();
        let tmpl = self
            .chain
            .create_template(CreateOptions {
                use_mempool: options.use_mempool,
                block_reserved_weight: match options.block_reserved_weight {
                    0 => defaults.block_reserved_weight,
                    w => w,
                },
                coinbase_output_max_additional_sigops: match options
                    .coinbase_output_max_additional_sigops
                {
                    0 => defaults.coinbase_output_max_additional_sigops,
                    n => n,
                },
            })
            .map_err(chain_error)?;
        Ok(s::BlockTemplateServer::into_cap(Template {
            chain: self.chain.clone(),
            tmpl,
        }))
    }
}

/// `BlockTemplate` before v31.
struct Template {
    chain: DemoChain,
    tmpl: mphub_chain::Template,
}

impl s::BlockTemplateServer for Template {
    template_methods!();

    async fn get_coinbase_tx(&self, _cx: &CallContext) -> Result<Vec<u8>> {
        Ok(self.tmpl.dummy_coinbase())
    }

    async fn get_coinbase_commitment(&self, _cx: &CallContext) -> Result<Vec<u8>> {
        Ok(self.tmpl.witness_commitment_script())
    }

    async fn get_witness_commitment_index(&self, _cx: &CallContext) -> Result<i32> {
        Ok(self.tmpl.witness_commitment_index())
    }

    async fn submit_solution(
        &self,
        _cx: &CallContext,
        version: u32,
        timestamp: u32,
        nonce: u32,
        coinbase: Vec<u8>,
    ) -> Result<bool> {
        let r = self
            .chain
            .submit_solution(&self.tmpl, version, timestamp, nonce, &coinbase)
            .map_err(chain_error)?;
        Ok(r.accepted)
    }
}
