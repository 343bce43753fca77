//! Shared fixture for the CyxWiz program tests.
//!
//! [`Env`] is a fresh native chain with the programs of [`programs`] registered, a
//! 9-decimal stake mint (classic SPL Token or Token-2022), an insurance token account and
//! an initialised NodeRegistry with the default parameters. On top of it:
//!
//! * [`Operator`]s: funded wallets with a token account holding stake tokens;
//! * one `*_accounts` builder per registry instruction returning Anchor's generated
//!   accounts struct filled with the right addresses, so a failure test can substitute
//!   any account before turning it into an instruction with [`registry_ix`];
//! * one `*_ix` builder and one sending helper per instruction for the happy paths;
//! * [`Snapshot`]s of every balance and stake the registry touches, to assert that a
//!   failed transaction moved nothing, and [`Env::assert_conserved`] for the invariant
//!   `vault balance == config.total_staked == Σ node stakes`;
//! * state forging ([`Env::set_node`], [`Env::forge_copy`]) for states no registry-only
//!   test can reach (active jobs) and for accounts at the wrong address.

pub mod dao;
pub mod escrow;

use anchor_lang::{InstructionData, ToAccountMetas, prelude::Pubkey, system_program};
use cyxwiz_common::{ids, seeds, units::DECIMALS};
pub use cyxwiz_native_svm::{
    TestChain, TxError, TxOk, assert_anchor_err, assert_ix_err, kit, native_program,
};
use node_registry::{
    Capabilities, JobOutcome, NodeAccount, RegistryConfig, RegistryParams, SlashReason, accounts,
    constants::default_params, instruction as rix,
};
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_program_runtime::invoke_context::BuiltinFunctionRegisterer;
use solana_signer::Signer;

/// Lamports given to every wallet the fixture creates (rent for node accounts, fees).
pub const WALLET_LAMPORTS: u64 = 10_000_000_000;

/// The programs every test chain runs natively. Dispute/DAO is added by the fixtures:
/// the escrow fixture registers a stand-in at its id, the DAO fixture the real program.
pub fn programs() -> Vec<(Pubkey, BuiltinFunctionRegisterer)> {
    vec![
        (node_registry::ID, native_program!(node_registry::entry)),
        (job_escrow::ID, native_program!(job_escrow::entry)),
        (
            reputation_manager::ID,
            native_program!(reputation_manager::entry),
        ),
    ]
}

/// The localnet deployer, the only key allowed to initialise the programs
/// (`deploy/keys/localnet/deployer-keypair.json`, a Solana-CLI keypair file).
pub fn deployer_keypair() -> Keypair {
    let bytes: Vec<u8> = serde_json::from_str(include_str!(
        "../../deploy/keys/localnet/deployer-keypair.json"
    ))
    .expect("deployer keypair file is a JSON byte array");
    let kp = Keypair::try_from(&bytes[..]).expect("deployer keypair is 64 valid bytes");
    assert_eq!(
        kp.pubkey(),
        ids::DEPLOYER,
        "deployer keypair file does not match ids::DEPLOYER"
    );
    kp
}

/// `[REGISTRY_CONFIG]` under NodeRegistry.
pub fn config_pda() -> Pubkey {
    Pubkey::find_program_address(&[seeds::REGISTRY_CONFIG], &node_registry::ID).0
}

/// `[STAKE_VAULT]` under NodeRegistry.
pub fn vault_pda() -> Pubkey {
    Pubkey::find_program_address(&[seeds::STAKE_VAULT], &node_registry::ID).0
}

/// `[NODE, owner]` under NodeRegistry.
pub fn node_pda(owner: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[seeds::NODE, owner.as_ref()], &node_registry::ID).0
}

/// A NodeRegistry instruction from an accounts struct (possibly with substituted
/// accounts) and Anchor's instruction data struct.
pub fn registry_ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: node_registry::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

/// `ix` with `who` no longer marked as a signer (to test a missing signature).
pub fn without_signer(mut ix: Instruction, who: &Pubkey) -> Instruction {
    for meta in ix.accounts.iter_mut().filter(|m| m.pubkey == *who) {
        meta.is_signer = false;
    }
    ix
}

/// Capabilities a typical GPU node declares.
pub fn sample_capabilities() -> Capabilities {
    Capabilities {
        cpu_cores: 32,
        ram_mb: 131_072,
        gpu_count: 2,
        gpu_vram_mb: 24_576,
        storage_gb: 2_000,
        bandwidth_mbps: 1_000,
        flags: 0b1,
    }
}

/// A node operator: a funded wallet and its token account for the stake mint.
pub struct Operator {
    pub wallet: Keypair,
    pub token: Pubkey,
}

impl Operator {
    /// The wallet's address (the node's owner).
    pub fn key(&self) -> Pubkey {
        self.wallet.pubkey()
    }

    /// The node account this operator registers.
    pub fn node(&self) -> Pubkey {
        node_pda(&self.key())
    }

    /// The node id this fixture registers the operator's node with (its wallet bytes).
    pub fn node_id(&self) -> [u8; 32] {
        self.key().to_bytes()
    }
}

/// Every balance and stake the registry can move, to compare before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub vault: u64,
    pub insurance: u64,
    pub supply: u64,
    pub total_staked: u64,
    pub node_count: u64,
    /// Balance of every token account the fixture created, in creation order.
    pub tokens: Vec<(Pubkey, u64)>,
    /// Stake of every operator's node (`None` if it has no node account).
    pub stakes: Vec<(Pubkey, Option<u64>)>,
    /// Raw data of the config and of every operator's node account, so any state change
    /// shows up too.
    pub raw: Vec<(Pubkey, Option<Vec<u8>>)>,
}

/// A chain with an initialised NodeRegistry; see the crate docs.
pub struct Env {
    pub chain: TestChain,
    pub deployer: Keypair,
    pub admin: Keypair,
    pub mint: Pubkey,
    pub mint_authority: Keypair,
    /// The insurance pool token account configured at initialisation.
    pub insurance: Pubkey,
    pub insurance_owner: Keypair,
    pub token_program: Pubkey,
    /// Owners of every operator created by [`Env::operator`].
    pub operators: Vec<Pubkey>,
    /// Every token account created by the fixture.
    pub token_accounts: Vec<Pubkey>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("mint", &self.mint)
            .field("token_program", &self.token_program)
            .finish_non_exhaustive()
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    /// An initialised registry over a classic SPL Token mint.
    pub fn new() -> Self {
        Self::new_with(kit::TOKEN_PROGRAM)
    }

    /// An initialised registry over a mint of `token_program` (Token or Token-2022).
    pub fn new_with(token_program: Pubkey) -> Self {
        let mut env = Self::uninitialized(token_program);
        let ix = env.initialize_ix(default_params());
        let deployer = env.deployer.insecure_clone();
        env.chain
            .send(&[ix], &[&deployer])
            .expect("initialize registry");
        env
    }

    /// Chain, mint, insurance account and funded deployer/admin, registry not initialised.
    pub fn uninitialized(token_program: Pubkey) -> Self {
        let mut chain = TestChain::new(&programs());
        let deployer = deployer_keypair();
        chain.fund(&deployer.pubkey(), WALLET_LAMPORTS);
        let admin = chain.funded_keypair(WALLET_LAMPORTS);
        let mint_authority = Keypair::new();
        let mint = chain.create_mint(&mint_authority.pubkey(), DECIMALS, &token_program);
        let insurance_owner = Keypair::new();
        let insurance = chain.create_token_account(&mint, &insurance_owner.pubkey());
        Env {
            chain,
            deployer,
            admin,
            mint,
            mint_authority,
            insurance,
            insurance_owner,
            token_program,
            operators: Vec::new(),
            token_accounts: vec![insurance],
        }
    }

    // ── reading state ────────────────────────────────────────────────────

    pub fn config(&self) -> RegistryConfig {
        self.chain
            .anchor_account(&config_pda())
            .expect("registry config exists")
    }

    /// The node account of `owner`, if it exists.
    pub fn node(&self, owner: &Pubkey) -> Option<NodeAccount> {
        self.chain.anchor_account(&node_pda(owner))
    }

    pub fn vault_balance(&self) -> u64 {
        self.chain.token_balance(&vault_pda())
    }

    pub fn balance(&self, token_account: &Pubkey) -> u64 {
        self.chain.token_balance(token_account)
    }

    pub fn supply(&self) -> u64 {
        self.chain.mint_supply(&self.mint)
    }

    /// Every balance and stake the registry can move.
    pub fn snapshot(&self) -> Snapshot {
        let config = self.config();
        Snapshot {
            vault: self.vault_balance(),
            insurance: self.balance(&self.insurance),
            supply: self.supply(),
            total_staked: config.total_staked,
            node_count: config.node_count,
            tokens: self
                .token_accounts
                .iter()
                .map(|t| (*t, self.balance(t)))
                .collect(),
            stakes: self
                .operators
                .iter()
                .map(|o| (*o, self.node(o).map(|n| n.stake)))
                .collect(),
            raw: std::iter::once(config_pda())
                .chain(self.operators.iter().map(node_pda))
                .map(|k| (k, self.chain.account(&k).map(|a| a.data)))
                .collect(),
        }
    }

    /// `vault balance == config.total_staked == Σ stakes of all operators' nodes`.
    #[track_caller]
    pub fn assert_conserved(&self) {
        let snap = self.snapshot();
        let sum: u64 = snap.stakes.iter().filter_map(|(_, s)| *s).sum();
        assert_eq!(
            snap.vault, snap.total_staked,
            "vault balance != config.total_staked"
        );
        assert_eq!(
            snap.total_staked, sum,
            "config.total_staked != sum of node stakes"
        );
    }

    /// Every base unit ever minted is in the vault or a fixture-created token account:
    /// nothing is created or lost except by burning (which lowers the supply).
    #[track_caller]
    pub fn assert_supply_accounted(&self) {
        let held: u64 = self.token_accounts.iter().map(|t| self.balance(t)).sum();
        assert_eq!(
            self.supply(),
            self.vault_balance() + held,
            "mint supply != tokens held"
        );
    }

    // ── wallets and tokens ───────────────────────────────────────────────

    /// A new token account of the stake mint owned by `owner`, holding `amount`.
    pub fn fund_tokens(&mut self, owner: &Pubkey, amount: u64) -> Pubkey {
        let account = self.chain.create_token_account(&self.mint, owner);
        if amount > 0 {
            let authority = self.mint_authority.insecure_clone();
            self.chain.mint_to(&self.mint, &account, &authority, amount);
        }
        self.token_accounts.push(account);
        account
    }

    /// A funded wallet with a token account holding `tokens` of the stake mint.
    pub fn operator(&mut self, tokens: u64) -> Operator {
        let wallet = self.chain.funded_keypair(WALLET_LAMPORTS);
        let token = self.fund_tokens(&wallet.pubkey(), tokens);
        self.operators.push(wallet.pubkey());
        Operator { wallet, token }
    }

    /// A funded wallet that is not an operator (attackers, other authorities).
    pub fn wallet(&mut self) -> Keypair {
        self.chain.funded_keypair(WALLET_LAMPORTS)
    }

    /// A second mint of the same token program, with a token account of `owner` holding
    /// `amount` of it: `(mint, token_account)`.
    pub fn other_mint_account(&mut self, owner: &Pubkey, amount: u64) -> (Pubkey, Pubkey) {
        let authority = self.mint_authority.insecure_clone();
        let mint = self
            .chain
            .create_mint(&authority.pubkey(), DECIMALS, &self.token_program);
        let account = self.chain.create_token_account(&mint, owner);
        if amount > 0 {
            self.chain.mint_to(&mint, &account, &authority, amount);
        }
        (mint, account)
    }

    // ── state forging ────────────────────────────────────────────────────

    /// Rewrites `owner`'s node account in place (for states only JobEscrow could reach).
    pub fn set_node(&mut self, owner: &Pubkey, f: impl FnOnce(&mut NodeAccount)) {
        let mut node = self.node(owner).expect("node exists");
        f(&mut node);
        self.chain.write_anchor_account(&node_pda(owner), &node);
    }

    /// Copies the account at `src` (same owner program, lamports and data) to a fresh
    /// address and returns it: a well-formed account at an address that is not its PDA.
    pub fn forge_copy(&mut self, src: &Pubkey) -> Pubkey {
        let acc = self.chain.account(src).expect("source account exists");
        let dst = Pubkey::new_unique();
        self.chain
            .svm
            .set_account(dst, acc)
            .expect("set forged account");
        dst
    }

    /// Like [`Env::forge_copy`] for the config, with `f` applied to the copy.
    pub fn forge_config(&mut self, f: impl FnOnce(&mut RegistryConfig)) -> Pubkey {
        let dst = self.forge_copy(&config_pda());
        let mut config = self.config();
        f(&mut config);
        self.chain.write_anchor_account(&dst, &config);
        dst
    }

    // ── accounts builders (substitute fields, then `registry_ix`) ────────

    pub fn initialize_accounts(&self) -> accounts::Initialize {
        accounts::Initialize {
            deployer: self.deployer.pubkey(),
            admin: self.admin.pubkey(),
            config: config_pda(),
            stake_mint: self.mint,
            stake_vault: vault_pda(),
            insurance_vault: self.insurance,
            token_program: self.token_program,
            system_program: system_program::ID,
        }
    }

    /// For `update_params` and `set_admin`.
    pub fn update_config_accounts(&self, authority: &Pubkey) -> accounts::UpdateConfig {
        accounts::UpdateConfig {
            authority: *authority,
            config: config_pda(),
        }
    }

    pub fn set_insurance_vault_accounts(
        &self,
        authority: &Pubkey,
        insurance_vault: &Pubkey,
    ) -> accounts::SetInsuranceVault {
        accounts::SetInsuranceVault {
            authority: *authority,
            config: config_pda(),
            insurance_vault: *insurance_vault,
        }
    }

    pub fn set_paused_accounts(&self, admin: &Pubkey) -> accounts::SetPaused {
        accounts::SetPaused {
            admin: *admin,
            config: config_pda(),
        }
    }

    pub fn slash_accounts(&self, authority: &Pubkey, node_owner: &Pubkey) -> accounts::Slash {
        accounts::Slash {
            authority: *authority,
            config: config_pda(),
            node: node_pda(node_owner),
            stake_vault: vault_pda(),
            insurance_vault: self.config().insurance_vault,
            stake_mint: self.mint,
            token_program: self.token_program,
        }
    }

    pub fn register_node_accounts(
        &self,
        owner: &Pubkey,
        owner_token: &Pubkey,
    ) -> accounts::RegisterNode {
        accounts::RegisterNode {
            owner: *owner,
            config: config_pda(),
            node: node_pda(owner),
            owner_token: *owner_token,
            stake_vault: vault_pda(),
            stake_mint: self.mint,
            token_program: self.token_program,
            system_program: system_program::ID,
        }
    }

    pub fn stake_more_accounts(&self, owner: &Pubkey, owner_token: &Pubkey) -> accounts::StakeMore {
        accounts::StakeMore {
            owner: *owner,
            config: config_pda(),
            node: node_pda(owner),
            owner_token: *owner_token,
            stake_vault: vault_pda(),
            stake_mint: self.mint,
            token_program: self.token_program,
        }
    }

    /// For `update_heartbeat`, `update_capabilities`, `request_unstake`, `cancel_unstake`.
    pub fn node_owner_accounts(&self, owner: &Pubkey) -> accounts::NodeOwnerAction {
        accounts::NodeOwnerAction {
            owner: *owner,
            config: config_pda(),
            node: node_pda(owner),
        }
    }

    pub fn withdraw_accounts(
        &self,
        owner: &Pubkey,
        owner_token: &Pubkey,
    ) -> accounts::WithdrawStake {
        accounts::WithdrawStake {
            owner: *owner,
            config: config_pda(),
            node: node_pda(owner),
            owner_token: *owner_token,
            stake_vault: vault_pda(),
            stake_mint: self.mint,
            token_program: self.token_program,
        }
    }

    pub fn lock_for_job_accounts(
        &self,
        escrow_authority: &Pubkey,
        node_owner: &Pubkey,
    ) -> accounts::LockForJob {
        accounts::LockForJob {
            escrow_authority: *escrow_authority,
            config: config_pda(),
            node: node_pda(node_owner),
        }
    }

    pub fn record_outcome_accounts(
        &self,
        escrow_authority: &Pubkey,
        node_owner: &Pubkey,
    ) -> accounts::RecordOutcome {
        accounts::RecordOutcome {
            escrow_authority: *escrow_authority,
            config: config_pda(),
            node: node_pda(node_owner),
            stake_vault: vault_pda(),
            insurance_vault: self.config().insurance_vault,
            stake_mint: self.mint,
            token_program: self.token_program,
        }
    }

    // ── instruction builders with the right accounts ─────────────────────

    pub fn initialize_ix(&self, params: RegistryParams) -> Instruction {
        registry_ix(self.initialize_accounts(), rix::Initialize { params })
    }

    pub fn update_params_ix(&self, authority: &Pubkey, params: RegistryParams) -> Instruction {
        registry_ix(
            self.update_config_accounts(authority),
            rix::UpdateParams { params },
        )
    }

    pub fn set_admin_ix(&self, authority: &Pubkey, new_admin: Pubkey) -> Instruction {
        registry_ix(
            self.update_config_accounts(authority),
            rix::SetAdmin { new_admin },
        )
    }

    pub fn set_insurance_vault_ix(&self, authority: &Pubkey, vault: &Pubkey) -> Instruction {
        registry_ix(
            self.set_insurance_vault_accounts(authority, vault),
            rix::SetInsuranceVault {},
        )
    }

    pub fn set_paused_ix(&self, admin: &Pubkey, paused: bool) -> Instruction {
        registry_ix(self.set_paused_accounts(admin), rix::SetPaused { paused })
    }

    pub fn slash_ix(
        &self,
        authority: &Pubkey,
        node_owner: &Pubkey,
        reason: SlashReason,
    ) -> Instruction {
        registry_ix(
            self.slash_accounts(authority, node_owner),
            rix::Slash { reason },
        )
    }

    pub fn register_node_ix(&self, op: &Operator, stake: u64) -> Instruction {
        registry_ix(
            self.register_node_accounts(&op.key(), &op.token),
            rix::RegisterNode {
                node_id: op.node_id(),
                stake,
                capabilities: sample_capabilities(),
            },
        )
    }

    pub fn stake_more_ix(&self, op: &Operator, amount: u64) -> Instruction {
        registry_ix(
            self.stake_more_accounts(&op.key(), &op.token),
            rix::StakeMore { amount },
        )
    }

    pub fn heartbeat_ix(&self, owner: &Pubkey) -> Instruction {
        registry_ix(self.node_owner_accounts(owner), rix::UpdateHeartbeat {})
    }

    pub fn update_capabilities_ix(
        &self,
        owner: &Pubkey,
        capabilities: Capabilities,
    ) -> Instruction {
        registry_ix(
            self.node_owner_accounts(owner),
            rix::UpdateCapabilities { capabilities },
        )
    }

    pub fn request_unstake_ix(&self, owner: &Pubkey) -> Instruction {
        registry_ix(self.node_owner_accounts(owner), rix::RequestUnstake {})
    }

    pub fn cancel_unstake_ix(&self, owner: &Pubkey) -> Instruction {
        registry_ix(self.node_owner_accounts(owner), rix::CancelUnstake {})
    }

    pub fn withdraw_ix(&self, op: &Operator) -> Instruction {
        registry_ix(
            self.withdraw_accounts(&op.key(), &op.token),
            rix::WithdrawStake {},
        )
    }

    pub fn lock_for_job_ix(
        &self,
        authority: &Pubkey,
        node_owner: &Pubkey,
        job_amount: u64,
    ) -> Instruction {
        registry_ix(
            self.lock_for_job_accounts(authority, node_owner),
            rix::LockForJob { job_amount },
        )
    }

    pub fn record_outcome_ix(
        &self,
        authority: &Pubkey,
        node_owner: &Pubkey,
        job_amount: u64,
        outcome: JobOutcome,
    ) -> Instruction {
        registry_ix(
            self.record_outcome_accounts(authority, node_owner),
            rix::RecordOutcome {
                job_amount,
                outcome,
            },
        )
    }

    // ── sending helpers ──────────────────────────────────────────────────

    /// Sends one instruction signed by `signers`.
    pub fn send(&mut self, ix: Instruction, signers: &[&Keypair]) -> Result<TxOk, TxError> {
        self.chain.send(&[ix], signers)
    }

    /// Registers `op`'s node with `stake` (node id = its wallet bytes, sample capabilities).
    pub fn register_node(&mut self, op: &Operator, stake: u64) -> Result<TxOk, TxError> {
        let ix = self.register_node_ix(op, stake);
        self.send(ix, &[&op.wallet])
    }

    pub fn stake_more(&mut self, op: &Operator, amount: u64) -> Result<TxOk, TxError> {
        let ix = self.stake_more_ix(op, amount);
        self.send(ix, &[&op.wallet])
    }

    pub fn heartbeat(&mut self, op: &Operator) -> Result<TxOk, TxError> {
        let ix = self.heartbeat_ix(&op.key());
        self.send(ix, &[&op.wallet])
    }

    pub fn update_capabilities(
        &mut self,
        op: &Operator,
        caps: Capabilities,
    ) -> Result<TxOk, TxError> {
        let ix = self.update_capabilities_ix(&op.key(), caps);
        self.send(ix, &[&op.wallet])
    }

    pub fn request_unstake(&mut self, op: &Operator) -> Result<TxOk, TxError> {
        let ix = self.request_unstake_ix(&op.key());
        self.send(ix, &[&op.wallet])
    }

    pub fn cancel_unstake(&mut self, op: &Operator) -> Result<TxOk, TxError> {
        let ix = self.cancel_unstake_ix(&op.key());
        self.send(ix, &[&op.wallet])
    }

    pub fn withdraw(&mut self, op: &Operator) -> Result<TxOk, TxError> {
        let ix = self.withdraw_ix(op);
        self.send(ix, &[&op.wallet])
    }

    pub fn slash(
        &mut self,
        authority: &Keypair,
        node_owner: &Pubkey,
        reason: SlashReason,
    ) -> Result<TxOk, TxError> {
        let ix = self.slash_ix(&authority.pubkey(), node_owner, reason);
        self.send(ix, &[authority])
    }

    /// Slash signed by the admin.
    pub fn admin_slash(
        &mut self,
        node_owner: &Pubkey,
        reason: SlashReason,
    ) -> Result<TxOk, TxError> {
        let admin = self.admin.insecure_clone();
        self.slash(&admin, node_owner, reason)
    }

    pub fn set_paused(&mut self, admin: &Keypair, paused: bool) -> Result<TxOk, TxError> {
        let ix = self.set_paused_ix(&admin.pubkey(), paused);
        self.send(ix, &[admin])
    }

    pub fn update_params(
        &mut self,
        authority: &Keypair,
        params: RegistryParams,
    ) -> Result<TxOk, TxError> {
        let ix = self.update_params_ix(&authority.pubkey(), params);
        self.send(ix, &[authority])
    }

    pub fn set_admin(&mut self, authority: &Keypair, new_admin: Pubkey) -> Result<TxOk, TxError> {
        let ix = self.set_admin_ix(&authority.pubkey(), new_admin);
        self.send(ix, &[authority])
    }

    pub fn set_insurance_vault(
        &mut self,
        authority: &Keypair,
        vault: &Pubkey,
    ) -> Result<TxOk, TxError> {
        let ix = self.set_insurance_vault_ix(&authority.pubkey(), vault);
        self.send(ix, &[authority])
    }

    pub fn lock_for_job(
        &mut self,
        signer: &Keypair,
        node_owner: &Pubkey,
        job_amount: u64,
    ) -> Result<TxOk, TxError> {
        let ix = self.lock_for_job_ix(&signer.pubkey(), node_owner, job_amount);
        self.send(ix, &[signer])
    }

    pub fn record_outcome(
        &mut self,
        signer: &Keypair,
        node_owner: &Pubkey,
        job_amount: u64,
        outcome: JobOutcome,
    ) -> Result<TxOk, TxError> {
        let ix = self.record_outcome_ix(&signer.pubkey(), node_owner, job_amount, outcome);
        self.send(ix, &[signer])
    }

    // ── common sequences ─────────────────────────────────────────────────

    /// An operator holding `tokens`, with a node registered staking `stake` of them.
    pub fn registered(&mut self, tokens: u64, stake: u64) -> Operator {
        let op = self.operator(tokens);
        self.register_node(&op, stake).expect("register node");
        op
    }

    /// Warps past `op`'s lock and requests the unstake.
    pub fn start_unstake(&mut self, op: &Operator) {
        let node = self.node(&op.key()).expect("node exists");
        let wait = (node.locked_until - self.chain.now()).max(0);
        self.chain.warp(wait);
        self.request_unstake(op).expect("request unstake");
    }

    /// Warps past `op`'s lock, requests the unstake and waits out the cooldown.
    pub fn ready_to_withdraw(&mut self, op: &Operator) {
        self.start_unstake(op);
        let cooldown = self.config().params.unstake_cooldown_secs;
        self.chain.warp(cooldown);
    }
}
