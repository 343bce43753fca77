//! `batch_update`: the coordinator's updater key applies many nodes' job outcomes and
//! uptime reports in one transaction. Node reputation accounts come as remaining accounts
//! (each once, writable); every update names its account by index so repeated nodes cost
//! one byte, not 32. A batch id is applied at most once (sliding replay window), so a
//! retried submission never counts a job twice.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::ReputationError,
    events::BatchApplied,
    instructions::emit_tier_change,
    state::{NodeReputation, ReputationConfig, ReputationUpdate},
};

#[derive(Accounts)]
pub struct BatchUpdate<'info> {
    #[account(address = config.updater @ ReputationError::NotUpdater)]
    pub updater: Signer<'info>,
    #[account(mut, seeds = [seeds::REPUTATION_CONFIG], bump = config.bump)]
    pub config: Account<'info, ReputationConfig>,
}

pub fn apply_batch<'info>(
    accounts: &mut BatchUpdate<'info>,
    remaining: &'info [AccountInfo<'info>],
    batch_id: u64,
    updates: &[ReputationUpdate],
) -> Result<()> {
    let params = accounts.config.params;
    require!(
        !updates.is_empty() && updates.len() <= usize::from(params.max_batch_updates),
        ReputationError::InvalidBatchSize
    );
    require!(
        !remaining.is_empty() && remaining.len() <= usize::from(params.max_batch_updates),
        ReputationError::InvalidBatchSize
    );
    accounts.config.mark_batch(batch_id)?;

    let mut nodes: Vec<Account<'info, NodeReputation>> = Vec::with_capacity(remaining.len());
    for (i, info) in remaining.iter().enumerate() {
        require!(info.is_writable, ReputationError::AccountNotWritable);
        require!(
            remaining[..i].iter().all(|o| o.key != info.key),
            ReputationError::DuplicateAccount
        );
        let account = Account::<NodeReputation>::try_from(info)
            .map_err(|_| error!(ReputationError::WrongReputationAccount))?;
        nodes.push(account);
    }

    let now = Clock::get()?.unix_timestamp;
    for update in updates {
        let node = nodes
            .get_mut(usize::from(update.node_index))
            .ok_or(ReputationError::BadAccountIndex)?;
        node.apply(update.kind, &params, now)?;
    }
    for node in nodes.iter_mut() {
        let before = node.refresh(&params, now);
        emit_tier_change(node, before);
        node.exit(&crate::ID)?;
    }
    emit_event!(BatchApplied {
        batch_id,
        updates: updates.len() as u16,
        nodes: nodes.len() as u16,
    });
    Ok(())
}
