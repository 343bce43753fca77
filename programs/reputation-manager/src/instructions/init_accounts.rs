//! Creation of reputation accounts. Anyone may pay for them (the node-agent creates its
//! own right after registering; Dispute/DAO creates a user's when a dispute opens).

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};
use node_registry::NodeAccount;

use crate::{
    events::NodeReputationCreated,
    state::{NodeReputation, UserReputation},
};

#[derive(Accounts)]
pub struct InitNodeReputation<'info> {
    #[account(mut)]
    pub payer: Signer<'info>,
    /// The node must be registered: reputation accounts exist only for real nodes.
    #[account(
        seeds = [seeds::NODE, node.owner.as_ref()],
        bump = node.bump,
        seeds::program = node_registry::ID,
    )]
    pub node: Account<'info, NodeAccount>,
    #[account(
        init,
        payer = payer,
        space = 8 + NodeReputation::INIT_SPACE,
        seeds = [seeds::NODE_REPUTATION, node.owner.as_ref()],
        bump,
    )]
    pub reputation: Account<'info, NodeReputation>,
    pub system_program: Program<'info, System>,
}

impl InitNodeReputation<'_> {
    pub fn handle(&mut self, bump: u8) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let owner = self.node.owner;
        self.reputation
            .set_inner(NodeReputation::new(owner, now, bump));
        emit_event!(NodeReputationCreated { owner });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct InitUserReputation<'info> {
    #[account(mut)]
    pub payer: Signer<'info>,
    /// CHECK: any wallet; the account only records disputes it loses or wins.
    pub wallet: UncheckedAccount<'info>,
    #[account(
        init,
        payer = payer,
        space = 8 + UserReputation::INIT_SPACE,
        seeds = [seeds::USER_REPUTATION, wallet.key().as_ref()],
        bump,
    )]
    pub reputation: Account<'info, UserReputation>,
    pub system_program: Program<'info, System>,
}

impl InitUserReputation<'_> {
    pub fn handle(&mut self, bump: u8) -> Result<()> {
        self.reputation
            .set_inner(UserReputation::new(self.wallet.key(), bump));
        Ok(())
    }
}
