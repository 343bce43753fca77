//! JobEscrow fixture, on top of the registry fixture [`Env`].
//!
//! [`EscrowEnv`] is an [`Env`] (NodeRegistry initialised, stake mint, insurance account)
//! with JobEscrow initialised by the localnet deployer through the deploy crate's
//! instruction builder: an escrow admin, a coordinator and three treasury token accounts.
//! On top of it:
//!
//! * [`User`]s (funded wallets with a token account) and registered nodes ([`Operator`]s,
//!   via the registry fixture);
//! * one `*_accounts` builder per escrow instruction returning Anchor's generated accounts
//!   struct with every address explicit, so a failure test can substitute any account
//!   before turning it into an instruction with [`escrow_ix`]; one `*_ix` builder with the
//!   right accounts (read from the escrow on chain) and one sending helper per instruction;
//! * whole-job helpers (create → assign → accept → checkpoints → complete);
//! * a stand-in Dispute/DAO program (a native proxy at `ids::DISPUTE_DAO`) that signs
//!   with the dispute-authority or governance PDA, so `freeze_for_dispute` and governance
//!   updates run through a real CPI as they will in production;
//! * [`Balances`] of every token account a job touches and [`EscrowSnapshot`]s of all
//!   state, so a failed transaction can be shown to have moved nothing ([`EscrowEnv::fails`]).
//!
//! The payment proof comes from a [`Prover`] the test supplies (normally
//! `job_escrow::verifier::insecure_test_proof`, which only exists when the test build
//! enables JobEscrow's `insecure-test-verifier` feature; this library never names it, so it
//! also builds without that feature).

use std::{
    collections::HashMap,
    ops::{Deref, DerefMut},
};

use anchor_lang::{
    InstructionData, ToAccountMetas,
    prelude::{AccountInfo, ProgramError, Pubkey},
    solana_program::{entrypoint::ProgramResult, program::invoke_signed},
    system_program,
};
use cyxwiz_common::{ids, seeds};
use cyxwiz_deploy::programs::{self as deploy, TreasuryAccounts};
use job_escrow::{
    Escrow, EscrowConfig, EscrowParams, EscrowState, accounts as eacc,
    constants::default_params as escrow_default_params,
    instruction as eix,
    verifier::{PROOF_LEN, ProofStatement},
};
use reputation_manager::{NodeReputation, constants::default_params as reputation_default_params};
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::{
    Env, Operator, Snapshot, TxError, TxOk, assert_anchor_err, config_pda as registry_config_pda,
    kit, node_pda, vault_pda as stake_vault_pda,
};

/// Produces the proof `complete_payment` accepts for a statement.
pub type Prover = fn(&ProofStatement) -> [u8; PROOF_LEN];

/// A prover for builds without a verifier: every proof it makes is rejected.
pub fn no_prover(_: &ProofStatement) -> [u8; PROOF_LEN] {
    [0; PROOF_LEN]
}

// ── addresses ────────────────────────────────────────────────────────────

/// `[ESCROW_CONFIG]` under JobEscrow.
pub fn escrow_config_pda() -> Pubkey {
    deploy::escrow_config()
}

/// `[ESCROW, job_id]` under JobEscrow.
pub fn escrow_pda(job_id: &[u8; 16]) -> Pubkey {
    Pubkey::find_program_address(&[seeds::ESCROW, job_id.as_ref()], &job_escrow::ID).0
}

/// `[ESCROW_VAULT, escrow]` under JobEscrow.
pub fn escrow_vault_pda(escrow: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[seeds::ESCROW_VAULT, escrow.as_ref()], &job_escrow::ID).0
}

/// One job's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Job {
    pub id: [u8; 16],
    pub escrow: Pubkey,
    pub vault: Pubkey,
}

impl Job {
    pub fn new(id: [u8; 16]) -> Self {
        let escrow = escrow_pda(&id);
        Job {
            id,
            escrow,
            vault: escrow_vault_pda(&escrow),
        }
    }
}

/// The Merkle root a well-behaved node anchors for `epoch` of `job` (deterministic).
pub fn root_for(job: &Job, epoch: u32) -> [u8; 32] {
    let mut root = [0xA5; 32];
    root[..16].copy_from_slice(&job.id);
    root[16..20].copy_from_slice(&epoch.to_le_bytes());
    root
}

/// The final weights hash a node reports for `job` (deterministic).
pub fn weights_for(job: &Job) -> [u8; 32] {
    let mut hash = [0x3C; 32];
    hash[16..].copy_from_slice(&job.id);
    hash
}

/// A JobEscrow instruction from an accounts struct (possibly with substituted accounts)
/// and Anchor's instruction data struct.
pub fn escrow_ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: job_escrow::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

// ── stand-in Dispute/DAO program ─────────────────────────────────────────

/// Proxy role: sign as Dispute/DAO's verdict PDA (`ids::dispute_authority()`).
pub const AS_DISPUTE_AUTHORITY: u8 = 0;
/// Proxy role: sign as Dispute/DAO's governance PDA (`ids::governance_authority()`).
pub const AS_GOVERNANCE: u8 = 1;

/// A native program registered at `ids::DISPUTE_DAO`: forwards one instruction by CPI,
/// signed by the PDA the first data byte names. Accounts: `[target program, ..inner]`;
/// data: `[role, ..inner data]`.
fn dispute_dao_proxy<'info>(
    program_id: &Pubkey,
    accounts: &'info [AccountInfo<'info>],
    data: &[u8],
) -> ProgramResult {
    let (&role, inner_data) = data
        .split_first()
        .ok_or(ProgramError::InvalidInstructionData)?;
    let seed: &[u8] = match role {
        AS_DISPUTE_AUTHORITY => seeds::DISPUTE_AUTHORITY,
        AS_GOVERNANCE => seeds::GOVERNANCE_AUTHORITY,
        _ => return Err(ProgramError::InvalidInstructionData),
    };
    let (authority, bump) = Pubkey::find_program_address(&[seed], program_id);
    let (target, inner) = accounts
        .split_first()
        .ok_or(ProgramError::NotEnoughAccountKeys)?;
    let ix = Instruction {
        program_id: *target.key,
        accounts: inner
            .iter()
            .map(|a| AccountMeta {
                pubkey: *a.key,
                is_signer: a.is_signer || *a.key == authority,
                is_writable: a.is_writable,
            })
            .collect(),
        data: inner_data.to_vec(),
    };
    invoke_signed(&ix, accounts, &[&[seed, &[bump]]])
}

/// Wraps `inner` into a call of the stand-in Dispute/DAO program, which re-issues it
/// signed by the PDA of `role`.
pub fn via_dispute_dao(role: u8, inner: Instruction) -> Instruction {
    let pdas = [ids::dispute_authority(), ids::governance_authority()];
    let mut accounts = vec![AccountMeta::new_readonly(inner.program_id, false)];
    accounts.extend(inner.accounts.into_iter().map(|m| AccountMeta {
        is_signer: m.is_signer && !pdas.contains(&m.pubkey),
        ..m
    }));
    let mut data = vec![role];
    data.extend(inner.data);
    Instruction {
        program_id: ids::DISPUTE_DAO,
        accounts,
        data,
    }
}

// ── parties ──────────────────────────────────────────────────────────────

/// A job submitter: a funded wallet and its token account of the stake mint.
pub struct User {
    pub wallet: Keypair,
    pub token: Pubkey,
}

impl User {
    pub fn key(&self) -> Pubkey {
        self.wallet.pubkey()
    }
}

/// Every token balance a job can move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
    pub user: u64,
    pub vault: u64,
    pub node: u64,
    pub staking: u64,
    pub development: u64,
    pub liquidity: u64,
    pub supply: u64,
    pub stake_vault: u64,
    pub insurance: u64,
}

/// An account's lamports and data.
pub type RawAccount = (u64, Vec<u8>);

/// All state a JobEscrow transaction could touch: the registry snapshot (every fixture
/// token account, stakes, registry config and node accounts), every escrow vault's
/// balance and the raw data of the escrow config, every escrow and every vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowSnapshot {
    pub registry: Snapshot,
    pub vaults: Vec<(Pubkey, u64)>,
    pub raw: Vec<(Pubkey, Option<RawAccount>)>,
}

// ── the fixture ──────────────────────────────────────────────────────────

/// A chain with NodeRegistry and JobEscrow initialised; see the module docs.
pub struct EscrowEnv {
    pub env: Env,
    /// JobEscrow's admin (distinct from the registry admin `env.admin`).
    pub escrow_admin: Keypair,
    pub coordinator: Keypair,
    /// Owner of the three treasury token accounts.
    pub treasury_owner: Keypair,
    pub treasury: TreasuryAccounts,
    pub prover: Prover,
    /// Every job created through the fixture, in creation order.
    pub jobs: Vec<Job>,
    /// Token account of every user and node wallet the fixture created.
    pub token_of: HashMap<Pubkey, Pubkey>,
    next_job: u64,
    /// Whether `ids::DISPUTE_DAO` runs the real program (else the stand-in proxy).
    pub real_dao: bool,
}

/// The training-time estimate of the fixture's escrows: twice the default margin
/// (`duration_margin_secs`, 5 min), so a test may complete right after acceptance and up
/// to 25 min later; the bound itself is tested with explicit estimates.
pub const DEFAULT_ESTIMATE_SECS: u32 = 600;

/// Score the fixture gives every node it registers: Gold (jobs below 200 CYXWIZ), so job
/// tests are not capped by the Bronze tier and pay the standard 10 % fee.
pub const DEFAULT_NODE_SCORE: u16 = 700;

impl std::fmt::Debug for EscrowEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscrowEnv")
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl Deref for EscrowEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl DerefMut for EscrowEnv {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

impl EscrowEnv {
    /// Registry and escrow initialised over a classic SPL Token mint.
    pub fn new(prover: Prover) -> Self {
        Self::new_with(kit::TOKEN_PROGRAM, prover)
    }

    /// Registry and escrow initialised over a mint of `token_program`.
    pub fn new_with(token_program: Pubkey, prover: Prover) -> Self {
        Self::build(token_program, prover, false)
    }

    /// As [`EscrowEnv::new_with`], with the real Dispute/DAO program at its id when
    /// `real_dao` (initialise it with the DAO fixture) instead of the stand-in proxy.
    pub fn build(token_program: Pubkey, prover: Prover, real_dao: bool) -> Self {
        let mut f = Self::uninitialized_with(token_program, prover, real_dao);
        let ix = f.initialize_ix(escrow_default_params());
        let rep = deploy::initialize_reputation(
            &ids::DEPLOYER,
            &f.escrow_admin.pubkey(),
            &f.coordinator.pubkey(),
            reputation_default_params(),
        );
        let deployer = cyxwiz_deploy::keys::localnet_deployer();
        f.env
            .chain
            .send(&[ix, rep], &[&deployer])
            .expect("initialize escrow and reputation");
        f
    }

    /// Registry initialised, treasury accounts and authorities created, the stand-in
    /// Dispute/DAO program registered; JobEscrow not initialised.
    pub fn uninitialized(token_program: Pubkey, prover: Prover) -> Self {
        Self::uninitialized_with(token_program, prover, false)
    }

    fn uninitialized_with(token_program: Pubkey, prover: Prover, real_dao: bool) -> Self {
        let mut env = Env::new_with(token_program);
        if real_dao {
            env.chain
                .svm
                .add_builtin(ids::DISPUTE_DAO, crate::native_program!(dispute_dao::entry));
        } else {
            env.chain
                .svm
                .add_builtin(ids::DISPUTE_DAO, crate::native_program!(dispute_dao_proxy));
        }
        let escrow_admin = env.wallet();
        let coordinator = env.wallet();
        let treasury_owner = Keypair::new();
        let treasury = TreasuryAccounts {
            staking: env.fund_tokens(&treasury_owner.pubkey(), 0),
            development: env.fund_tokens(&treasury_owner.pubkey(), 0),
            liquidity: env.fund_tokens(&treasury_owner.pubkey(), 0),
        };
        EscrowEnv {
            env,
            escrow_admin,
            coordinator,
            treasury_owner,
            treasury,
            prover,
            jobs: Vec::new(),
            token_of: HashMap::new(),
            next_job: 0,
            real_dao,
        }
    }

    // ── parties ──────────────────────────────────────────────────────────

    /// A funded wallet with a token account holding `tokens`.
    pub fn user(&mut self, tokens: u64) -> User {
        let wallet = self.env.wallet();
        let token = self.env.fund_tokens(&wallet.pubkey(), tokens);
        self.token_of.insert(wallet.pubkey(), token);
        User { wallet, token }
    }

    /// A registered node staking `stake` (its token account is left empty, so every
    /// token it holds later is pay).
    /// Its reputation account is created and given [`DEFAULT_NODE_SCORE`].
    pub fn node(&mut self, stake: u64) -> Operator {
        let op = self.env.registered(stake, stake);
        self.token_of.insert(op.key(), op.token);
        let ix = deploy::init_node_reputation(&op.key(), &op.key());
        self.env
            .chain
            .send(&[ix], &[&op.wallet])
            .expect("init node reputation");
        self.set_score(&op.key(), DEFAULT_NODE_SCORE);
        op
    }

    /// The reputation account of node `owner`, if it exists.
    pub fn try_reputation(&self, owner: &Pubkey) -> Option<NodeReputation> {
        self.chain.anchor_account(&deploy::node_reputation(owner))
    }

    pub fn reputation(&self, owner: &Pubkey) -> NodeReputation {
        self.try_reputation(owner).expect("node reputation exists")
    }

    /// Rewrites `owner`'s reputation account in place (to reach a tier without history).
    pub fn set_reputation(&mut self, owner: &Pubkey, f: impl FnOnce(&mut NodeReputation)) {
        let mut rep = self.reputation(owner);
        f(&mut rep);
        self.chain
            .write_anchor_account(&deploy::node_reputation(owner), &rep);
    }

    /// Sets `owner`'s score (and points) and the matching tier.
    pub fn set_score(&mut self, owner: &Pubkey, score: u16) {
        let tier = reputation_default_params().tier_for(score);
        self.set_reputation(owner, |r| {
            r.score = score;
            r.points = score;
            r.tier = tier;
        });
    }

    /// ReputationManager accounts JobEscrow reads for `node_owner`.
    pub fn reputation_view(&self, node_owner: &Pubkey) -> eacc::ReputationView {
        eacc::ReputationView {
            reputation_config: deploy::reputation_config(),
            node_reputation: deploy::node_reputation(node_owner),
        }
    }

    /// The fixture-created token account of `wallet`.
    pub fn token_of(&self, wallet: &Pubkey) -> Pubkey {
        *self
            .token_of
            .get(wallet)
            .expect("wallet was created by the fixture")
    }

    /// A fresh, unused job.
    pub fn next_job(&mut self) -> Job {
        self.next_job += 1;
        let mut id = [0x4A; 16];
        id[8..].copy_from_slice(&self.next_job.to_le_bytes());
        Job::new(id)
    }

    // ── reading state ────────────────────────────────────────────────────

    pub fn escrow_config(&self) -> EscrowConfig {
        self.chain
            .anchor_account(&escrow_config_pda())
            .expect("escrow config exists")
    }

    /// The escrow of `job`, if it exists.
    pub fn try_escrow(&self, job: &Job) -> Option<Escrow> {
        self.chain.anchor_account(&job.escrow)
    }

    pub fn escrow(&self, job: &Job) -> Escrow {
        self.try_escrow(job).expect("escrow exists")
    }

    pub fn state(&self, job: &Job) -> EscrowState {
        self.escrow(job).state
    }

    /// The node account of `owner` (panics if absent).
    pub fn node_account(&self, owner: &Pubkey) -> node_registry::NodeAccount {
        self.env.node(owner).expect("node account exists")
    }

    pub fn balances(&self, job: &Job, user_token: &Pubkey, node_token: &Pubkey) -> Balances {
        Balances {
            user: self.balance(user_token),
            vault: self.balance(&job.vault),
            node: self.balance(node_token),
            staking: self.balance(&self.treasury.staking),
            development: self.balance(&self.treasury.development),
            liquidity: self.balance(&self.treasury.liquidity),
            supply: self.supply(),
            stake_vault: self.vault_balance(),
            insurance: self.balance(&self.insurance),
        }
    }

    pub fn escrow_snapshot(&self) -> EscrowSnapshot {
        let keys = std::iter::once(escrow_config_pda())
            .chain(self.jobs.iter().flat_map(|j| [j.escrow, j.vault]));
        EscrowSnapshot {
            registry: self.env.snapshot(),
            vaults: self
                .jobs
                .iter()
                .map(|j| (j.vault, self.balance(&j.vault)))
                .collect(),
            raw: keys
                .map(|k| (k, self.chain.account(&k).map(|a| (a.lamports, a.data))))
                .collect(),
        }
    }

    /// Sum of every token account of the mint the fixture knows: fixture-created accounts
    /// (users, nodes, treasuries, insurance), the registry stake vault and every vault.
    pub fn tokens_held(&self) -> u128 {
        let fixture: u128 = self
            .token_accounts
            .iter()
            .map(|t| u128::from(self.balance(t)))
            .sum();
        let vaults: u128 = self
            .jobs
            .iter()
            .map(|j| u128::from(self.balance(&j.vault)))
            .sum();
        fixture + vaults + u128::from(self.vault_balance())
    }

    /// `Σ token balances + burned == initial supply`, where burned is the supply drop.
    #[track_caller]
    pub fn assert_tokens_conserved(&self, initial_supply: u64) {
        let supply = self.supply();
        assert!(supply <= initial_supply, "supply grew");
        let burned = u128::from(initial_supply - supply);
        assert_eq!(
            self.tokens_held() + burned,
            u128::from(initial_supply),
            "tokens not conserved"
        );
    }

    /// Each vault holds its escrow's amount while the escrow is open, nothing once it is
    /// finished or was paid and is disputed after payment (or is closed along with its
    /// escrow).
    #[track_caller]
    pub fn assert_vaults_match(&self) {
        for job in &self.jobs {
            match self.try_escrow(job) {
                Some(e) if e.state.is_terminal() || e.challenged => {
                    assert_eq!(
                        self.balance(&job.vault),
                        0,
                        "terminal escrow's vault not empty"
                    )
                }
                Some(e) => assert_eq!(self.balance(&job.vault), e.amount, "vault != escrow amount"),
                None => assert!(
                    self.chain
                        .account(&job.vault)
                        .is_none_or(|a| a.lamports == 0)
                ),
            }
        }
    }

    // ── sending ──────────────────────────────────────────────────────────

    pub fn send(&mut self, ix: Instruction, signers: &[&Keypair]) -> Result<TxOk, TxError> {
        self.env.chain.send(&[ix], signers)
    }

    /// Sends `ix`, asserts it fails with exactly `expected`, and that nothing changed.
    #[track_caller]
    pub fn fails(
        &mut self,
        ix: Instruction,
        signers: &[&Keypair],
        expected: impl Into<anchor_lang::error::Error>,
    ) {
        let before = self.escrow_snapshot();
        let result = self.send(ix, signers);
        assert_anchor_err(result, expected);
        assert_eq!(
            self.escrow_snapshot(),
            before,
            "a failed transaction changed state"
        );
    }

    /// Sends `ix`, asserts it fails with the custom error `code` (e.g. a token program
    /// error), and that nothing changed.
    #[track_caller]
    pub fn fails_with_code(&mut self, ix: Instruction, signers: &[&Keypair], code: u32) {
        let before = self.escrow_snapshot();
        match self.send(ix, signers) {
            Ok(ok) => panic!("expected custom error {code}, transaction succeeded: {ok:?}"),
            Err(e) => assert_eq!(e.custom_code(), Some(code), "got {e}"),
        }
        assert_eq!(
            self.escrow_snapshot(),
            before,
            "a failed transaction changed state"
        );
    }

    // ── accounts builders (substitute fields, then `escrow_ix`) ──────────

    pub fn escrow_initialize_accounts(&self, deployer: &Pubkey) -> eacc::Initialize {
        eacc::Initialize {
            deployer: *deployer,
            config: escrow_config_pda(),
            mint: self.mint,
            staking_treasury: self.treasury.staking,
            development_treasury: self.treasury.development,
            liquidity_treasury: self.treasury.liquidity,
            token_program: self.token_program,
            system_program: system_program::ID,
        }
    }

    /// For `update_params`, `set_admin`, `set_coordinator`.
    pub fn escrow_update_config_accounts(&self, authority: &Pubkey) -> eacc::UpdateConfig {
        eacc::UpdateConfig {
            authority: *authority,
            config: escrow_config_pda(),
        }
    }

    pub fn set_treasury_accounts(
        &self,
        authority: &Pubkey,
        treasury: TreasuryAccounts,
    ) -> eacc::SetTreasury {
        eacc::SetTreasury {
            authority: *authority,
            config: escrow_config_pda(),
            staking_treasury: treasury.staking,
            development_treasury: treasury.development,
            liquidity_treasury: treasury.liquidity,
        }
    }

    pub fn escrow_set_paused_accounts(&self, admin: &Pubkey) -> eacc::SetPaused {
        eacc::SetPaused {
            admin: *admin,
            config: escrow_config_pda(),
        }
    }

    pub fn create_escrow_accounts(
        &self,
        user: &Pubkey,
        user_token: &Pubkey,
        job: &Job,
    ) -> eacc::CreateEscrow {
        eacc::CreateEscrow {
            user: *user,
            config: escrow_config_pda(),
            escrow: job.escrow,
            vault: job.vault,
            user_token: *user_token,
            mint: self.mint,
            token_program: self.token_program,
            system_program: system_program::ID,
        }
    }

    /// The configured treasury accounts.
    pub fn treasury_accounts(&self) -> eacc::Treasury {
        eacc::Treasury {
            staking: self.treasury.staking,
            development: self.treasury.development,
            liquidity: self.treasury.liquidity,
            config: escrow_config_pda(),
        }
    }

    /// NodeRegistry accounts for the outcome CPI on `node_owner`'s node.
    pub fn registry_hooks(&self, node_owner: &Pubkey) -> eacc::RegistryHooks {
        eacc::RegistryHooks {
            escrow_authority: ids::escrow_authority(),
            registry_config: registry_config_pda(),
            node: node_pda(node_owner),
            stake_vault: stake_vault_pda(),
            insurance_vault: self.config().insurance_vault,
            registry_program: node_registry::ID,
        }
    }

    pub fn cancel_accounts(
        &self,
        user: &Pubkey,
        job: &Job,
        user_token: &Pubkey,
        node_token: Option<Pubkey>,
    ) -> eacc::Cancel {
        eacc::Cancel {
            user: *user,
            config: escrow_config_pda(),
            escrow: job.escrow,
            vault: job.vault,
            mint: self.mint,
            user_token: *user_token,
            node_token,
            treasury: self.treasury_accounts(),
            token_program: self.token_program,
        }
    }

    pub fn assign_node_accounts(
        &self,
        coordinator: &Pubkey,
        job: &Job,
        node_owner: &Pubkey,
    ) -> eacc::AssignNode {
        eacc::AssignNode {
            coordinator: *coordinator,
            config: escrow_config_pda(),
            escrow: job.escrow,
            registry_config: registry_config_pda(),
            node: node_pda(node_owner),
            reputation: self.reputation_view(node_owner),
        }
    }

    pub fn assign_by_user_accounts(
        &self,
        user: &Pubkey,
        job: &Job,
        node_owner: &Pubkey,
    ) -> eacc::AssignNodeByUser {
        eacc::AssignNodeByUser {
            user: *user,
            config: escrow_config_pda(),
            escrow: job.escrow,
            registry_config: registry_config_pda(),
            node: node_pda(node_owner),
            reputation: self.reputation_view(node_owner),
        }
    }

    pub fn accept_job_accounts(&self, node_owner: &Pubkey, job: &Job) -> eacc::AcceptJob {
        eacc::AcceptJob {
            node_owner: *node_owner,
            config: escrow_config_pda(),
            escrow: job.escrow,
            escrow_authority: ids::escrow_authority(),
            registry_config: registry_config_pda(),
            node: node_pda(node_owner),
            registry_program: node_registry::ID,
            reputation: self.reputation_view(node_owner),
        }
    }

    pub fn anchor_checkpoint_accounts(
        &self,
        node_owner: &Pubkey,
        job: &Job,
    ) -> eacc::AnchorCheckpoint {
        eacc::AnchorCheckpoint {
            node_owner: *node_owner,
            escrow: job.escrow,
        }
    }

    pub fn complete_payment_accounts(
        &self,
        node_owner: &Pubkey,
        job: &Job,
        node_token: &Pubkey,
    ) -> eacc::CompletePayment {
        eacc::CompletePayment {
            node_owner: *node_owner,
            config: escrow_config_pda(),
            escrow: job.escrow,
            vault: job.vault,
            mint: self.mint,
            node_token: *node_token,
            treasury: self.treasury_accounts(),
            registry: self.registry_hooks(node_owner),
            reputation: self.reputation_view(node_owner),
            token_program: self.token_program,
        }
    }

    pub fn submit_proof_accounts(
        &self,
        node_owner: &Pubkey,
        job: &Job,
        node_token: &Pubkey,
        user_token: &Pubkey,
    ) -> eacc::SubmitProof {
        eacc::SubmitProof {
            payment: self.complete_payment_accounts(node_owner, job, node_token),
            user_token: *user_token,
            node_reputation: deploy::node_reputation(node_owner),
            reputation_program: reputation_manager::ID,
        }
    }

    pub fn refund_accounts(
        &self,
        caller: &Pubkey,
        job: &Job,
        user_token: &Pubkey,
        node_token: &Pubkey,
        node_owner: &Pubkey,
    ) -> eacc::Refund {
        eacc::Refund {
            caller: *caller,
            config: escrow_config_pda(),
            escrow: job.escrow,
            vault: job.vault,
            mint: self.mint,
            user_token: *user_token,
            node_token: *node_token,
            registry: self.registry_hooks(node_owner),
            token_program: self.token_program,
        }
    }

    pub fn timeout_refund_accounts(
        &self,
        caller: &Pubkey,
        job: &Job,
        user_token: &Pubkey,
    ) -> eacc::TimeoutRefund {
        eacc::TimeoutRefund {
            caller: *caller,
            config: escrow_config_pda(),
            escrow: job.escrow,
            vault: job.vault,
            mint: self.mint,
            user_token: *user_token,
            token_program: self.token_program,
        }
    }

    pub fn timeout_refund_with_slash_accounts(
        &self,
        caller: &Pubkey,
        job: &Job,
        user_token: &Pubkey,
        node_owner: &Pubkey,
    ) -> eacc::TimeoutRefundWithSlash {
        eacc::TimeoutRefundWithSlash {
            refund: self.timeout_refund_accounts(caller, job, user_token),
            registry: self.registry_hooks(node_owner),
        }
    }

    pub fn close_escrow_accounts(
        &self,
        caller: &Pubkey,
        job: &Job,
        user: &Pubkey,
    ) -> eacc::CloseEscrow {
        eacc::CloseEscrow {
            caller: *caller,
            config: escrow_config_pda(),
            escrow: job.escrow,
            vault: job.vault,
            user: *user,
            token_program: self.token_program,
        }
    }

    pub fn freeze_accounts(&self, dispute_authority: &Pubkey, job: &Job) -> eacc::FreezeForDispute {
        eacc::FreezeForDispute {
            dispute_authority: *dispute_authority,
            config: escrow_config_pda(),
            escrow: job.escrow,
        }
    }

    /// `resolve_dispute` as Dispute/DAO's verdict PDA would call it.
    pub fn resolve_dispute_accounts(
        &self,
        dispute_authority: &Pubkey,
        job: &Job,
    ) -> eacc::ResolveDispute {
        let e = self.escrow(job);
        eacc::ResolveDispute {
            dispute_authority: *dispute_authority,
            escrow: job.escrow,
            vault: job.vault,
            mint: self.mint,
            user_token: self.token_of(&e.user),
            node_token: self.token_of(&e.node),
            treasury: self.treasury_accounts(),
            registry: self.registry_hooks(&e.node),
            reputation: self.reputation_view(&e.node),
            token_program: self.token_program,
        }
    }

    pub fn release_stake_accounts(
        &self,
        caller: &Pubkey,
        job: &Job,
        node_owner: &Pubkey,
    ) -> eacc::ReleaseStake {
        eacc::ReleaseStake {
            caller: *caller,
            config: escrow_config_pda(),
            escrow: job.escrow,
            mint: self.mint,
            registry: self.registry_hooks(node_owner),
            token_program: self.token_program,
        }
    }

    pub fn rate_node_accounts(&self, user: &Pubkey, job: &Job) -> eacc::RateNode {
        let e = self.escrow(job);
        eacc::RateNode {
            user: *user,
            config: escrow_config_pda(),
            escrow: job.escrow,
            escrow_authority: ids::escrow_authority(),
            reputation_config: deploy::reputation_config(),
            node_reputation: deploy::node_reputation(&e.node),
            reputation_program: reputation_manager::ID,
        }
    }

    // ── instruction builders with the right accounts ─────────────────────

    /// `initialize` through the deploy crate's builder (as deployments run it).
    pub fn initialize_ix(&self, params: EscrowParams) -> Instruction {
        deploy::initialize_escrow(
            &ids::DEPLOYER,
            &self.escrow_admin.pubkey(),
            &self.coordinator.pubkey(),
            &self.mint,
            self.treasury,
            &self.token_program,
            params,
        )
    }

    pub fn create_escrow_ix(
        &self,
        user: &User,
        job: &Job,
        amount: u64,
        epochs_required: u32,
        timeout_secs: i64,
    ) -> Instruction {
        self.create_escrow_ix_with(
            user,
            job,
            amount,
            epochs_required,
            timeout_secs,
            DEFAULT_ESTIMATE_SECS,
        )
    }

    /// `create_escrow` with an explicit training-time estimate.
    pub fn create_escrow_ix_with(
        &self,
        user: &User,
        job: &Job,
        amount: u64,
        epochs_required: u32,
        timeout_secs: i64,
        estimated_secs: u32,
    ) -> Instruction {
        escrow_ix(
            self.create_escrow_accounts(&user.key(), &user.token, job),
            eix::CreateEscrow {
                job_id: job.id,
                amount,
                epochs_required,
                timeout_secs,
                estimated_secs,
            },
        )
    }

    /// `cancel` by the escrow's user; the node's token account is passed when assigned.
    pub fn cancel_ix(&self, job: &Job) -> Instruction {
        let e = self.escrow(job);
        let node_token = (e.node != Pubkey::default()).then(|| self.token_of(&e.node));
        escrow_ix(
            self.cancel_accounts(&e.user, job, &self.token_of(&e.user), node_token),
            eix::Cancel {},
        )
    }

    pub fn assign_ix(&self, job: &Job, node_owner: &Pubkey) -> Instruction {
        escrow_ix(
            self.assign_node_accounts(&self.coordinator.pubkey(), job, node_owner),
            eix::AssignNode {},
        )
    }

    /// `assign_node_by_user` signed by `user` (the escrow's user on the happy path).
    pub fn assign_by_user_ix(&self, job: &Job, user: &Pubkey, node_owner: &Pubkey) -> Instruction {
        escrow_ix(
            self.assign_by_user_accounts(user, job, node_owner),
            eix::AssignNodeByUser {},
        )
    }

    pub fn accept_ix(&self, job: &Job, node_owner: &Pubkey) -> Instruction {
        escrow_ix(self.accept_job_accounts(node_owner, job), eix::AcceptJob {})
    }

    pub fn checkpoint_ix(&self, job: &Job, node_owner: &Pubkey, epoch: u32) -> Instruction {
        self.anchor_ix(job, node_owner, epoch, root_for(job, epoch))
    }

    /// `anchor_checkpoint` of `epoch` with an explicit root (e.g. a real Poseidon root).
    pub fn anchor_ix(
        &self,
        job: &Job,
        node_owner: &Pubkey,
        epoch: u32,
        merkle_root: [u8; 32],
    ) -> Instruction {
        escrow_ix(
            self.anchor_checkpoint_accounts(node_owner, job),
            eix::AnchorCheckpoint { epoch, merkle_root },
        )
    }

    /// The proof the configured prover makes for a statement about `job`.
    pub fn proof(&self, job: &Job, merkle_root: [u8; 32], epochs: u32) -> [u8; PROOF_LEN] {
        (self.prover)(&ProofStatement {
            job_id: job.id,
            merkle_root,
            final_weights_hash: weights_for(job),
            epochs,
            anchored_root: [0; 32],
            anchored_epochs: 0,
        })
    }

    /// `complete_payment` with explicit statement and proof, by the escrow's node.
    pub fn complete_ix_with(
        &self,
        job: &Job,
        proof: [u8; PROOF_LEN],
        final_weights_hash: [u8; 32],
        merkle_root: [u8; 32],
        epochs: u32,
    ) -> Instruction {
        let node = self.escrow(job).node;
        escrow_ix(
            self.complete_payment_accounts(&node, job, &self.token_of(&node)),
            eix::CompletePayment {
                proof,
                final_weights_hash,
                merkle_root,
                epochs,
            },
        )
    }

    /// `complete_payment` for `epochs` with a valid proof: the root is the anchored one
    /// when `epochs` equals the anchored progress, else [`root_for`]`(job, epochs)`.
    pub fn complete_ix(&self, job: &Job, epochs: u32) -> Instruction {
        let e = self.escrow(job);
        let root = if epochs == e.epochs_done {
            e.merkle_root
        } else {
            root_for(job, epochs)
        };
        let proof = self.proof(job, root, epochs);
        self.complete_ix_with(job, proof, weights_for(job), root, epochs)
    }

    /// `submit_proof` with explicit statement and proof, by the escrow's node, with the
    /// parties' token accounts.
    pub fn submit_ix_with(
        &self,
        job: &Job,
        proof: [u8; PROOF_LEN],
        final_weights_hash: [u8; 32],
        merkle_root: [u8; 32],
        epochs: u32,
    ) -> Instruction {
        let e = self.escrow(job);
        escrow_ix(
            self.submit_proof_accounts(
                &e.node,
                job,
                &self.token_of(&e.node),
                &self.token_of(&e.user),
            ),
            eix::SubmitProof {
                proof,
                final_weights_hash,
                merkle_root,
                epochs,
            },
        )
    }

    /// `submit_proof` of `epochs` with a valid proof when `valid`, else a corrupted one
    /// (same statement as [`EscrowEnv::complete_ix`]).
    pub fn submit_ix(&self, job: &Job, epochs: u32, valid: bool) -> Instruction {
        let e = self.escrow(job);
        let root = if epochs == e.epochs_done {
            e.merkle_root
        } else {
            root_for(job, epochs)
        };
        let mut proof = self.proof(job, root, epochs);
        if !valid {
            proof[0] ^= 1;
        }
        self.submit_ix_with(job, proof, weights_for(job), root, epochs)
    }

    /// `refund` called by `caller`, with the escrow's parties' token accounts.
    pub fn refund_ix(&self, job: &Job, caller: &Pubkey) -> Instruction {
        let e = self.escrow(job);
        escrow_ix(
            self.refund_accounts(
                caller,
                job,
                &self.token_of(&e.user),
                &self.token_of(&e.node),
                &e.node,
            ),
            eix::Refund {},
        )
    }

    pub fn timeout_refund_ix(&self, job: &Job, caller: &Pubkey) -> Instruction {
        let e = self.escrow(job);
        escrow_ix(
            self.timeout_refund_accounts(caller, job, &self.token_of(&e.user)),
            eix::TimeoutRefund {},
        )
    }

    pub fn timeout_refund_with_slash_ix(&self, job: &Job, caller: &Pubkey) -> Instruction {
        let e = self.escrow(job);
        escrow_ix(
            self.timeout_refund_with_slash_accounts(caller, job, &self.token_of(&e.user), &e.node),
            eix::TimeoutRefundWithSlash {},
        )
    }

    pub fn close_ix(&self, job: &Job, caller: &Pubkey) -> Instruction {
        let e = self.escrow(job);
        escrow_ix(
            self.close_escrow_accounts(caller, job, &e.user),
            eix::CloseEscrow {},
        )
    }

    /// `freeze_for_dispute` as the Dispute/DAO program sends it (signed by its PDA).
    pub fn freeze_ix(&self, job: &Job) -> Instruction {
        via_dispute_dao(
            AS_DISPUTE_AUTHORITY,
            escrow_ix(
                self.freeze_accounts(&ids::dispute_authority(), job),
                eix::FreezeForDispute {},
            ),
        )
    }

    /// `resolve_dispute` through the stand-in Dispute/DAO program.
    pub fn resolve_ix(&self, job: &Job, resolution: job_escrow::DisputeResolution) -> Instruction {
        via_dispute_dao(
            AS_DISPUTE_AUTHORITY,
            escrow_ix(
                self.resolve_dispute_accounts(&ids::dispute_authority(), job),
                eix::ResolveDispute { resolution },
            ),
        )
    }

    pub fn release_ix(&self, job: &Job, caller: &Pubkey) -> Instruction {
        let e = self.escrow(job);
        escrow_ix(
            self.release_stake_accounts(caller, job, &e.node),
            eix::ReleaseStake {},
        )
    }

    pub fn rate_ix(&self, job: &Job, user: &Pubkey, stars: u8) -> Instruction {
        escrow_ix(self.rate_node_accounts(user, job), eix::RateNode { stars })
    }

    // ── sending helpers ──────────────────────────────────────────────────

    /// Creates an escrow for a fresh job; the job is tracked only if creation succeeds.
    pub fn create_escrow(
        &mut self,
        user: &User,
        amount: u64,
        epochs_required: u32,
        timeout_secs: i64,
    ) -> Result<(Job, TxOk), TxError> {
        self.create_escrow_with(
            user,
            amount,
            epochs_required,
            timeout_secs,
            DEFAULT_ESTIMATE_SECS,
        )
    }

    /// As [`EscrowEnv::create_escrow`] with an explicit training-time estimate.
    pub fn create_escrow_with(
        &mut self,
        user: &User,
        amount: u64,
        epochs_required: u32,
        timeout_secs: i64,
        estimated_secs: u32,
    ) -> Result<(Job, TxOk), TxError> {
        let job = self.next_job();
        let ix = self.create_escrow_ix_with(
            user,
            &job,
            amount,
            epochs_required,
            timeout_secs,
            estimated_secs,
        );
        let ok = self.send(ix, &[&user.wallet])?;
        self.jobs.push(job);
        Ok((job, ok))
    }

    /// Tracks a job created outside [`EscrowEnv::create_escrow`] (for snapshots).
    pub fn track(&mut self, job: Job) {
        if !self.jobs.contains(&job) {
            self.jobs.push(job);
        }
    }

    pub fn assign(&mut self, job: &Job, node_owner: &Pubkey) -> Result<TxOk, TxError> {
        let ix = self.assign_ix(job, node_owner);
        let coordinator = self.coordinator.insecure_clone();
        self.send(ix, &[&coordinator])
    }

    pub fn assign_by_user(
        &mut self,
        job: &Job,
        user: &User,
        node_owner: &Pubkey,
    ) -> Result<TxOk, TxError> {
        let ix = self.assign_by_user_ix(job, &user.key(), node_owner);
        self.send(ix, &[&user.wallet])
    }

    pub fn accept(&mut self, job: &Job, node: &Operator) -> Result<TxOk, TxError> {
        let ix = self.accept_ix(job, &node.key());
        self.send(ix, &[&node.wallet])
    }

    pub fn checkpoint(&mut self, job: &Job, node: &Operator, epoch: u32) -> Result<TxOk, TxError> {
        let ix = self.checkpoint_ix(job, &node.key(), epoch);
        self.send(ix, &[&node.wallet])
    }

    /// Anchors `epoch` with an explicit root.
    pub fn anchor(
        &mut self,
        job: &Job,
        node: &Operator,
        epoch: u32,
        merkle_root: [u8; 32],
    ) -> Result<TxOk, TxError> {
        let ix = self.anchor_ix(job, &node.key(), epoch, merkle_root);
        self.send(ix, &[&node.wallet])
    }

    pub fn complete(&mut self, job: &Job, node: &Operator, epochs: u32) -> Result<TxOk, TxError> {
        let ix = self.complete_ix(job, epochs);
        self.send(ix, &[&node.wallet])
    }

    pub fn submit(
        &mut self,
        job: &Job,
        node: &Operator,
        epochs: u32,
        valid: bool,
    ) -> Result<TxOk, TxError> {
        let ix = self.submit_ix(job, epochs, valid);
        self.send(ix, &[&node.wallet])
    }

    pub fn cancel(&mut self, job: &Job, user: &User) -> Result<TxOk, TxError> {
        let ix = self.cancel_ix(job);
        self.send(ix, &[&user.wallet])
    }

    pub fn refund(&mut self, job: &Job, caller: &Keypair) -> Result<TxOk, TxError> {
        let ix = self.refund_ix(job, &caller.pubkey());
        self.send(ix, &[caller])
    }

    pub fn timeout_refund(&mut self, job: &Job, caller: &Keypair) -> Result<TxOk, TxError> {
        let ix = self.timeout_refund_ix(job, &caller.pubkey());
        self.send(ix, &[caller])
    }

    pub fn timeout_refund_with_slash(
        &mut self,
        job: &Job,
        caller: &Keypair,
    ) -> Result<TxOk, TxError> {
        let ix = self.timeout_refund_with_slash_ix(job, &caller.pubkey());
        self.send(ix, &[caller])
    }

    pub fn close(&mut self, job: &Job, caller: &Keypair) -> Result<TxOk, TxError> {
        let ix = self.close_ix(job, &caller.pubkey());
        self.send(ix, &[caller])
    }

    pub fn freeze(&mut self, job: &Job) -> Result<TxOk, TxError> {
        let ix = self.freeze_ix(job);
        self.send(ix, &[])
    }

    pub fn resolve(
        &mut self,
        job: &Job,
        resolution: job_escrow::DisputeResolution,
    ) -> Result<TxOk, TxError> {
        let ix = self.resolve_ix(job, resolution);
        self.send(ix, &[])
    }

    pub fn release(&mut self, job: &Job, caller: &Keypair) -> Result<TxOk, TxError> {
        let ix = self.release_ix(job, &caller.pubkey());
        self.send(ix, &[caller])
    }

    /// Warps past `job`'s challenge window and releases its stake hold.
    pub fn release_after_window(&mut self, job: &Job) {
        let wait = (self.escrow(job).challenge_until - self.chain.now()).max(0);
        self.chain.warp(wait);
        let anyone = self.env.wallet();
        self.release(job, &anyone).expect("release stake");
    }

    pub fn rate(&mut self, job: &Job, user: &User, stars: u8) -> Result<TxOk, TxError> {
        let ix = self.rate_ix(job, &user.key(), stars);
        self.send(ix, &[&user.wallet])
    }

    pub fn escrow_set_paused(&mut self, paused: bool) -> Result<TxOk, TxError> {
        let admin = self.escrow_admin.insecure_clone();
        let ix = escrow_ix(
            self.escrow_set_paused_accounts(&admin.pubkey()),
            eix::SetPaused { paused },
        );
        self.send(ix, &[&admin])
    }

    pub fn escrow_update_params(
        &mut self,
        authority: &Keypair,
        params: EscrowParams,
    ) -> Result<TxOk, TxError> {
        let ix = escrow_ix(
            self.escrow_update_config_accounts(&authority.pubkey()),
            eix::UpdateParams { params },
        );
        self.send(ix, &[authority])
    }

    pub fn set_treasury(
        &mut self,
        authority: &Keypair,
        treasury: TreasuryAccounts,
    ) -> Result<TxOk, TxError> {
        let ix = escrow_ix(
            self.set_treasury_accounts(&authority.pubkey(), treasury),
            eix::SetTreasury {},
        );
        let result = self.send(ix, &[authority]);
        if result.is_ok() {
            self.treasury = treasury;
        }
        result
    }

    /// Keeps `node`'s heartbeat fresh (after a warp of more than a day).
    pub fn heartbeat_node(&mut self, node: &Operator) {
        self.env.heartbeat(node).expect("heartbeat");
    }

    // ── whole-job helpers ────────────────────────────────────────────────

    /// A Locked escrow of `amount` over `epochs` epochs (default timeout).
    pub fn locked_job(&mut self, user: &User, amount: u64, epochs: u32) -> Job {
        self.create_escrow(user, amount, epochs, 0)
            .expect("create escrow")
            .0
    }

    /// A job assigned to `node`.
    pub fn assigned_job(&mut self, user: &User, node: &Operator, amount: u64, epochs: u32) -> Job {
        let job = self.locked_job(user, amount, epochs);
        self.assign(&job, &node.key()).expect("assign node");
        job
    }

    /// A job `node` accepted (InProgress).
    pub fn accepted_job(&mut self, user: &User, node: &Operator, amount: u64, epochs: u32) -> Job {
        let job = self.assigned_job(user, node, amount, epochs);
        self.accept(&job, node).expect("accept job");
        job
    }

    /// Anchors every epoch from the current progress up to `upto`.
    pub fn checkpoints(&mut self, job: &Job, node: &Operator, upto: u32) {
        let from = self.escrow(job).epochs_done + 1;
        for epoch in from..=upto {
            self.checkpoint(job, node, epoch)
                .expect("anchor checkpoint");
        }
    }

    /// A whole job: create → assign → accept → a checkpoint per epoch → complete.
    pub fn completed_job(&mut self, user: &User, node: &Operator, amount: u64, epochs: u32) -> Job {
        let job = self.accepted_job(user, node, amount, epochs);
        self.checkpoints(&job, node, epochs);
        self.complete(&job, node, epochs).expect("complete payment");
        job
    }
}
