//! The dispute lifecycle up to the verdict: `create_dispute` (a party; freezes the escrow),
//! `submit_evidence` (both parties, during the evidence window), `cast_vote` (depositors,
//! during the voting window), `tally` (anyone, after voting), `appeal` (the loser, within
//! the appeal window; one re-vote at the higher quorum), and `claim_vote_reward`.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{self, Mint, TokenAccount, TokenInterface, TransferChecked};
use cyxwiz_common::{emit_event, seeds};
use job_escrow::{Escrow, EscrowConfig, EscrowState, program::JobEscrow};
use reputation_manager::program::ReputationManager;

use super::{
    pay_from_vault,
    pda::{Ballot, NewPda},
};
use crate::{
    error::DaoError,
    events::{DisputeAppealed, DisputeCreated, DisputeTallied, EvidenceSubmitted, RewardClaimed},
    state::{
        Claim, DaoConfig, DaoParams, Dispute, DisputeState, Side, Verdict, VoteChoice, VoteRecord,
        Voter,
    },
};

#[derive(Accounts)]
pub struct CreateDispute<'info> {
    #[account(mut)]
    pub opener: Signer<'info>,
    #[account(mut, seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    /// CHECK: created here; `[DISPUTE, job_id]` under this program.
    #[account(mut, seeds = [seeds::DISPUTE, escrow.job_id.as_ref()], bump)]
    pub dispute: UncheckedAccount<'info>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        seeds::program = job_escrow::ID,
    )]
    pub escrow: Box<Account<'info, Escrow>>,
    #[account(
        seeds = [seeds::ESCROW_CONFIG],
        bump = escrow_config.bump,
        seeds::program = job_escrow::ID,
    )]
    pub escrow_config: Box<Account<'info, EscrowConfig>>,
    /// CHECK: this program's verdict PDA; signs the freeze.
    #[account(seeds = [seeds::DISPUTE_AUTHORITY], bump = config.dispute_authority_bump)]
    pub dispute_authority: UncheckedAccount<'info>,
    #[account(address = config.mint @ DaoError::WrongMint)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    /// CHECK: the user's standing in ReputationManager, created here if missing.
    #[account(
        mut,
        seeds = [seeds::USER_REPUTATION, escrow.user.as_ref()],
        bump,
        seeds::program = reputation_manager::ID,
    )]
    pub user_reputation: UncheckedAccount<'info>,
    /// CHECK: the job's user wallet (named for the user-reputation CPI).
    #[account(address = escrow.user @ DaoError::WrongAccount)]
    pub user: UncheckedAccount<'info>,
    pub escrow_program: Program<'info, JobEscrow>,
    pub reputation_program: Program<'info, ReputationManager>,
    pub system_program: Program<'info, System>,
}

impl CreateDispute<'_> {
    pub fn handle(&mut self, claim: Claim, evidence_hash: [u8; 32], bump: u8) -> Result<()> {
        let escrow = &self.escrow;
        let opener = self.opener.key();
        require!(
            opener == escrow.user || opener == escrow.node,
            DaoError::NotParty
        );
        // A paid job (within its challenge window, which JobEscrow checks) can only be
        // claimed to be fraud by its user; the node has nothing left to claim.
        let paid = escrow.state == EscrowState::Completed;
        require!(
            !paid || opener == escrow.user,
            DaoError::OnlyUserAfterPayment
        );
        let repay_from_stake = if paid { escrow.amount } else { 0 };
        // Checked before the freeze so a second dispute gets this error, not the escrow's.
        if *self.dispute.owner == crate::ID || !self.dispute.data_is_empty() {
            return err!(DaoError::DisputeExists);
        }
        let now = Clock::get()?.unix_timestamp;
        let params = self.config.params;

        let da_bump = [self.config.dispute_authority_bump];
        let signer: &[&[&[u8]]] = &[&[seeds::DISPUTE_AUTHORITY, &da_bump]];
        job_escrow::cpi::freeze_for_dispute(CpiContext::new_with_signer(
            job_escrow::ID,
            job_escrow::cpi::accounts::FreezeForDispute {
                dispute_authority: self.dispute_authority.to_account_info(),
                config: self.escrow_config.to_account_info(),
                escrow: self.escrow.to_account_info(),
            },
            signer,
        ))?;
        if self.user_reputation.data_is_empty() {
            reputation_manager::cpi::init_user_reputation(CpiContext::new(
                reputation_manager::ID,
                reputation_manager::cpi::accounts::InitUserReputation {
                    payer: self.opener.to_account_info(),
                    wallet: self.user.to_account_info(),
                    reputation: self.user_reputation.to_account_info(),
                    system_program: self.system_program.to_account_info(),
                },
            ))?;
        }

        let (evidence_end, voting_end) = params.dispute_windows(now)?;
        let quorum = DaoParams::of_supply(self.mint.supply, params.dispute_quorum_bps)?;
        let escrow = &self.escrow;
        let mut dispute = Dispute {
            job_id: escrow.job_id,
            escrow: escrow.key(),
            user: escrow.user,
            node: escrow.node,
            opener,
            claim,
            state: DisputeState::Open,
            round: 0,
            opened_at: now,
            evidence_end,
            voting_end,
            quorum,
            votes_user: 0,
            votes_node: 0,
            voters: 0,
            verdict: Verdict::NoDecision,
            appealed_verdict: Verdict::NoDecision,
            appeal_deadline: 0,
            appellant: Pubkey::default(),
            appeal_deposit: 0,
            executed_at: 0,
            user_evidence: Default::default(),
            user_evidence_count: 0,
            node_evidence: Default::default(),
            node_evidence_count: 0,
            bump,
            repay_from_stake,
        };
        dispute.add_evidence(&opener, evidence_hash)?;
        let job_id = dispute.job_id;
        let bump_seed = [bump];
        NewPda {
            payer: &self.opener.to_account_info(),
            target: &self.dispute.to_account_info(),
            system_program: &self.system_program.to_account_info(),
            seeds: &[seeds::DISPUTE, &job_id, &bump_seed],
        }
        .create(&dispute, DaoError::DisputeExists)?;
        self.config.dispute_count = self.config.dispute_count.saturating_add(1);
        emit_event!(DisputeCreated {
            job_id,
            opener,
            claim,
            evidence_hash,
            evidence_end,
            voting_end,
            quorum,
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct SubmitEvidence<'info> {
    pub party: Signer<'info>,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.job_id.as_ref()], bump = dispute.bump)]
    pub dispute: Box<Account<'info, Dispute>>,
}

impl SubmitEvidence<'_> {
    pub fn handle(&mut self, hash: [u8; 32]) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let dispute = &mut self.dispute;
        require!(
            dispute.state == DisputeState::Open,
            DaoError::InvalidDisputeState
        );
        require!(now < dispute.evidence_end, DaoError::EvidenceWindowClosed);
        let party = self.party.key();
        let index = dispute.add_evidence(&party, hash)?;
        emit_event!(EvidenceSubmitted {
            job_id: dispute.job_id,
            party,
            hash,
            index: index - 1
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct CastVote<'info> {
    #[account(mut)]
    pub wallet: Signer<'info>,
    #[account(mut, seeds = [seeds::VOTER, wallet.key().as_ref()], bump = voter.bump)]
    pub voter: Account<'info, Voter>,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.job_id.as_ref()], bump = dispute.bump)]
    pub dispute: Box<Account<'info, Dispute>>,
    /// CHECK: created here; `[VOTE, dispute, round, wallet]`.
    #[account(
        mut,
        seeds = [seeds::VOTE, dispute.key().as_ref(), &[dispute.round], wallet.key().as_ref()],
        bump,
    )]
    pub vote_record: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

impl CastVote<'_> {
    pub fn handle(&mut self, side: Side, bump: u8) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let wallet = self.wallet.key();
        let dispute = &mut self.dispute;
        require!(
            dispute.state == DisputeState::Open,
            DaoError::InvalidDisputeState
        );
        require!(now >= dispute.evidence_end, DaoError::VotingNotStarted);
        require!(now < dispute.voting_end, DaoError::VotingEnded);
        require!(!dispute.is_party(&wallet), DaoError::PartyCannotVote);
        let subject = dispute.key();
        let weight = Ballot {
            wallet: &self.wallet.to_account_info(),
            voter: &mut self.voter,
            vote_record: &self.vote_record.to_account_info(),
            system_program: &self.system_program.to_account_info(),
        }
        .cast(
            subject,
            dispute.round,
            VoteChoice::Dispute(side),
            dispute.voting_end,
            bump,
        )?;
        match side {
            Side::UserFavor => {
                dispute.votes_user = dispute
                    .votes_user
                    .checked_add(weight)
                    .ok_or(DaoError::Overflow)?
            }
            Side::NodeFavor => {
                dispute.votes_node = dispute
                    .votes_node
                    .checked_add(weight)
                    .ok_or(DaoError::Overflow)?
            }
        }
        dispute.voters = dispute.voters.saturating_add(1);
        Ok(())
    }
}

#[derive(Accounts)]
pub struct Tally<'info> {
    #[account(seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.job_id.as_ref()], bump = dispute.bump)]
    pub dispute: Box<Account<'info, Dispute>>,
}

impl Tally<'_> {
    /// Counts the round. A first-round verdict for a side can be appealed until the
    /// deadline; "no decision" and an appeal's result are final at once. An appeal that
    /// fails to reach its quorum or ties leaves the first verdict standing.
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let params = self.config.params;
        let dispute = &mut self.dispute;
        require!(
            dispute.state == DisputeState::Open,
            DaoError::InvalidDisputeState
        );
        require!(now >= dispute.voting_end, DaoError::VotingNotEnded);
        let counted = dispute.count();
        if dispute.round == 0 {
            dispute.verdict = counted;
            dispute.appeal_deadline = if counted == Verdict::NoDecision {
                now
            } else {
                now.checked_add(params.appeal_window_secs)
                    .ok_or(DaoError::Overflow)?
            };
        } else {
            if counted != Verdict::NoDecision {
                dispute.verdict = counted;
            }
            dispute.appeal_deadline = now;
        }
        dispute.state = DisputeState::Decided;
        emit_event!(DisputeTallied {
            job_id: dispute.job_id,
            round: dispute.round,
            votes_user: dispute.votes_user,
            votes_node: dispute.votes_node,
            quorum: dispute.quorum,
            verdict: dispute.verdict,
            appeal_deadline: dispute.appeal_deadline,
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct Appeal<'info> {
    pub appellant: Signer<'info>,
    #[account(seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.job_id.as_ref()], bump = dispute.bump)]
    pub dispute: Box<Account<'info, Dispute>>,
    #[account(mut, constraint = appellant_token.mint == config.mint @ DaoError::WrongMint)]
    pub appellant_token: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(mut, address = config.appeal_vault @ DaoError::WrongAccount)]
    pub appeal_vault: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(address = config.mint @ DaoError::WrongMint)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl Appeal<'_> {
    pub fn handle(&mut self, evidence_hash: [u8; 32]) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let params = self.config.params;
        let appellant = self.appellant.key();
        let dispute = &mut self.dispute;
        require!(
            dispute.state == DisputeState::Decided,
            DaoError::InvalidDisputeState
        );
        require!(dispute.round == 0, DaoError::NotAppealable);
        let loser = dispute.loser().ok_or(DaoError::NotAppealable)?;
        require!(now < dispute.appeal_deadline, DaoError::AppealWindowClosed);
        require_keys_eq!(appellant, loser, DaoError::NotLoser);
        // The spec asks for new evidence with an appeal.
        dispute.add_evidence(&appellant, evidence_hash)?;

        let deposit = params.appeal_deposit;
        if deposit > 0 {
            token_interface::transfer_checked(
                CpiContext::new(
                    self.token_program.key(),
                    TransferChecked {
                        from: self.appellant_token.to_account_info(),
                        mint: self.mint.to_account_info(),
                        to: self.appeal_vault.to_account_info(),
                        authority: self.appellant.to_account_info(),
                    },
                ),
                deposit,
                self.mint.decimals,
            )?;
        }
        let (evidence_end, voting_end) = params.dispute_windows(now)?;
        dispute.round = 1;
        dispute.state = DisputeState::Open;
        dispute.appealed_verdict = dispute.verdict;
        dispute.appellant = appellant;
        dispute.appeal_deposit = deposit;
        dispute.evidence_end = evidence_end;
        dispute.voting_end = voting_end;
        dispute.votes_user = 0;
        dispute.votes_node = 0;
        dispute.voters = 0;
        dispute.quorum = DaoParams::of_supply(self.mint.supply, params.appeal_quorum_bps)?;
        emit_event!(DisputeAppealed {
            job_id: dispute.job_id,
            appellant,
            deposit,
            evidence_hash,
            voting_end,
            quorum: dispute.quorum,
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct ClaimVoteReward<'info> {
    #[account(mut)]
    pub wallet: Signer<'info>,
    #[account(seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(seeds = [seeds::DISPUTE, dispute.job_id.as_ref()], bump = dispute.bump)]
    pub dispute: Box<Account<'info, Dispute>>,
    #[account(
        mut,
        close = wallet,
        seeds = [seeds::VOTE, dispute.key().as_ref(), &[vote_record.round], wallet.key().as_ref()],
        bump = vote_record.bump,
    )]
    pub vote_record: Account<'info, VoteRecord>,
    #[account(mut, address = config.treasury @ DaoError::WrongAccount)]
    pub treasury: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(mut, constraint = wallet_token.mint == config.mint @ DaoError::WrongMint)]
    pub wallet_token: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(address = config.mint @ DaoError::WrongMint)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl ClaimVoteReward<'_> {
    /// Once the verdict is executed, a vote on the final winning side earns the reward
    /// (if its weight reaches the minimum); any vote record is closed and its rent
    /// returned. An empty treasury fails the claim so it can be retried, never loses it.
    pub fn handle(&mut self) -> Result<()> {
        let dispute = &self.dispute;
        require!(
            dispute.state == DisputeState::Executed,
            DaoError::InvalidDisputeState
        );
        let VoteChoice::Dispute(side) = self.vote_record.choice else {
            return err!(DaoError::WrongAccount);
        };
        let params = self.config.params;
        let earns = side.wins(dispute.verdict)
            && self.vote_record.weight >= params.reward_min_weight
            && params.voter_reward > 0;
        let reward = if earns { params.voter_reward } else { 0 };
        if reward > 0 {
            require!(self.treasury.amount >= reward, DaoError::TreasuryEmpty);
            require_keys_eq!(
                self.wallet_token.owner,
                self.wallet.key(),
                DaoError::WrongTokenOwner
            );
            pay_from_vault(
                &self.config,
                self.token_program.to_account_info(),
                self.treasury.to_account_info(),
                self.mint.to_account_info(),
                self.wallet_token.to_account_info(),
                reward,
                self.mint.decimals,
            )?;
        }
        emit_event!(RewardClaimed {
            subject: dispute.key(),
            voter: self.wallet.key(),
            side,
            reward
        });
        Ok(())
    }
}
