//! Creating program accounts by hand where "already exists" must be a named error
//! (a second dispute for a job, a second vote) rather than the system program's generic
//! "account in use". Handles addresses someone pre-funded with lamports, as Anchor's
//! `init` does, so nobody can block a dispute or a vote by sending lamports to its PDA.

use anchor_lang::{
    prelude::*,
    system_program::{self, Allocate, Assign, CreateAccount, Transfer},
};

use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::DaoError,
    events::VoteCast,
    state::{VoteChoice, VoteRecord, Voter},
};

pub struct NewPda<'a, 'info> {
    pub payer: &'a AccountInfo<'info>,
    pub target: &'a AccountInfo<'info>,
    pub system_program: &'a AccountInfo<'info>,
    pub seeds: &'a [&'a [u8]],
}

impl<'info> NewPda<'_, 'info> {
    /// Creates the account and writes `value` (discriminator + Borsh). Fails with
    /// `exists` if the account already belongs to this program.
    pub fn create<T: AccountSerialize + Space>(&self, value: &T, exists: DaoError) -> Result<()> {
        if *self.target.owner == crate::ID || !self.target.data_is_empty() {
            return Err(exists.into());
        }
        let space = 8 + T::INIT_SPACE;
        let rent = Rent::get()?.minimum_balance(space);
        let signer: &[&[&[u8]]] = &[self.seeds];
        let current = self.target.lamports();
        if current == 0 {
            system_program::create_account(
                CpiContext::new_with_signer(
                    system_program::ID,
                    CreateAccount {
                        from: self.payer.clone(),
                        to: self.target.clone(),
                    },
                    signer,
                ),
                rent,
                space as u64,
                &crate::ID,
            )?;
        } else {
            if current < rent {
                system_program::transfer(
                    CpiContext::new(
                        system_program::ID,
                        Transfer {
                            from: self.payer.clone(),
                            to: self.target.clone(),
                        },
                    ),
                    rent - current,
                )?;
            }
            system_program::allocate(
                CpiContext::new_with_signer(
                    system_program::ID,
                    Allocate {
                        account_to_allocate: self.target.clone(),
                    },
                    signer,
                ),
                space as u64,
            )?;
            system_program::assign(
                CpiContext::new_with_signer(
                    system_program::ID,
                    Assign {
                        account_to_assign: self.target.clone(),
                    },
                    signer,
                ),
                &crate::ID,
            )?;
        }
        let mut data = self.target.try_borrow_mut_data()?;
        value.try_serialize(&mut &mut data[..])?;
        Ok(())
    }
}

/// A voter's ballot on one dispute round or proposal.
pub struct Ballot<'a, 'info> {
    pub wallet: &'a AccountInfo<'info>,
    pub voter: &'a mut Voter,
    pub vote_record: &'a AccountInfo<'info>,
    pub system_program: &'a AccountInfo<'info>,
}

impl Ballot<'_, '_> {
    /// Casts the whole deposit as the vote's weight: creates the vote record
    /// (`AlreadyVoted` if this wallet voted on `subject` in `round`), locks the deposit
    /// until `voting_end` and emits `VoteCast`. Returns the weight for the caller's tally.
    pub fn cast(
        self,
        subject: Pubkey,
        round: u8,
        choice: VoteChoice,
        voting_end: i64,
        bump: u8,
    ) -> Result<u64> {
        let weight = self.voter.deposited;
        require!(weight > 0, DaoError::NoVotingWeight);
        let wallet = self.wallet.key();
        let record = VoteRecord {
            voter: wallet,
            subject,
            round,
            choice,
            weight,
            bump,
        };
        let (round_seed, bump_seed) = ([round], [bump]);
        NewPda {
            payer: self.wallet,
            target: self.vote_record,
            system_program: self.system_program,
            seeds: &[
                seeds::VOTE,
                subject.as_ref(),
                &round_seed,
                wallet.as_ref(),
                &bump_seed,
            ],
        }
        .create(&record, DaoError::AlreadyVoted)?;
        self.voter.locked_until = self.voter.locked_until.max(voting_end);
        emit_event!(VoteCast {
            subject,
            voter: wallet,
            choice,
            weight
        });
        Ok(weight)
    }
}
