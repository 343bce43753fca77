//! The chain gateway: everything the coordinator reads from or sends to Solana.
//!
//! Reads: the programs' rules (stake tiers, heartbeat age, tier caps), node standing,
//! escrows and the chain clock. Writes, each safe to retry: `assign_node` (the program
//! checks the escrow's state, so a resend cannot assign twice), `timeout_refund` (the
//! escrow must still be open), `init_node_reputation` (account creation) and reputation
//! `batch_update` (the program applies a batch id at most once). Program events arrive
//! through [`Gateway::subscribe`].

use std::sync::Arc;

use cyxwiz_chain::{
    Addresses, ChainError, Pubkey,
    client::{ChainClient, Outcome},
    events::ProgramEvent,
    ids, ix, pda,
    pubsub::{EventSubscription, ReconnectPolicy},
    state::{
        self, Escrow, EscrowState, NodeAccount, NodeReputation, RegistryConfig, ReputationConfig,
    },
};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signature::Signature;
use solana_signer::Signer;

use crate::{
    scheduler::ChainRules,
    store::{ChainNode, ChainStatus, UpdateRow},
    types::JobId,
};

/// Accounts fetched per `getMultipleAccounts` call (the RPC limit is 100).
const MULTI_FETCH: usize = 100;

/// What an escrow must look like for a job.
#[derive(Debug, Clone)]
pub struct EscrowExpectation {
    pub job: JobId,
    pub user: Pubkey,
    pub amount: u64,
    pub epochs: u32,
    /// The escrow must stay open at least until then (chain seconds).
    pub min_timeout_at: i64,
    /// The node the job is reserved for (an escrow already assigned to it is fine).
    pub node: Pubkey,
}

/// Why an escrow was not accepted. Each is the client's fault and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscrowRejection {
    #[error("transaction {0} not found on chain (not sent, not confirmed yet, or forged)")]
    TransactionNotFound(String),
    #[error("transaction {0} failed on chain")]
    TransactionFailed(String),
    #[error("transaction {0} did not create the escrow of job {1}")]
    NotThisJobsEscrow(String, String),
    #[error("no escrow account exists for job {0}")]
    EscrowMissing(String),
    #[error("escrow is funded by {found}, not by the submitting wallet {expected}")]
    WrongUser { found: String, expected: String },
    #[error("escrow holds mint {found}, not CYXWIZ ({expected})")]
    WrongMint { found: String, expected: String },
    #[error("escrow amount {found} does not match the quoted price {expected}")]
    WrongAmount { found: u64, expected: u64 },
    #[error("escrow requires {found} epochs, the job has {expected}")]
    WrongEpochs { found: u32, expected: u32 },
    #[error("escrow is {0:?}, not open for assignment")]
    WrongState(EscrowState),
    #[error("escrow times out at {found}, before the job could finish ({needed})")]
    TimeoutTooSoon { found: i64, needed: i64 },
    #[error("escrow is already assigned to another node")]
    AssignedElsewhere,
}

/// Escrow verification failed: the escrow is wrong, or the chain could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Rejected(#[from] EscrowRejection),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// A verified escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEscrow {
    pub escrow: Pubkey,
    pub timeout_at: i64,
    /// Already assigned to the reserved node (a retried confirmation).
    pub already_assigned: bool,
}

/// What happened to a timed-out escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeoutOutcome {
    /// Refunded by this call.
    Refunded { signature: String, slashed: bool },
    /// Not due yet (chain time before `timeout_at`).
    NotDue { timeout_at: i64 },
    /// Already settled (by anyone): nothing to send.
    AlreadySettled(EscrowState),
    /// No escrow account (closed or never created).
    Missing,
}

/// Result of submitting a reputation batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    Applied(String),
    /// The program had applied this batch id before (an earlier attempt landed).
    AlreadyApplied,
}

/// The gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    client: ChainClient,
    updater: Arc<Keypair>,
    addresses: Addresses,
    ws_url: String,
    commitment: CommitmentConfig,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("rpc", &self.client.url())
            .field("coordinator", &self.client.payer().pubkey())
            .field("updater", &self.updater.pubkey())
            .finish()
    }
}

impl Gateway {
    /// Connects to `rpc_url` and reads the deployment's addresses.
    pub async fn connect(
        rpc_url: &str,
        ws_url: &str,
        coordinator: Keypair,
        updater: Keypair,
        commitment: CommitmentConfig,
    ) -> Result<Gateway, ChainError> {
        let client = ChainClient::new(rpc_url, coordinator, commitment)?;
        let addresses = client.load_addresses().await?;
        Ok(Gateway {
            client,
            updater: Arc::new(updater),
            addresses,
            ws_url: ws_url.to_string(),
            commitment,
        })
    }

    pub fn client(&self) -> &ChainClient {
        &self.client
    }

    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    pub fn coordinator(&self) -> Pubkey {
        self.client.payer().pubkey()
    }

    /// The programs' rules the scheduler applies off chain, so it only proposes nodes
    /// `assign_node` will accept.
    pub async fn rules(&self) -> Result<(ChainRules, ReputationConfig), ChainError> {
        let registry: RegistryConfig = self.client.account(&pda::registry_config()).await?;
        let reputation: ReputationConfig = self.client.account(&pda::reputation_config()).await?;
        let p = &registry.params;
        Ok((
            ChainRules {
                stake_tiers: p
                    .stake_tiers
                    .iter()
                    .map(|t| (t.max_job_amount, t.min_stake))
                    .collect(),
                heartbeat_max_age_secs: p.heartbeat_max_age_secs,
                tier_max_job_amount: reputation.params.tier_max_job_amount,
            },
            reputation,
        ))
    }

    pub async fn chain_time(&self) -> Result<i64, ChainError> {
        self.client.unix_time().await
    }

    /// The standing of the nodes of `owners`, in order.
    pub async fn node_views(
        &self,
        owners: &[Pubkey],
        reputation: &ReputationConfig,
        now_secs: i64,
        synced_at_ms: i64,
    ) -> Result<Vec<ChainNode>, ChainError> {
        let mut out = Vec::with_capacity(owners.len());
        for chunk in owners.chunks(MULTI_FETCH / 2) {
            let keys: Vec<Pubkey> = chunk
                .iter()
                .flat_map(|o| [pda::node(o), pda::node_reputation(o)])
                .collect();
            let accounts = self
                .client
                .rpc()
                .get_multiple_accounts_with_commitment(&keys, self.commitment)
                .await
                .map_err(|e| self.client.rpc_err(e))?
                .value;
            for (i, _) in chunk.iter().enumerate() {
                let (node_key, rep_key) = (keys[2 * i], keys[2 * i + 1]);
                let node = match accounts.get(2 * i).and_then(|a| a.as_ref()) {
                    Some(a) => Some(state::decode::<NodeAccount>(&node_key, &a.owner, &a.data)?),
                    None => None,
                };
                let rep = match accounts.get(2 * i + 1).and_then(|a| a.as_ref()) {
                    Some(a) => Some(state::decode::<NodeReputation>(
                        &rep_key, &a.owner, &a.data,
                    )?),
                    None => None,
                };
                out.push(chain_node(
                    node.as_ref(),
                    rep.as_ref(),
                    reputation,
                    now_secs,
                    synced_at_ms,
                ));
            }
        }
        Ok(out)
    }

    /// Creates the node's ReputationManager account if it has none (the coordinator pays
    /// the rent), so batches and tier checks can name it.
    pub async fn ensure_node_reputation(&self, owner: &Pubkey) -> Result<(), ChainError> {
        let address = pda::node_reputation(owner);
        if self.client.raw_account(&address).await?.is_some() {
            return Ok(());
        }
        let ixs = [ix::reputation::init_node_reputation(
            &self.coordinator(),
            owner,
        )];
        let check = move |c: ChainClient| -> cyxwiz_chain::client::AppliedFuture {
            Box::pin(async move { Ok(c.raw_account(&address).await?.is_some()) })
        };
        match self.client.send_idempotent(&ixs, &[], &check).await {
            Ok(_) => Ok(()),
            // Created concurrently by another replica.
            Err(_) if self.client.raw_account(&address).await?.is_some() => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn escrow(&self, job: &JobId) -> Result<Option<Escrow>, ChainError> {
        self.client.try_account(&pda::escrow(&job.0)).await
    }

    /// The successful transactions that touched job `job`'s escrow, oldest first, with
    /// the events each emitted (at most the latest `limit`). Lets reconciliation replay
    /// what the event stream missed.
    pub async fn escrow_history(
        &self,
        job: &JobId,
        limit: usize,
    ) -> Result<Vec<(Signature, Vec<ProgramEvent>)>, ChainError> {
        use solana_rpc_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
        let address = pda::escrow(&job.0);
        let sigs = self
            .client
            .rpc()
            .get_signatures_for_address_with_config(
                &address,
                GetConfirmedSignaturesForAddress2Config {
                    limit: Some(limit),
                    commitment: Some(self.commitment),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.client.rpc_err(e))?;
        let mut out = Vec::with_capacity(sigs.len());
        for s in sigs.iter().rev().filter(|s| s.err.is_none()) {
            let Ok(sig) = s.signature.parse::<Signature>() else {
                continue;
            };
            out.push((sig, self.client.transaction(&sig).await?.events));
        }
        Ok(out)
    }

    /// Checks that `signature` is a successful transaction that created job `e.job`'s
    /// escrow, and that the escrow is exactly what the quote asked for.
    pub async fn verify_escrow(
        &self,
        e: &EscrowExpectation,
        signature: &str,
    ) -> Result<VerifiedEscrow, VerifyError> {
        let sig: Signature = signature
            .parse()
            .map_err(|_| EscrowRejection::TransactionNotFound(signature.to_string()))?;
        let status = self
            .client
            .rpc()
            .get_signature_status_with_commitment_and_history(&sig, self.commitment, true)
            .await
            .map_err(|err| self.client.rpc_err(err))?;
        match status {
            None => return Err(EscrowRejection::TransactionNotFound(signature.to_string()).into()),
            Some(Err(_)) => {
                return Err(EscrowRejection::TransactionFailed(signature.to_string()).into());
            }
            Some(Ok(())) => {}
        }
        let sent = self.client.transaction(&sig).await?;
        let created_here = sent
            .events
            .iter()
            .any(|ev| matches!(ev, ProgramEvent::EscrowCreated(c) if c.job_id == e.job.0));
        if !created_here {
            return Err(
                EscrowRejection::NotThisJobsEscrow(signature.to_string(), e.job.hex()).into(),
            );
        }
        let address = pda::escrow(&e.job.0);
        let escrow: Escrow = self
            .client
            .try_account(&address)
            .await?
            .ok_or_else(|| EscrowRejection::EscrowMissing(e.job.hex()))?;
        check_escrow(&escrow, e, &self.addresses.mint)?;
        Ok(VerifiedEscrow {
            escrow: address,
            timeout_at: escrow.timeout_at,
            already_assigned: escrow.state == EscrowState::Assigned && escrow.node == e.node,
        })
    }

    /// Commits `node` to job `job` on chain (`assign_node`); returns the signature, or
    /// `None` if the escrow was already assigned to `node`.
    pub async fn assign(&self, job: &JobId, node: &Pubkey) -> Result<Option<String>, ChainError> {
        if let Some(escrow) = self.escrow(job).await?
            && escrow.state == EscrowState::Assigned
            && escrow.node == *node
        {
            return Ok(None);
        }
        let ixs = [ix::escrow::assign_node(&self.coordinator(), job.0, node)];
        let sent = self.client.send(&ixs, &[]).await?;
        Ok(Some(sent.signature.to_string()))
    }

    /// Refunds job `job` if its escrow has timed out and is still open: `timeout_refund`
    /// before acceptance, `timeout_refund_with_slash` after.
    pub async fn timeout_refund(&self, job: &JobId) -> Result<TimeoutOutcome, ChainError> {
        let Some(escrow) = self.escrow(job).await? else {
            return Ok(TimeoutOutcome::Missing);
        };
        if escrow.state.is_terminal() || escrow.state == EscrowState::Disputed {
            return Ok(TimeoutOutcome::AlreadySettled(escrow.state));
        }
        let now = self.chain_time().await?;
        if now < escrow.timeout_at {
            return Ok(TimeoutOutcome::NotDue {
                timeout_at: escrow.timeout_at,
            });
        }
        let user_token = self.refund_account(&escrow.user).await?;
        let slashed = escrow.state == EscrowState::InProgress;
        let ixs = [if slashed {
            ix::escrow::timeout_refund_with_slash(
                &self.addresses,
                &self.coordinator(),
                job.0,
                &escrow.node,
                &user_token,
            )
        } else {
            ix::escrow::timeout_refund(&self.addresses, &self.coordinator(), job.0, &user_token)
        }];
        let address = pda::escrow(&job.0);
        let check = move |c: ChainClient| -> cyxwiz_chain::client::AppliedFuture {
            Box::pin(async move {
                Ok(match c.try_account::<Escrow>(&address).await? {
                    Some(e) => e.state.is_terminal(),
                    None => true,
                })
            })
        };
        match self.client.send_idempotent(&ixs, &[], &check).await? {
            Outcome::Landed(sent) => Ok(TimeoutOutcome::Refunded {
                signature: sent.signature.to_string(),
                slashed,
            }),
            Outcome::AlreadyApplied => Ok(TimeoutOutcome::AlreadySettled(EscrowState::TimedOut)),
        }
    }

    /// The user's CYXWIZ token account that refunds go to: the largest one they own.
    async fn refund_account(&self, user: &Pubkey) -> Result<Pubkey, ChainError> {
        self.client
            .token_accounts(user, &self.addresses.mint)
            .await?
            .into_iter()
            .next()
            .ok_or(ChainError::AccountNotFound(*user))
    }

    /// Applies `updates` as reputation batch `batch_id`. Safe to call again with the
    /// same id and updates: the program applies an id once.
    pub async fn submit_batch(
        &self,
        batch_id: u64,
        updates: &[UpdateRow],
    ) -> Result<BatchOutcome, ChainError> {
        let (owners, entries) = batch_entries(updates).map_err(ChainError::Signing)?;
        let ixs = [ix::reputation::batch_update(
            &self.updater.pubkey(),
            batch_id,
            &owners,
            entries,
        )];
        match self.client.send(&ixs, &[&self.updater]).await {
            Ok(sent) => Ok(BatchOutcome::Applied(sent.signature.to_string())),
            Err(e) if e.program_error_name() == Some("BatchAlreadyApplied") => {
                Ok(BatchOutcome::AlreadyApplied)
            }
            Err(e) => Err(e),
        }
    }

    /// A subscription to the events of JobEscrow, NodeRegistry and ReputationManager.
    pub async fn subscribe(&self) -> Result<EventSubscription, ChainError> {
        EventSubscription::start(
            &self.ws_url,
            &[ids::JOB_ESCROW, ids::NODE_REGISTRY, ids::REPUTATION],
            self.commitment,
            ReconnectPolicy::default(),
        )
        .await
    }
}

/// The batch's distinct node owners (in first-seen order) and its updates indexing them.
pub fn batch_entries(
    updates: &[UpdateRow],
) -> Result<(Vec<Pubkey>, Vec<reputation_manager::ReputationUpdate>), String> {
    let mut owners: Vec<Pubkey> = Vec::new();
    let mut entries = Vec::with_capacity(updates.len());
    for u in updates {
        let owner: Pubkey = u
            .node_owner
            .parse()
            .map_err(|_| format!("bad node owner {}", u.node_owner))?;
        let index = match owners.iter().position(|o| *o == owner) {
            Some(i) => i,
            None => {
                owners.push(owner);
                owners.len() - 1
            }
        };
        entries.push(reputation_manager::ReputationUpdate {
            node_index: u8::try_from(index)
                .map_err(|_| "more than 256 nodes in one batch".to_string())?,
            kind: u.kind.to_chain(),
        });
    }
    Ok((owners, entries))
}

/// Estimated size of a legacy `batch_update` transaction (docs/BENCHMARKS.md: ≈ 320
/// bytes fixed, 43 per distinct node, 10 per `Completed` or `Uptime` update and 2 per
/// other update), with a margin.
pub fn estimated_batch_bytes(updates: &[UpdateRow]) -> usize {
    let mut owners: Vec<&str> = Vec::new();
    let mut bytes = 330;
    for u in updates {
        if !owners.contains(&u.node_owner.as_str()) {
            owners.push(&u.node_owner);
            bytes += 33;
        }
        bytes += match u.kind {
            crate::store::UpdateKind::Completed { .. }
            | crate::store::UpdateKind::Uptime { .. } => 10,
            _ => 2,
        };
    }
    bytes
}

/// Solana's packet limit.
pub const PACKET_LIMIT: usize = 1_232;

fn check_escrow(
    escrow: &Escrow,
    e: &EscrowExpectation,
    mint: &Pubkey,
) -> Result<(), EscrowRejection> {
    if escrow.job_id != e.job.0 {
        return Err(EscrowRejection::EscrowMissing(e.job.hex()));
    }
    if escrow.user != e.user {
        return Err(EscrowRejection::WrongUser {
            found: escrow.user.to_string(),
            expected: e.user.to_string(),
        });
    }
    if escrow.mint != *mint {
        return Err(EscrowRejection::WrongMint {
            found: escrow.mint.to_string(),
            expected: mint.to_string(),
        });
    }
    if escrow.amount != e.amount {
        return Err(EscrowRejection::WrongAmount {
            found: escrow.amount,
            expected: e.amount,
        });
    }
    if escrow.epochs_required != e.epochs {
        return Err(EscrowRejection::WrongEpochs {
            found: escrow.epochs_required,
            expected: e.epochs,
        });
    }
    match escrow.state {
        EscrowState::Locked => {}
        EscrowState::Assigned if escrow.node == e.node => {}
        EscrowState::Assigned => return Err(EscrowRejection::AssignedElsewhere),
        other => return Err(EscrowRejection::WrongState(other)),
    }
    if escrow.timeout_at < e.min_timeout_at {
        return Err(EscrowRejection::TimeoutTooSoon {
            found: escrow.timeout_at,
            needed: e.min_timeout_at,
        });
    }
    Ok(())
}

fn chain_node(
    node: Option<&NodeAccount>,
    rep: Option<&NodeReputation>,
    reputation: &ReputationConfig,
    now_secs: i64,
    synced_at: i64,
) -> ChainNode {
    let Some(n) = node else {
        return ChainNode {
            stake: 0,
            status: ChainStatus::Missing,
            heartbeat_secs: 0,
            reputation: 0,
            tier: 0,
            synced_at,
        };
    };
    use node_registry::NodeStatus;
    let status = match n.status {
        NodeStatus::Banned => ChainStatus::Banned,
        NodeStatus::Suspended if now_secs < n.suspended_until => ChainStatus::Suspended,
        _ if n.unstake_requested_at != 0 => ChainStatus::Unstaking,
        _ => ChainStatus::Active,
    };
    let score = rep.map(|r| r.score).unwrap_or(0);
    ChainNode {
        stake: n.stake,
        status,
        heartbeat_secs: n.last_heartbeat,
        reputation: score,
        tier: reputation.params.tier_for(score).index() as u8,
        synced_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UpdateKind;

    fn row(owner: &Pubkey, kind: UpdateKind) -> UpdateRow {
        UpdateRow {
            id: 0,
            node_owner: owner.to_string(),
            kind,
            batch_id: None,
            created_at: 0,
        }
    }

    fn escrow(user: Pubkey, mint: Pubkey, node: Pubkey) -> (Escrow, EscrowExpectation) {
        let job = JobId([4; 16]);
        let e = Escrow {
            job_id: job.0,
            user,
            mint,
            amount: 1_000,
            epochs_required: 10,
            node: Pubkey::default(),
            state: EscrowState::Locked,
            created_at: 0,
            timeout_at: 10_000,
            assigned_at: 0,
            accepted_at: 0,
            finished_at: 0,
            epochs_done: 0,
            merkle_root: [0; 32],
            last_checkpoint_at: 0,
            final_weights_hash: [0; 32],
            rated: false,
            bump: 0,
            vault_bump: 0,
            assigned_by_user: false,
            estimated_secs: 600,
            challenge_until: 0,
            stake_released: false,
            challenged: false,
        };
        let x = EscrowExpectation {
            job,
            user,
            amount: 1_000,
            epochs: 10,
            min_timeout_at: 5_000,
            node,
        };
        (e, x)
    }

    #[test]
    fn an_escrow_must_match_the_quote_in_every_field() {
        let (user, mint, node) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let (good, x) = escrow(user, mint, node);
        assert_eq!(check_escrow(&good, &x, &mint), Ok(()));
        let other = Pubkey::new_unique();
        type Mutation = Box<dyn Fn(&mut Escrow)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(move |e| e.user = other), "funded by"),
            (Box::new(move |e| e.mint = other), "not CYXWIZ"),
            (
                Box::new(|e| e.amount = 1_001),
                "does not match the quoted price",
            ),
            (
                Box::new(|e| e.amount = 999),
                "does not match the quoted price",
            ),
            (Box::new(|e| e.epochs_required = 9), "epochs"),
            (Box::new(|e| e.timeout_at = 4_999), "times out"),
            (Box::new(|e| e.state = EscrowState::Completed), "not open"),
            (
                Box::new(move |e| {
                    e.state = EscrowState::Assigned;
                    e.node = other;
                }),
                "another node",
            ),
        ];
        for (mutate, needle) in cases {
            let mut e = good.clone();
            mutate(&mut e);
            let err = check_escrow(&e, &x, &mint).unwrap_err();
            assert!(
                err.to_string().contains(needle),
                "{err} should mention {needle}"
            );
        }
        let mut retried = good.clone();
        retried.state = EscrowState::Assigned;
        retried.node = node;
        assert_eq!(check_escrow(&retried, &x, &mint), Ok(()));
    }

    #[test]
    fn batch_entries_index_distinct_owners_in_first_seen_order() {
        let (a, b) = (Pubkey::new_unique(), Pubkey::new_unique());
        let rows = [
            row(&a, UpdateKind::Failed),
            row(&b, UpdateKind::TimedOut),
            row(
                &a,
                UpdateKind::Completed {
                    actual_secs: 1,
                    estimated_secs: 2,
                },
            ),
        ];
        let (owners, entries) = batch_entries(&rows).unwrap();
        assert_eq!(owners, vec![a, b]);
        assert_eq!(
            entries.iter().map(|e| e.node_index).collect::<Vec<_>>(),
            vec![0, 1, 0]
        );
        assert_eq!(estimated_batch_bytes(&rows), 330 + 33 * 2 + 2 + 2 + 10);
    }
}
