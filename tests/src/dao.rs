//! Dispute/DAO fixture, on top of the escrow fixture [`EscrowEnv`].
//!
//! [`DaoEnv`] is an [`EscrowEnv`] whose chain runs the real Dispute/DAO program at
//! `ids::DISPUTE_DAO` (not the stand-in proxy), initialised by the localnet deployer
//! through the deploy crate with the default parameters; plus:
//!
//! * [`Voter`]s: funded wallets with a token account and a governance deposit;
//! * one `*_accounts` builder per DAO instruction (Anchor's generated accounts structs,
//!   every address explicit, so failure tests can substitute any account) and `*_ix`
//!   builders; [`dao_ix`] turns an accounts struct and instruction data into an
//!   instruction;
//! * readers for the DAO config, disputes, proposals, voter deposits and vote records;
//! * [`DaoEnv::disputed_job`]: a job accepted by a node and disputed by its user.
//!
//! The mint's supply is what the fixture minted, so quorums (bps of supply) are met by
//! depositing the right share of it; [`DaoEnv::quorum_voter`] makes a voter holding
//! exactly the tokens needed.

use std::ops::{Deref, DerefMut};

use anchor_lang::{InstructionData, ToAccountMetas, prelude::Pubkey, system_program};
use cyxwiz_common::{ids, seeds};
use cyxwiz_deploy::programs as deploy;
use dispute_dao::{
    Claim, DaoConfig, DaoParams, Dispute, ParamChange, Proposal, Side, VoteRecord,
    Voter as VoterAccount, accounts as dacc, constants::default_params as dao_default_params,
    instruction as dix,
};
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::{
    TxError, TxOk, config_pda as registry_config_pda,
    escrow::{EscrowEnv, Job, Prover, User},
    node_pda, vault_pda as stake_vault_pda,
};

pub fn dao_ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: dispute_dao::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

pub fn voter_pda(wallet: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[seeds::VOTER, wallet.as_ref()], &dispute_dao::ID).0
}

pub fn dispute_pda(job_id: &[u8; 16]) -> Pubkey {
    Pubkey::find_program_address(&[seeds::DISPUTE, job_id.as_ref()], &dispute_dao::ID).0
}

pub fn proposal_pda(id: u64) -> Pubkey {
    Pubkey::find_program_address(
        &[seeds::PROPOSAL, id.to_le_bytes().as_ref()],
        &dispute_dao::ID,
    )
    .0
}

/// `[VOTE, subject, round, wallet]`.
pub fn vote_pda(subject: &Pubkey, round: u8, wallet: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[seeds::VOTE, subject.as_ref(), &[round], wallet.as_ref()],
        &dispute_dao::ID,
    )
    .0
}

/// A token holder with a governance deposit.
pub struct Voter {
    pub wallet: Keypair,
    pub token: Pubkey,
}

impl Voter {
    pub fn key(&self) -> Pubkey {
        self.wallet.pubkey()
    }
}

/// A chain with NodeRegistry, JobEscrow, ReputationManager and the real Dispute/DAO
/// initialised; see the module docs.
pub struct DaoEnv {
    pub f: EscrowEnv,
    pub dao_admin: Keypair,
}

impl Deref for DaoEnv {
    type Target = EscrowEnv;
    fn deref(&self) -> &EscrowEnv {
        &self.f
    }
}

impl DerefMut for DaoEnv {
    fn deref_mut(&mut self) -> &mut EscrowEnv {
        &mut self.f
    }
}

impl std::fmt::Debug for DaoEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaoEnv").finish_non_exhaustive()
    }
}

impl DaoEnv {
    /// Everything initialised with default parameters over a classic SPL Token mint.
    pub fn new(prover: Prover) -> Self {
        Self::with_params(prover, dao_default_params())
    }

    pub fn with_params(prover: Prover, params: DaoParams) -> Self {
        let mut f = EscrowEnv::build(crate::kit::TOKEN_PROGRAM, prover, true);
        let dao_admin = f.env.wallet();
        let ix = deploy::initialize_dao(
            &ids::DEPLOYER,
            &dao_admin.pubkey(),
            &f.mint,
            &f.token_program,
            params,
        );
        let deployer = cyxwiz_deploy::keys::localnet_deployer();
        f.env
            .chain
            .send(&[ix], &[&deployer])
            .expect("initialize dao");
        f.env.token_accounts.extend([
            deploy::dao_deposit_vault(),
            deploy::dao_treasury(),
            deploy::dao_appeal_vault(),
        ]);
        DaoEnv { f, dao_admin }
    }

    // ── reading state ────────────────────────────────────────────────────

    pub fn dao_config(&self) -> DaoConfig {
        self.chain
            .anchor_account(&deploy::dao_config())
            .expect("dao config exists")
    }

    pub fn try_dispute(&self, job: &Job) -> Option<Dispute> {
        self.chain.anchor_account(&dispute_pda(&job.id))
    }

    pub fn dispute(&self, job: &Job) -> Dispute {
        self.try_dispute(job).expect("dispute exists")
    }

    pub fn proposal(&self, id: u64) -> Proposal {
        self.chain
            .anchor_account(&proposal_pda(id))
            .expect("proposal exists")
    }

    pub fn voter_account(&self, wallet: &Pubkey) -> Option<VoterAccount> {
        self.chain.anchor_account(&voter_pda(wallet))
    }

    pub fn vote_record(&self, subject: &Pubkey, round: u8, wallet: &Pubkey) -> Option<VoteRecord> {
        self.chain.anchor_account(&vote_pda(subject, round, wallet))
    }

    pub fn treasury_balance(&self) -> u64 {
        self.balance(&deploy::dao_treasury())
    }

    pub fn deposit_vault_balance(&self) -> u64 {
        self.balance(&deploy::dao_deposit_vault())
    }

    pub fn appeal_vault_balance(&self) -> u64 {
        self.balance(&deploy::dao_appeal_vault())
    }

    /// Tokens needed for `bps` of the current supply (rounded up).
    pub fn share_of_supply(&self, bps: u16) -> u64 {
        let supply = u128::from(self.supply());
        u64::try_from((supply * u128::from(bps)).div_ceil(10_000)).expect("fits")
    }

    // ── parties ──────────────────────────────────────────────────────────

    /// A wallet holding `tokens`, with a voter account and all of them deposited.
    pub fn voter(&mut self, tokens: u64) -> Voter {
        let wallet = self.f.env.wallet();
        let token = self.f.env.fund_tokens(&wallet.pubkey(), tokens);
        let v = Voter { wallet, token };
        let create = dao_ix(self.create_voter_accounts(&v.key()), dix::CreateVoter {});
        let mut ixs = vec![create];
        if tokens > 0 {
            ixs.push(self.deposit_ix(&v, tokens));
        }
        self.f
            .env
            .chain
            .send(&ixs, &[&v.wallet])
            .expect("create voter and deposit");
        v
    }

    /// Tops `dao` treasury up with `amount` fresh tokens (for voter rewards).
    pub fn fund_treasury(&mut self, amount: u64) {
        let mint = self.mint;
        let authority = self.f.env.mint_authority.insecure_clone();
        self.f
            .env
            .chain
            .mint_to(&mint, &deploy::dao_treasury(), &authority, amount);
    }

    /// A job of `amount` accepted by `node` and disputed by its user.
    pub fn disputed_job(
        &mut self,
        user: &User,
        node: &crate::Operator,
        amount: u64,
        epochs: u32,
    ) -> Job {
        let job = self.f.accepted_job(user, node, amount, epochs);
        self.create_dispute(&job, &user.wallet, Claim::WorkNotDone, [1; 32])
            .expect("create dispute");
        job
    }

    // ── accounts builders ────────────────────────────────────────────────

    pub fn update_config_accounts(&self, authority: &Pubkey) -> dacc::UpdateConfig {
        dacc::UpdateConfig {
            authority: *authority,
            config: deploy::dao_config(),
        }
    }

    pub fn create_voter_accounts(&self, wallet: &Pubkey) -> dacc::CreateVoter {
        dacc::CreateVoter {
            wallet: *wallet,
            voter: voter_pda(wallet),
            system_program: system_program::ID,
        }
    }

    pub fn move_deposit_accounts(
        &self,
        wallet: &Pubkey,
        wallet_token: &Pubkey,
    ) -> dacc::MoveDeposit {
        dacc::MoveDeposit {
            wallet: *wallet,
            config: deploy::dao_config(),
            voter: voter_pda(wallet),
            wallet_token: *wallet_token,
            deposit_vault: deploy::dao_deposit_vault(),
            mint: self.mint,
            token_program: self.token_program,
        }
    }

    pub fn create_dispute_accounts(&self, opener: &Pubkey, job: &Job) -> dacc::CreateDispute {
        let e = self.escrow(job);
        dacc::CreateDispute {
            opener: *opener,
            config: deploy::dao_config(),
            dispute: dispute_pda(&job.id),
            escrow: job.escrow,
            escrow_config: deploy::escrow_config(),
            dispute_authority: ids::dispute_authority(),
            mint: self.mint,
            user_reputation: deploy::user_reputation(&e.user),
            user: e.user,
            escrow_program: job_escrow::ID,
            reputation_program: reputation_manager::ID,
            system_program: system_program::ID,
        }
    }

    pub fn submit_evidence_accounts(&self, party: &Pubkey, job: &Job) -> dacc::SubmitEvidence {
        dacc::SubmitEvidence {
            party: *party,
            dispute: dispute_pda(&job.id),
        }
    }

    pub fn cast_vote_accounts(&self, wallet: &Pubkey, job: &Job) -> dacc::CastVote {
        let dispute = dispute_pda(&job.id);
        let round = self.try_dispute(job).map(|d| d.round).unwrap_or(0);
        dacc::CastVote {
            wallet: *wallet,
            voter: voter_pda(wallet),
            dispute,
            vote_record: vote_pda(&dispute, round, wallet),
            system_program: system_program::ID,
        }
    }

    pub fn tally_accounts(&self, job: &Job) -> dacc::Tally {
        dacc::Tally {
            config: deploy::dao_config(),
            dispute: dispute_pda(&job.id),
        }
    }

    pub fn appeal_accounts(
        &self,
        appellant: &Pubkey,
        appellant_token: &Pubkey,
        job: &Job,
    ) -> dacc::Appeal {
        dacc::Appeal {
            appellant: *appellant,
            config: deploy::dao_config(),
            dispute: dispute_pda(&job.id),
            appellant_token: *appellant_token,
            appeal_vault: deploy::dao_appeal_vault(),
            mint: self.mint,
            token_program: self.token_program,
        }
    }

    pub fn finalize_accounts(&self, job: &Job) -> dacc::Finalize {
        let e = self.escrow(job);
        dacc::Finalize {
            config: deploy::dao_config(),
            dispute: dispute_pda(&job.id),
            dispute_authority: ids::dispute_authority(),
            escrow: job.escrow,
            vault: job.vault,
            mint: self.mint,
            user_token: self.token_of(&e.user),
            node_token: self.token_of(&e.node),
            staking_treasury: self.treasury.staking,
            development_treasury: self.treasury.development,
            liquidity_treasury: self.treasury.liquidity,
            escrow_config: deploy::escrow_config(),
            escrow_authority: ids::escrow_authority(),
            registry_config: registry_config_pda(),
            node: node_pda(&e.node),
            stake_vault: stake_vault_pda(),
            insurance_vault: self.insurance,
            reputation_config: deploy::reputation_config(),
            node_reputation: deploy::node_reputation(&e.node),
            user_reputation: deploy::user_reputation(&e.user),
            dao_treasury: deploy::dao_treasury(),
            appeal_vault: deploy::dao_appeal_vault(),
            token_program: self.token_program,
            escrow_program: job_escrow::ID,
            registry_program: node_registry::ID,
            reputation_program: reputation_manager::ID,
        }
    }

    pub fn claim_reward_accounts(
        &self,
        wallet: &Pubkey,
        wallet_token: &Pubkey,
        job: &Job,
        round: u8,
    ) -> dacc::ClaimVoteReward {
        let dispute = dispute_pda(&job.id);
        dacc::ClaimVoteReward {
            wallet: *wallet,
            config: deploy::dao_config(),
            dispute,
            vote_record: vote_pda(&dispute, round, wallet),
            treasury: deploy::dao_treasury(),
            wallet_token: *wallet_token,
            mint: self.mint,
            token_program: self.token_program,
        }
    }

    pub fn propose_accounts(&self, proposer: &Pubkey) -> dacc::Propose {
        dacc::Propose {
            proposer: *proposer,
            config: deploy::dao_config(),
            voter: voter_pda(proposer),
            mint: self.mint,
            proposal: proposal_pda(self.dao_config().proposal_count),
            system_program: system_program::ID,
        }
    }

    pub fn vote_proposal_accounts(&self, wallet: &Pubkey, id: u64) -> dacc::VoteProposal {
        let proposal = proposal_pda(id);
        dacc::VoteProposal {
            wallet: *wallet,
            voter: voter_pda(wallet),
            proposal,
            vote_record: vote_pda(&proposal, 0, wallet),
            system_program: system_program::ID,
        }
    }

    /// Accounts for executing proposal `id`, targeting the config its change names.
    pub fn execute_proposal_accounts(&self, id: u64) -> dacc::ExecuteProposal {
        let (target_config, target_program) = match self.proposal(id).change {
            ParamChange::Escrow(_) => (deploy::escrow_config(), job_escrow::ID),
            ParamChange::Registry(_) => (deploy::registry_config(), node_registry::ID),
            ParamChange::Reputation(_) => (deploy::reputation_config(), reputation_manager::ID),
            ParamChange::Dao(_) => (deploy::dao_config(), dispute_dao::ID),
        };
        dacc::ExecuteProposal {
            config: deploy::dao_config(),
            proposal: proposal_pda(id),
            governance_authority: ids::governance_authority(),
            target_config,
            target_program,
        }
    }

    pub fn close_proposal_vote_accounts(
        &self,
        wallet: &Pubkey,
        id: u64,
    ) -> dacc::CloseProposalVote {
        let proposal = proposal_pda(id);
        dacc::CloseProposalVote {
            wallet: *wallet,
            proposal,
            vote_record: vote_pda(&proposal, 0, wallet),
        }
    }

    // ── instruction builders ─────────────────────────────────────────────

    pub fn deposit_ix(&self, v: &Voter, amount: u64) -> Instruction {
        dao_ix(
            self.move_deposit_accounts(&v.key(), &v.token),
            dix::Deposit { amount },
        )
    }

    pub fn withdraw_ix(&self, v: &Voter, amount: u64) -> Instruction {
        dao_ix(
            self.move_deposit_accounts(&v.key(), &v.token),
            dix::Withdraw { amount },
        )
    }

    pub fn create_dispute_ix(
        &self,
        job: &Job,
        opener: &Pubkey,
        claim: Claim,
        evidence: [u8; 32],
    ) -> Instruction {
        dao_ix(
            self.create_dispute_accounts(opener, job),
            dix::CreateDispute {
                claim,
                evidence_hash: evidence,
            },
        )
    }

    pub fn evidence_ix(&self, job: &Job, party: &Pubkey, hash: [u8; 32]) -> Instruction {
        dao_ix(
            self.submit_evidence_accounts(party, job),
            dix::SubmitEvidence { hash },
        )
    }

    pub fn vote_ix(&self, job: &Job, wallet: &Pubkey, side: Side) -> Instruction {
        dao_ix(self.cast_vote_accounts(wallet, job), dix::CastVote { side })
    }

    pub fn tally_ix(&self, job: &Job) -> Instruction {
        dao_ix(self.tally_accounts(job), dix::Tally {})
    }

    pub fn appeal_ix(
        &self,
        job: &Job,
        appellant: &Pubkey,
        appellant_token: &Pubkey,
        evidence: [u8; 32],
    ) -> Instruction {
        dao_ix(
            self.appeal_accounts(appellant, appellant_token, job),
            dix::Appeal {
                evidence_hash: evidence,
            },
        )
    }

    pub fn finalize_ix(&self, job: &Job) -> Instruction {
        dao_ix(self.finalize_accounts(job), dix::Finalize {})
    }

    pub fn claim_ix(&self, job: &Job, v: &Voter, round: u8) -> Instruction {
        dao_ix(
            self.claim_reward_accounts(&v.key(), &v.token, job, round),
            dix::ClaimVoteReward {},
        )
    }

    pub fn propose_ix(&self, proposer: &Pubkey, change: ParamChange) -> Instruction {
        dao_ix(
            self.propose_accounts(proposer),
            dix::Propose {
                change,
                description_hash: [7; 32],
            },
        )
    }

    pub fn vote_proposal_ix(&self, wallet: &Pubkey, id: u64, approve: bool) -> Instruction {
        dao_ix(
            self.vote_proposal_accounts(wallet, id),
            dix::VoteProposal { approve },
        )
    }

    /// The target config is marked writable here: the accounts struct leaves it read-only
    /// (so a DAO-params proposal may name the DAO config twice), the CPI needs it writable.
    pub fn execute_proposal_ix(&self, id: u64) -> Instruction {
        let accounts = self.execute_proposal_accounts(id);
        let target = accounts.target_config;
        let mut ix = dao_ix(accounts, dix::ExecuteProposal {});
        for meta in ix.accounts.iter_mut().filter(|m| m.pubkey == target) {
            meta.is_writable = true;
        }
        ix
    }

    // ── sending helpers ──────────────────────────────────────────────────

    pub fn create_dispute(
        &mut self,
        job: &Job,
        opener: &Keypair,
        claim: Claim,
        evidence: [u8; 32],
    ) -> Result<TxOk, TxError> {
        let ix = self.create_dispute_ix(job, &opener.pubkey(), claim, evidence);
        self.f.send(ix, &[opener])
    }

    pub fn vote(&mut self, job: &Job, v: &Voter, side: Side) -> Result<TxOk, TxError> {
        let ix = self.vote_ix(job, &v.key(), side);
        self.f.send(ix, &[&v.wallet])
    }

    pub fn tally(&mut self, job: &Job) -> Result<TxOk, TxError> {
        let ix = self.tally_ix(job);
        self.f.send(ix, &[])
    }

    pub fn finalize(&mut self, job: &Job) -> Result<TxOk, TxError> {
        let ix = self.finalize_ix(job);
        self.f.send(ix, &[])
    }

    /// Warps forward to `at` (no-op if it has passed).
    pub fn warp_until(&mut self, at: i64) {
        let wait = (at - self.chain.now()).max(0);
        self.f.env.chain.warp(wait);
    }

    /// Warps past the dispute's evidence window (voting opens).
    pub fn warp_to_voting(&mut self, job: &Job) {
        self.warp_until(self.dispute(job).evidence_end);
    }

    /// Warps past the dispute's voting end.
    pub fn warp_past_voting(&mut self, job: &Job) {
        self.warp_until(self.dispute(job).voting_end);
    }

    /// Warps past the dispute's appeal deadline.
    pub fn warp_past_appeal(&mut self, job: &Job) {
        self.warp_until(self.dispute(job).appeal_deadline);
    }
}
