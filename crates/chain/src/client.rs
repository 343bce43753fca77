//! An RPC client for the CyxWiz programs over `solana-rpc-client` (nonblocking).
//!
//! Sending is built around one guarantee: **a retried step never applies twice.** A
//! transaction is re-signed with a fresh blockhash only once the previous blockhash has
//! expired (its block height passed `last_valid_block_height`), because from then on the
//! earlier signature can never land. Before re-signing, the client asks the node whether
//! any earlier signature did land (and returns that result), and then asks the caller's
//! [`Applied`] check whether the step's effect is already on chain (for the case where the
//! node that saw the first transaction is not the one answering now). Only if both say
//! "no" is the step sent again.
//!
//! Program rejections are returned at once, typed, with the program's error name; only
//! transport trouble, expiry and lost confirmations are retried, with bounded backoff.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use anchor_lang::prelude::Pubkey;
use solana_commitment_config::CommitmentConfig;
use solana_hash::Hash;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::{
    client_error::{Error as ClientError, ErrorKind},
    config::{RpcSendTransactionConfig, RpcTransactionConfig},
    request::{RpcError, RpcResponseErrorData},
};
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use solana_transaction_status_client_types::{
    UiTransactionEncoding, option_serializer::OptionSerializer,
};

use crate::{
    Addresses, ChainError, Instruction, Treasury,
    events::{ProgramEvent, decode_logs},
    pda,
    state::{self, ProgramAccount},
};

/// Bounds on retrying one step.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Signed transactions per step (each after the previous blockhash expired).
    pub max_attempts: u32,
    /// First backoff after a transport error; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How often to poll a signature's status.
    pub poll_interval: Duration,
    /// Longest wait for one transaction to reach the commitment or expire.
    pub confirm_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            poll_interval: Duration::from_millis(100),
            // A blockhash lives 150 blocks (≈ 60 s at 400 ms slots) plus margin.
            confirm_timeout: Duration::from_secs(90),
        }
    }
}

/// A landed transaction: its signature, slot, logs and the CyxWiz events it emitted.
#[derive(Debug, Clone)]
pub struct Sent {
    pub signature: Signature,
    pub slot: u64,
    pub logs: Vec<String>,
    pub events: Vec<ProgramEvent>,
}

/// The result of an idempotent step.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// This call's transaction (possibly an earlier attempt of it) landed.
    Landed(Sent),
    /// The step's effect was already on chain; nothing was sent (again).
    AlreadyApplied,
}

impl Outcome {
    /// The landed transaction, if this call sent one.
    pub fn sent(&self) -> Option<&Sent> {
        match self {
            Outcome::Landed(s) => Some(s),
            Outcome::AlreadyApplied => None,
        }
    }
}

/// A future answering "is this step's effect already on chain?".
pub type AppliedFuture = Pin<Box<dyn Future<Output = Result<bool, ChainError>> + Send>>;

/// The caller's on-chain check for a step, used before any resend. It gets a clone of
/// the client (cheap: shared connection) to read the chain with.
pub type Applied<'a> = &'a (dyn Fn(ChainClient) -> AppliedFuture + Sync);

/// Fault injection for tests of the retry path: each count makes that many upcoming
/// operations behave as if the network lost their answer.
#[derive(Debug, Default)]
pub struct Faults {
    /// Confirmations to lose: the transaction is sent, but the client never sees it land.
    pub lose_confirmations: AtomicU32,
    /// Signature-status answers to lose when checking earlier attempts (as if asking a
    /// node that never saw them).
    pub lose_statuses: AtomicU32,
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// The chain client. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct ChainClient {
    rpc: Arc<RpcClient>,
    url: String,
    payer: Arc<Keypair>,
    commitment: CommitmentConfig,
    policy: RetryPolicy,
    faults: Arc<Faults>,
}

impl std::fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainClient")
            .field("url", &self.url)
            .field("payer", &self.payer.pubkey())
            .field("commitment", &self.commitment.commitment)
            .finish()
    }
}

impl ChainClient {
    /// A client of the node at `url` (http or https), paying fees with `payer`, waiting
    /// for `commitment`. Fails only on a malformed URL; reachability shows on first use
    /// (or call [`ChainClient::check`]).
    pub fn new(
        url: &str,
        payer: Keypair,
        commitment: CommitmentConfig,
    ) -> Result<ChainClient, ChainError> {
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.len() <= "https://".len()
        {
            return Err(ChainError::Connection {
                url: url.to_string(),
                reason: "not an http(s) URL".into(),
            });
        }
        Ok(ChainClient {
            rpc: Arc::new(RpcClient::new_with_timeout_and_commitment(
                url.to_string(),
                Duration::from_secs(30),
                commitment,
            )),
            url: url.to_string(),
            payer: Arc::new(payer),
            commitment,
            policy: RetryPolicy::default(),
            faults: Arc::new(Faults::default()),
        })
    }

    /// The same client with another retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> ChainClient {
        self.policy = policy;
        self
    }

    /// The underlying RPC client, for calls the SDK does not wrap.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn payer(&self) -> &Keypair {
        &self.payer
    }

    pub fn commitment(&self) -> CommitmentConfig {
        self.commitment
    }

    /// Fault injection hooks (tests of the retry path).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Classifies an error from a call made through [`ChainClient::rpc`] directly.
    pub fn rpc_err(&self, e: ClientError) -> ChainError {
        classify_client_error(&self.url, e, &[])
    }

    /// Checks the node answers; returns its version.
    pub async fn check(&self) -> Result<String, ChainError> {
        self.rpc
            .get_version()
            .await
            .map(|v| v.solana_core)
            .map_err(|e| self.rpc_err(e))
    }

    // ── reading ──────────────────────────────────────────────────────────

    /// Raw account, `None` if it does not exist.
    pub async fn raw_account(
        &self,
        address: &Pubkey,
    ) -> Result<Option<solana_account::Account>, ChainError> {
        self.rpc
            .get_account_with_commitment(address, self.commitment)
            .await
            .map(|r| r.value)
            .map_err(|e| self.rpc_err(e))
    }

    /// The cluster's clock: the Clock sysvar's `unix_timestamp` (what programs compare
    /// deadlines against, which may differ from this machine's clock).
    pub async fn unix_time(&self) -> Result<i64, ChainError> {
        let id = crate::pda::clock_sysvar();
        let clock = self
            .raw_account(&id)
            .await?
            .ok_or(ChainError::AccountNotFound(id))?;
        // Clock layout: slot u64, epoch_start_timestamp i64, epoch u64,
        // leader_schedule_epoch u64, unix_timestamp i64.
        clock
            .data
            .get(32..40)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_le_bytes)
            .ok_or_else(|| ChainError::Decode {
                account: id,
                expected: "Clock sysvar",
                reason: format!("{} bytes", clock.data.len()),
            })
    }

    /// A program account decoded as `T`, `None` if it does not exist.
    pub async fn try_account<T: ProgramAccount>(
        &self,
        address: &Pubkey,
    ) -> Result<Option<T>, ChainError> {
        match self.raw_account(address).await? {
            Some(acc) => state::decode::<T>(address, &acc.owner, &acc.data).map(Some),
            None => Ok(None),
        }
    }

    /// A program account decoded as `T`.
    pub async fn account<T: ProgramAccount>(&self, address: &Pubkey) -> Result<T, ChainError> {
        self.try_account(address)
            .await?
            .ok_or(ChainError::AccountNotFound(*address))
    }

    /// Lamports of `address` (0 if it does not exist).
    pub async fn balance(&self, address: &Pubkey) -> Result<u64, ChainError> {
        self.rpc
            .get_balance_with_commitment(address, self.commitment)
            .await
            .map(|r| r.value)
            .map_err(|e| self.rpc_err(e))
    }

    /// Token balance of a token account.
    pub async fn token_balance(&self, token_account: &Pubkey) -> Result<u64, ChainError> {
        let acc = self
            .raw_account(token_account)
            .await?
            .ok_or(ChainError::AccountNotFound(*token_account))?;
        state::token_amount(token_account, &acc.data)
    }

    /// The token accounts `owner` holds on `mint`, largest balance first (where refunds
    /// and payments to a wallet go when it did not name an account).
    pub async fn token_accounts(
        &self,
        owner: &Pubkey,
        mint: &Pubkey,
    ) -> Result<Vec<Pubkey>, ChainError> {
        use solana_rpc_client_api::request::TokenAccountsFilter;
        let accounts = self
            .rpc
            .get_token_accounts_by_owner_with_commitment(
                owner,
                TokenAccountsFilter::Mint(*mint),
                self.commitment,
            )
            .await
            .map_err(|e| self.rpc_err(e))?
            .value;
        let mut out = Vec::with_capacity(accounts.len());
        for a in &accounts {
            if let Ok(key) = a.pubkey.parse::<Pubkey>() {
                let amount = self.token_balance(&key).await.unwrap_or(0);
                out.push((amount, key));
            }
        }
        out.sort_by_key(|&(amount, _)| std::cmp::Reverse(amount));
        Ok(out.into_iter().map(|(_, k)| k).collect())
    }

    /// Rent-exempt minimum for `len` bytes.
    pub async fn rent_exempt(&self, len: usize) -> Result<u64, ChainError> {
        self.rpc
            .get_minimum_balance_for_rent_exemption(len)
            .await
            .map_err(|e| self.rpc_err(e))
    }

    /// The deployment's fixed addresses, read from the JobEscrow and NodeRegistry
    /// configs (so a client needs nothing but the RPC URL).
    pub async fn load_addresses(&self) -> Result<Addresses, ChainError> {
        let escrow: state::EscrowConfig = self.account(&pda::escrow_config()).await?;
        let registry: state::RegistryConfig = self.account(&pda::registry_config()).await?;
        let mint = self
            .raw_account(&escrow.mint)
            .await?
            .ok_or(ChainError::AccountNotFound(escrow.mint))?;
        Ok(Addresses {
            mint: escrow.mint,
            token_program: mint.owner,
            treasury: Treasury {
                staking: escrow.staking_treasury,
                development: escrow.development_treasury,
                liquidity: escrow.liquidity_treasury,
            },
            insurance_vault: registry.insurance_vault,
        })
    }

    /// Requests an airdrop (localnet, devnet) and waits for it.
    pub async fn airdrop(&self, to: &Pubkey, lamports: u64) -> Result<Signature, ChainError> {
        let sig = self
            .rpc
            .request_airdrop(to, lamports)
            .await
            .map_err(|e| self.rpc_err(e))?;
        let (_, last_valid) = self.blockhash().await?;
        match self.await_status(&sig, last_valid).await? {
            Some(Ok(_)) => Ok(sig),
            Some(Err(e)) => Err(ChainError::from_transaction_error(e, &[], vec![])),
            None => Err(ChainError::ConfirmationTimeout {
                signature: sig,
                waited: self.policy.confirm_timeout,
            }),
        }
    }

    /// The events a landed transaction emitted, with its logs.
    pub async fn transaction(&self, signature: &Signature) -> Result<Sent, ChainError> {
        let tx = self
            .rpc
            .get_transaction_with_config(
                signature,
                RpcTransactionConfig {
                    encoding: Some(UiTransactionEncoding::Base64),
                    commitment: Some(self.commitment),
                    max_supported_transaction_version: Some(0),
                },
            )
            .await
            .map_err(|e| self.rpc_err(e))?;
        let logs = match tx.transaction.meta.map(|m| m.log_messages) {
            Some(OptionSerializer::Some(logs)) => logs,
            _ => Vec::new(),
        };
        Ok(Sent {
            signature: *signature,
            slot: tx.slot,
            events: decode_logs(&logs),
            logs,
        })
    }

    // ── sending ──────────────────────────────────────────────────────────

    /// The caller's result for a transaction that reached the commitment with `status`:
    /// its logs and events, or its failure classified with those logs.
    async fn landed(
        &self,
        signature: &Signature,
        status: Result<(), TransactionError>,
        programs: &[Pubkey],
    ) -> Result<Sent, ChainError> {
        match status {
            Ok(()) => self.transaction(signature).await,
            Err(e) => {
                let logs = self
                    .transaction(signature)
                    .await
                    .map(|s| s.logs)
                    .unwrap_or_default();
                Err(ChainError::from_transaction_error(e, programs, logs))
            }
        }
    }

    /// Before any resend: the result of an earlier attempt that landed, or
    /// `AlreadyApplied` if the caller's check finds the step's effect on chain.
    async fn already_done<'a>(
        &'a self,
        earlier: &[Signature],
        programs: &[Pubkey],
        applied: Option<Applied<'a>>,
    ) -> Result<Option<Result<Outcome, ChainError>>, ChainError> {
        if let Some(result) = self.earlier_result(earlier, programs).await? {
            return Ok(Some(result.map(Outcome::Landed)));
        }
        if let Some(check) = applied
            && check(self.clone()).await?
        {
            return Ok(Some(Ok(Outcome::AlreadyApplied)));
        }
        Ok(None)
    }

    async fn blockhash(&self) -> Result<(Hash, u64), ChainError> {
        let mut backoff = self.policy.initial_backoff;
        let mut attempt = 0;
        loop {
            match self
                .rpc
                .get_latest_blockhash_with_commitment(self.commitment)
                .await
            {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let err = self.rpc_err(e);
                    attempt += 1;
                    if !err.is_transient() || attempt >= self.policy.max_attempts {
                        return Err(err);
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.policy.max_backoff);
                }
            }
        }
    }

    /// Sends `instructions` signed by the payer and `signers`, once, with retries on
    /// transport trouble and expiry. Use this only for steps that cannot apply twice by
    /// construction (every CyxWiz state transition checks the prior state, so resending
    /// `assign_node` fails with `WrongState` rather than assigning twice); for steps
    /// that could (deposits, transfers, stake top-ups) use [`ChainClient::send_idempotent`].
    pub async fn send(
        &self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<Sent, ChainError> {
        match self.send_inner(instructions, signers, None).await? {
            Outcome::Landed(sent) => Ok(sent),
            Outcome::AlreadyApplied => unreachable_already_applied(),
        }
    }

    /// Sends a step that must apply at most once. `applied` reads the chain and says
    /// whether the step's effect is already there; it is consulted before every resend.
    pub async fn send_idempotent<'a>(
        &'a self,
        instructions: &[Instruction],
        signers: &[&Keypair],
        applied: Applied<'a>,
    ) -> Result<Outcome, ChainError> {
        self.send_inner(instructions, signers, Some(applied)).await
    }

    async fn send_inner<'a>(
        &'a self,
        instructions: &[Instruction],
        signers: &[&Keypair],
        applied: Option<Applied<'a>>,
    ) -> Result<Outcome, ChainError> {
        let programs: Vec<Pubkey> = instructions.iter().map(|ix| ix.program_id).collect();
        let mut all: Vec<&Keypair> = vec![&self.payer];
        all.extend(signers.iter().filter(|s| s.pubkey() != self.payer.pubkey()));
        let mut earlier: Vec<Signature> = Vec::new();
        let mut backoff = self.policy.initial_backoff;

        for attempt in 0..self.policy.max_attempts {
            // Earlier attempts have expired (or never reached the node): did one land?
            if attempt > 0
                && let Some(done) = self.already_done(&earlier, &programs, applied).await?
            {
                return done;
            }
            let (blockhash, last_valid) = self.blockhash().await?;
            let tx = Transaction::new_signed_with_payer(
                instructions,
                Some(&self.payer.pubkey()),
                &all,
                blockhash,
            );
            let signature = tx.signatures[0];
            match self
                .rpc
                .send_transaction_with_config(
                    &tx,
                    RpcSendTransactionConfig {
                        preflight_commitment: Some(self.commitment.commitment),
                        encoding: Some(UiTransactionEncoding::Base64),
                        // We resend ourselves, after expiry only; the node must not.
                        max_retries: Some(0),
                        ..RpcSendTransactionConfig::default()
                    },
                )
                .await
            {
                Ok(_) => {}
                Err(e) => {
                    let delivered = !is_connect_error(&e);
                    let err = classify_client_error(&self.url, e, &programs);
                    if !err.is_transient() {
                        return Err(err);
                    }
                    if delivered {
                        earlier.push(signature);
                        self.wait_for_expiry(last_valid).await?;
                    } else {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(self.policy.max_backoff);
                    }
                    if attempt + 1 == self.policy.max_attempts {
                        return Err(err);
                    }
                    continue;
                }
            }
            earlier.push(signature);

            if take(&self.faults.lose_confirmations) {
                // As if the confirmation got lost: wait out the blockhash and retry.
                self.wait_for_expiry(last_valid).await?;
                continue;
            }
            match self.await_status(&signature, last_valid).await? {
                Some(status) => {
                    return self
                        .landed(&signature, status, &programs)
                        .await
                        .map(Outcome::Landed);
                }
                None => {
                    // Expired without landing (or we stopped waiting): make sure it can
                    // no longer land before going round again.
                    self.wait_for_expiry(last_valid).await?;
                }
            }
        }
        // Out of attempts: one last look, so a late landing is still reported as such.
        if let Some(done) = self.already_done(&earlier, &programs, applied).await? {
            return done;
        }
        match earlier.last() {
            Some(signature) => Err(ChainError::ConfirmationTimeout {
                signature: *signature,
                waited: self.policy.confirm_timeout,
            }),
            None => Err(ChainError::BlockhashExpired),
        }
    }

    /// Sends an already signed transaction as is (no blockhash refresh, no resend), and
    /// waits for it. For callers that sign elsewhere (a hardware wallet, the engine's
    /// user) and hand over the bytes.
    pub async fn send_signed(&self, tx: &Transaction) -> Result<Sent, ChainError> {
        let programs: Vec<Pubkey> = tx
            .message
            .instructions
            .iter()
            .map(|ix| {
                tx.message
                    .account_keys
                    .get(usize::from(ix.program_id_index))
                    .copied()
                    .unwrap_or_default()
            })
            .collect();
        let signature = self
            .rpc
            .send_transaction_with_config(
                tx,
                RpcSendTransactionConfig {
                    preflight_commitment: Some(self.commitment.commitment),
                    encoding: Some(UiTransactionEncoding::Base64),
                    ..RpcSendTransactionConfig::default()
                },
            )
            .await
            .map_err(|e| classify_client_error(&self.url, e, &programs))?;
        let (_, last_valid) = self.blockhash().await?;
        match self.await_status(&signature, last_valid).await? {
            Some(status) => self.landed(&signature, status, &programs).await,
            None => Err(ChainError::ConfirmationTimeout {
                signature,
                waited: self.policy.confirm_timeout,
            }),
        }
    }

    /// The result of the first earlier attempt that landed, if any.
    async fn earlier_result(
        &self,
        earlier: &[Signature],
        programs: &[Pubkey],
    ) -> Result<Option<Result<Sent, ChainError>>, ChainError> {
        if earlier.is_empty() || take(&self.faults.lose_statuses) {
            return Ok(None);
        }
        let statuses = self
            .rpc
            .get_signature_statuses_with_history(earlier)
            .await
            .map_err(|e| self.rpc_err(e))?
            .value;
        for (sig, status) in earlier.iter().zip(statuses) {
            let Some(status) = status else { continue };
            if !status.satisfies_commitment(self.commitment) {
                // Landed but not yet at our commitment: wait for it.
                let (_, last_valid) = self.blockhash().await?;
                if self.await_status(sig, last_valid).await?.is_none() {
                    continue;
                }
            }
            let result = status.err.map_or(Ok(()), Err);
            return Ok(Some(self.landed(sig, result, programs).await));
        }
        Ok(None)
    }

    /// Polls until `signature` reaches the commitment (`Some(result)`), or its blockhash
    /// expires / the wait times out (`None`).
    async fn await_status(
        &self,
        signature: &Signature,
        last_valid: u64,
    ) -> Result<Option<Result<(), TransactionError>>, ChainError> {
        let deadline = tokio::time::Instant::now() + self.policy.confirm_timeout;
        loop {
            match self.rpc.get_signature_statuses(&[*signature]).await {
                Ok(resp) => {
                    if let Some(Some(status)) = resp.value.into_iter().next() {
                        if let Some(err) = status.err.clone() {
                            return Ok(Some(Err(err)));
                        }
                        if status.satisfies_commitment(self.commitment) {
                            return Ok(Some(Ok(())));
                        }
                    } else if let Ok(height) = self
                        .rpc
                        .get_block_height_with_commitment(self.commitment)
                        .await
                        && height > last_valid
                    {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    let err = self.rpc_err(e);
                    if !err.is_transient() {
                        return Err(err);
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(self.policy.poll_interval).await;
        }
    }

    /// Waits until the block height passes `last_valid`, after which a transaction
    /// signed with that blockhash can never land.
    async fn wait_for_expiry(&self, last_valid: u64) -> Result<(), ChainError> {
        let deadline = tokio::time::Instant::now() + self.policy.confirm_timeout;
        loop {
            match self
                .rpc
                .get_block_height_with_commitment(self.commitment)
                .await
            {
                Ok(height) if height > last_valid => return Ok(()),
                Ok(_) => {}
                Err(e) => {
                    let err = self.rpc_err(e);
                    if !err.is_transient() || tokio::time::Instant::now() >= deadline {
                        return Err(err);
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                // The node is not producing blocks: refusing to resend is the safe choice.
                return Err(ChainError::Rpc(format!(
                    "block height did not pass {last_valid} within {:?}",
                    self.policy.confirm_timeout
                )));
            }
            tokio::time::sleep(self.policy.poll_interval).await;
        }
    }
}

fn unreachable_already_applied() -> Result<Sent, ChainError> {
    // `send` passes no `applied` check, so `send_inner` cannot report AlreadyApplied.
    Err(ChainError::Rpc(
        "internal: step reported as already applied".into(),
    ))
}

/// Whether the request never reached the node (so nothing was sent).
fn is_connect_error(e: &ClientError) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Reqwest(r) => r.is_connect() || r.is_builder(),
        ErrorKind::Io(_) => true,
        _ => false,
    }
}

/// Maps an RPC client error to a [`ChainError`], extracting a transaction's error and
/// logs from a failed preflight simulation.
pub fn classify_client_error(url: &str, e: ClientError, programs: &[Pubkey]) -> ChainError {
    match *e.kind {
        ErrorKind::RpcError(RpcError::RpcResponseError {
            data: RpcResponseErrorData::SendTransactionPreflightFailure(sim),
            message,
            ..
        }) => match sim.err {
            Some(err) => ChainError::from_transaction_error(
                err.into(),
                programs,
                sim.logs.unwrap_or_default(),
            ),
            None => ChainError::Rpc(message),
        },
        ErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) => {
            // -32002 with "Blockhash not found" when preflight is skipped.
            if message.contains("Blockhash not found") || message.contains("BlockhashNotFound") {
                ChainError::BlockhashExpired
            } else {
                ChainError::Rpc(format!("{code}: {message}"))
            }
        }
        ErrorKind::TransactionError(err) => {
            ChainError::from_transaction_error(err, programs, Vec::new())
        }
        // `get_account` folds transport failures into a message for users.
        ErrorKind::RpcError(RpcError::ForUser(message))
            if message.contains("error sending request") =>
        {
            ChainError::Connection {
                url: url.to_string(),
                reason: message,
            }
        }
        ErrorKind::Reqwest(r) if r.is_connect() || r.is_builder() || r.is_timeout() => {
            ChainError::Connection {
                url: url.to_string(),
                reason: r.to_string(),
            }
        }
        ErrorKind::Io(io) => ChainError::Connection {
            url: url.to_string(),
            reason: io.to_string(),
        },
        ErrorKind::SigningError(s) => ChainError::Signing(s.to_string()),
        other => ChainError::Rpc(other.to_string()),
    }
}
