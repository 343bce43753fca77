//! A [`StakeOracle`] that reads NodeRegistry: the node's account at the PDA
//! `["node", operator key]` and the registry's config (for the stake-tier table),
//! decoded with the chain SDK (owner and discriminator checked, so a look-alike
//! account from another program never counts as stake).
//!
//! The oracle needs only raw account reads ([`AccountSource`]); with the `chain-rpc`
//! feature [`cyxwiz_chain::client::ChainClient`] is one, otherwise the daemon adapts
//! whatever RPC client it holds. The rules mirror `NodeAccount::check_eligible`:
//! banned is final, a suspension counts until `suspended_until` (cluster time), an
//! unstaking node is leaving, and the tier is the highest row of `stake_tiers` whose
//! `min_stake` the stake meets.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use cyxwiz_chain::{
    Pubkey, pda,
    state::{self, NodeAccount, RegistryConfig},
};
use node_registry::{NodeStatus, RegistryParams};

use crate::{
    identity::NodeId,
    oracle::{OracleError, StakeOracle, StakeStatus, Standing},
};

/// Raw account reads, as any Solana RPC client offers them.
#[async_trait]
pub trait AccountSource: Send + Sync + 'static {
    /// The account's owner program and data, `None` if it does not exist.
    async fn account(&self, address: &Pubkey) -> Result<Option<(Pubkey, Vec<u8>)>, OracleError>;
    /// The cluster's unix time (suspensions end by the chain's clock, not ours).
    async fn unix_time(&self) -> Result<i64, OracleError>;
}

/// A shared source (the daemon keeps one RPC client for everything).
#[async_trait]
impl<S: AccountSource> AccountSource for std::sync::Arc<S> {
    async fn account(&self, address: &Pubkey) -> Result<Option<(Pubkey, Vec<u8>)>, OracleError> {
        (**self).account(address).await
    }

    async fn unix_time(&self) -> Result<i64, OracleError> {
        (**self).unix_time().await
    }
}

#[cfg(feature = "chain-rpc")]
#[async_trait]
impl AccountSource for cyxwiz_chain::client::ChainClient {
    async fn account(&self, address: &Pubkey) -> Result<Option<(Pubkey, Vec<u8>)>, OracleError> {
        self.raw_account(address)
            .await
            .map(|a| a.map(|a| (a.owner, a.data)))
            .map_err(|e| OracleError::Unavailable(e.to_string()))
    }

    async fn unix_time(&self) -> Result<i64, OracleError> {
        cyxwiz_chain::client::ChainClient::unix_time(self)
            .await
            .map_err(|e| OracleError::Unavailable(e.to_string()))
    }
}

/// What a NodeRegistry account means for admission at cluster time `now`.
pub fn status_from_account(node: &NodeAccount, params: &RegistryParams, now: i64) -> StakeStatus {
    let standing = match node.status {
        NodeStatus::Banned => Standing::Banned,
        NodeStatus::Suspended if now < node.suspended_until => Standing::Suspended,
        _ if node.is_unstaking() => Standing::Unstaking,
        _ => Standing::Active,
    };
    let tier = params
        .stake_tiers
        .iter()
        .rposition(|t| node.stake >= t.min_stake)
        .map(|i| i as u8);
    StakeStatus::Registered {
        standing,
        stake: node.stake,
        tier,
    }
}

/// The NodeRegistry-backed oracle. The registry parameters are re-read every
/// `params_ttl` (governance can change the tier table).
pub struct RegistryOracle<S> {
    source: S,
    params_ttl: Duration,
    params: Mutex<Option<(RegistryParams, Instant)>>,
}

impl<S: AccountSource> RegistryOracle<S> {
    pub fn new(source: S) -> Self {
        RegistryOracle {
            source,
            params_ttl: Duration::from_secs(600),
            params: Mutex::new(None),
        }
    }

    async fn params(&self) -> Result<RegistryParams, OracleError> {
        if let Some((p, at)) = *self.params.lock().expect("params lock")
            && at.elapsed() < self.params_ttl
        {
            return Ok(p);
        }
        let addr = pda::registry_config();
        let (owner, data) = self
            .source
            .account(&addr)
            .await?
            .ok_or_else(|| OracleError::Invalid(format!("registry config {addr} missing")))?;
        let cfg: RegistryConfig =
            state::decode(&addr, &owner, &data).map_err(|e| OracleError::Invalid(e.to_string()))?;
        *self.params.lock().expect("params lock") = Some((cfg.params, Instant::now()));
        Ok(cfg.params)
    }
}

#[async_trait]
impl<S: AccountSource> StakeOracle for RegistryOracle<S> {
    async fn stake_status(&self, node: &NodeId) -> Result<StakeStatus, OracleError> {
        let operator = Pubkey::new_from_array(node.0);
        let addr = pda::node(&operator);
        let Some((owner, data)) = self.source.account(&addr).await? else {
            return Ok(StakeStatus::Unregistered);
        };
        let acc: NodeAccount =
            state::decode(&addr, &owner, &data).map_err(|e| OracleError::Invalid(e.to_string()))?;
        if acc.owner != operator {
            return Err(OracleError::Invalid(format!(
                "node account {addr} belongs to {}, not {operator}",
                acc.owner
            )));
        }
        let params = self.params().await?;
        let now = self.source.unix_time().await?;
        Ok(status_from_account(&acc, &params, now))
    }
}
