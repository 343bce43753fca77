//! Ending paid jobs' holds on the node's stake.
//!
//! `complete_payment` pays the node at once but leaves the job counted as active in
//! NodeRegistry for JobEscrow's challenge window (decision 121: 7 days by default), so a
//! fraud verdict can still slash the stake; until someone sends `release_stake` for the
//! escrow the stake cannot be unstaked. Anyone may send it, but only the node is sure to
//! care, so the daemon does it for its own jobs: once at start and then every
//! `[jobs] stake_release_check_secs`, against the cluster's clock (the one the program
//! compares), never the local one.

use std::{sync::Arc, time::Duration};

use cyxwiz_chain::{
    ChainError, ix, pda,
    state::{Escrow, EscrowState},
};
use tokio::sync::watch;

use crate::{job::JobHandle, node::Node, store::Phase};

/// Marks a job whose hold another party ended before the node did.
pub const RELEASED_ELSEWHERE: &str = "released elsewhere";

/// `release_stake` transactions one sweep sends at most: a node with a backlog (e.g.
/// after being offline for weeks) catches up over a few rounds instead of flooding its
/// RPC endpoint.
pub const MAX_RELEASES_PER_SWEEP: usize = 32;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Jobs released now, with the transaction signature.
    pub released: Vec<([u8; 16], String)>,
    /// Paid jobs still inside their challenge window.
    pub waiting: usize,
    /// The earliest `challenge_until` among them (cluster unix time).
    pub next_due: Option<i64>,
    /// Jobs whose escrow could not be read or whose transaction failed (retried on the
    /// next sweep).
    pub failed: usize,
}

/// Paid jobs whose hold has not been seen ended yet.
fn pending(node: &Node) -> Vec<Arc<JobHandle>> {
    node.jobs()
        .into_iter()
        .filter(|j| {
            let m = j.manifest();
            m.phase == Phase::Completed && m.stake_release.is_empty()
        })
        .collect()
}

/// One pass over the node's paid jobs: sends `release_stake` for every escrow whose
/// challenge window has closed on the cluster's clock.
pub async fn sweep(node: &Node) -> Result<SweepReport, ChainError> {
    let jobs = pending(node);
    let mut report = SweepReport::default();
    if jobs.is_empty() {
        return Ok(report);
    }
    let now = node.chain.unix_time().await?;
    let owner = node.owner();
    for job in jobs {
        let id = job.id;
        let escrow = match node.chain.try_account::<Escrow>(&pda::escrow(&id)).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(job = %hex::encode(id), error = %e, "reading the escrow for the stake release");
                report.failed += 1;
                continue;
            }
        };
        let Some(escrow) = escrow.filter(|e| e.node == owner) else {
            // Closed (which needs the release first) or not ours: nothing holds the stake.
            job.update(true, |m| m.stake_release = RELEASED_ELSEWHERE.into());
            continue;
        };
        if escrow.state != EscrowState::Completed || escrow.stake_released {
            // A verdict or another sender already ended the hold.
            job.update(true, |m| m.stake_release = RELEASED_ELSEWHERE.into());
            continue;
        }
        if now < escrow.challenge_until {
            report.waiting += 1;
            report.next_due = Some(
                report
                    .next_due
                    .map_or(escrow.challenge_until, |d| d.min(escrow.challenge_until)),
            );
            continue;
        }
        if report.released.len() >= MAX_RELEASES_PER_SWEEP {
            report.waiting += 1;
            continue;
        }
        let ixs = [ix::escrow::release_stake(
            &node.addresses,
            &owner,
            id,
            &owner,
        )];
        let applied = Node::escrow_check(id, |e| e.stake_released);
        match node.chain.send_idempotent(&ixs, &[], &applied).await {
            Ok(out) => {
                let sig = out
                    .sent()
                    .map(|s| s.signature.to_string())
                    .unwrap_or_else(|| RELEASED_ELSEWHERE.to_string());
                tracing::info!(job = %hex::encode(id), signature = %sig, "challenge window over: stake hold released");
                job.update(true, |m| m.stake_release = sig.clone());
                report.released.push((id, sig));
            }
            Err(e) => {
                tracing::warn!(job = %hex::encode(id), error = %e, "release_stake failed; retried on the next sweep");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Sweeps at start and every `every` until `stop` turns true.
pub async fn run(node: Arc<Node>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        match sweep(&node).await {
            Ok(r) if !r.released.is_empty() || r.failed > 0 => tracing::info!(
                released = r.released.len(),
                waiting = r.waiting,
                failed = r.failed,
                "stake release sweep"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "stake release sweep: cannot read the cluster clock")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}
