//! Periodic work. Every replica refreshes its view of the chain clock and rules; one
//! replica at a time — the holder of the `leader` lease in shared state — also follows
//! program events and runs the sweeps that send transactions: reservation expiry,
//! re-matching of nodes that did not accept, timeout refunds, reputation batches,
//! uptime reports, node refresh and reconciliation. A leader that dies stops renewing
//! its lease; another replica takes over within one lease and starts by reconciling, so
//! whatever the dead leader left half-done (a batch sent but not recorded, a refund in
//! flight) is finished from the chain's state, never sent twice.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use cyxwiz_chain::{Pubkey, pubsub::Notice};
use cyxwiz_proto::auth::now_ms;
use rand::{SeedableRng, rngs::StdRng};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    error::AppError,
    gateway::{self, BatchOutcome, TimeoutOutcome},
    scheduler,
    service::{Coordinator, slot_key},
    store::{NewUpdate, OpState, StoreError, UpdateKind, UpdateRow},
    types::JobState,
};

/// Env var that makes a replica exit right after a reputation batch landed and before
/// it recorded that (fault injection for the replica-killed-mid-batch test).
pub const FAULT_EXIT_AFTER_BATCH_SEND: &str = "CYXWIZ_FAULT_EXIT_AFTER_BATCH_SEND";

const LEADER_LEASE: &str = "leader";
/// Distinct nodes per legacy batch transaction (docs/BENCHMARKS.md: 21 fit).
const MAX_BATCH_NODES: usize = 20;

/// Runs until `shutdown` turns true.
pub async fn run(c: Arc<Coordinator>, mut shutdown: watch::Receiver<bool>) {
    let tick = Duration::from_millis(c.cfg.batching.tick_ms);
    let lease = Duration::from_secs(c.cfg.batching.lease_secs);
    let mut leader = Leader::default();
    let mut last_chain_refresh = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        if last_chain_refresh.elapsed() >= Duration::from_secs(60) {
            if let Err(e) = c.refresh_chain().await {
                tracing::warn!(error = %e, "chain refresh failed");
            }
            last_chain_refresh = Instant::now();
        }
        match c.shared.lead(LEADER_LEASE, &c.replica_id, lease).await {
            Ok(Some(token)) => {
                if leader.token != Some(token) {
                    tracing::info!(replica = %c.replica_id, token, "became leader");
                    metrics::counter!("cyxwiz_leader_changes_total").increment(1);
                    leader = Leader {
                        token: Some(token),
                        ..Leader::default()
                    };
                }
                if let Err(e) = leader.tick(&c).await {
                    tracing::warn!(error = ?e, "leader work failed; retrying next tick");
                }
            }
            Ok(None) => leader.step_down(),
            Err(e) => {
                // Without shared state nobody can prove leadership: stop sending.
                tracing::warn!(error = %e, "cannot renew the leader lease");
                leader.step_down();
            }
        }
    }
    leader.step_down();
    let _ = c.shared.resign(LEADER_LEASE, &c.replica_id).await;
}

#[derive(Default)]
struct Leader {
    token: Option<u64>,
    events: Option<JoinHandle<()>>,
    last_reconcile: Option<Instant>,
    last_node_refresh: Option<Instant>,
    last_uptime: Option<Instant>,
}

impl Leader {
    fn step_down(&mut self) {
        if let Some(task) = self.events.take() {
            task.abort();
        }
        self.token = None;
    }

    /// One round of leader work. Each step fails on its own (an RPC outage stops the
    /// steps that need the chain, not the others) and is retried next tick.
    async fn tick(&mut self, c: &Arc<Coordinator>) -> Result<(), AppError> {
        if self.events.as_ref().is_none_or(|t| t.is_finished()) {
            match follow_events(c.clone()).await {
                Ok(task) => {
                    self.events = Some(task);
                    // Anything before the subscription was missed.
                    self.last_reconcile = None;
                }
                Err(e) => warn_step("event subscription", &e),
            }
        }
        let reconcile_every = Duration::from_secs(c.cfg.chain.reconcile_interval_secs);
        if self
            .last_reconcile
            .is_none_or(|t| t.elapsed() >= reconcile_every)
        {
            match c.reconcile().await {
                Ok(changed) => {
                    tracing::debug!(changed, "reconciled");
                    self.last_reconcile = Some(Instant::now());
                }
                Err(e) => warn_step("reconciliation", &e),
            }
        }
        let refresh_every = Duration::from_secs(c.cfg.chain.refresh_interval_secs);
        // Nodes are read from chain when they register; the first full refresh comes
        // one period after taking the lead.
        let last = *self.last_node_refresh.get_or_insert_with(Instant::now);
        if c.take_node_refresh() || last.elapsed() >= refresh_every {
            match c.refresh_nodes().await {
                Ok(_) => {
                    c.invalidate_cache();
                    self.last_node_refresh = Some(Instant::now());
                }
                Err(e) => {
                    c.schedule_node_refresh();
                    warn_step("node refresh", &e);
                }
            }
        }
        if let Err(e) = expire_reservations(c).await {
            warn_step("reservation expiry", &e);
        }
        if let Err(e) = rematch_unaccepted(c).await {
            warn_step("re-matching", &e);
        }
        if let Err(e) = refund_timed_out(c).await {
            warn_step("timeout refunds", &e);
        }
        let period = Duration::from_secs(c.cfg.batching.uptime_period_secs);
        match self.last_uptime {
            None => self.last_uptime = Some(Instant::now()),
            Some(t) if t.elapsed() >= period => match report_uptime(c).await {
                Ok(()) => self.last_uptime = Some(Instant::now()),
                Err(e) => warn_step("uptime report", &e),
            },
            _ => {}
        }
        flush_reputation(c).await
    }
}

fn warn_step(step: &str, e: &AppError) {
    metrics::counter!("cyxwiz_leader_step_failures_total").increment(1);
    tracing::warn!(step, error = ?e, "leader step failed; retrying next tick");
}

/// Subscribes to program events and applies them; reconciles after every gap.
async fn follow_events(c: Arc<Coordinator>) -> Result<JoinHandle<()>, AppError> {
    let mut sub = c
        .gateway
        .subscribe()
        .await
        .map_err(|e| AppError::Unavailable(format!("event subscription: {e}")))?;
    Ok(tokio::spawn(async move {
        while let Some(notice) = sub.next().await {
            let result = match notice {
                Notice::Transaction {
                    signature,
                    failed: false,
                    events,
                    ..
                } if !events.is_empty() => c.apply_events(&signature.to_string(), &events).await,
                Notice::Reconnected { .. } => c.reconcile().await.map(|_| ()),
                _ => Ok(()),
            };
            if let Err(e) = result {
                // The periodic reconciliation repairs whatever this missed.
                tracing::warn!(error = %e, "applying chain events failed");
            }
        }
    }))
}

/// Reserved jobs whose escrow never came: the node is released.
async fn expire_reservations(c: &Coordinator) -> Result<(), AppError> {
    let now = now_ms();
    for job in c.store.jobs_in(&[JobState::Reserved], 1_000).await? {
        if job.reserved_until < now
            && c.store
                .transition(
                    &job.id,
                    &[JobState::Reserved],
                    JobState::Expired,
                    "no escrow within the reservation window",
                )
                .await?
        {
            c.release_hold(&job).await;
            metrics::counter!("cyxwiz_reservations_expired_total").increment(1);
        }
    }
    Ok(())
}

/// Assigned jobs whose node did not accept in time (or went silent): another node.
async fn rematch_unaccepted(c: &Coordinator) -> Result<(), AppError> {
    let now = now_ms();
    let accept_ms = c.cfg.matching.accept_timeout_secs as i64 * 1_000;
    let health_ms = c.cfg.matching.health_window_secs as i64 * 1_000;
    for job in c.store.jobs_in(&[JobState::Assigned], 1_000).await? {
        if job.rematches >= c.cfg.matching.max_rematches {
            continue;
        }
        let Some(owner) = job.node_owner.clone() else {
            continue;
        };
        let silent = c
            .store
            .node(&owner)
            .await?
            .is_none_or(|n| now - n.last_heartbeat > health_ms);
        if now - job.updated_at < accept_ms && !silent {
            continue;
        }
        let (candidates, rules) = c.match_inputs().await?;
        let mut config = job.config.clone();
        // The escrow is funded: any node that takes the job for that amount will do.
        config.max_price = job.price;
        let Ok(choices) = scheduler::choose(
            c.policy(),
            &rules,
            &config,
            &candidates,
            now,
            c.chain_now(),
            &mut StdRng::from_entropy(),
        ) else {
            continue;
        };
        for choice in choices {
            let cand = &candidates[choice.index];
            if cand.node.owner == owner {
                continue;
            }
            let Some(slot) = cand.free_slot() else {
                continue;
            };
            let key = slot_key(&cand.node.owner, slot);
            if !c
                .shared
                .reserve(&key, &job.id.hex(), c.cfg.reservation())
                .await?
            {
                continue;
            }
            let Ok(node) = cand.node.owner.parse::<Pubkey>() else {
                continue;
            };
            let sig = match c.gateway.assign(&job.id, &node).await {
                Ok(sig) => sig.unwrap_or_default(),
                Err(e) => {
                    let _ = c.shared.release(&key, &job.id.hex()).await;
                    tracing::warn!(job = %job.id, error = %e, "re-match assignment failed");
                    continue;
                }
            };
            let old_slot = c.store.job_slot(&job.id).await?;
            match c
                .store
                .reassign(&job.id, &owner, &cand.node.owner, slot, &sig)
                .await
            {
                Ok(true) => {
                    if let Some((old_owner, old)) = old_slot {
                        let _ = c
                            .shared
                            .release(&slot_key(&old_owner, old), &job.id.hex())
                            .await;
                    }
                    c.invalidate_cache();
                    metrics::counter!("cyxwiz_rematches_total").increment(1);
                    tracing::info!(job = %job.id, from = %owner, to = %cand.node.owner, "re-matched");
                    break;
                }
                Ok(false) => break,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Escrows past their timeout: refunded on the user's behalf, once.
async fn refund_timed_out(c: &Coordinator) -> Result<(), AppError> {
    // The chain's own clock, read now: deadlines are the program's, not ours.
    let chain_now = c
        .gateway
        .chain_time()
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    for job in c.store.timed_out_jobs(chain_now, 100).await? {
        let key = format!("timeout_refund:{}", job.id);
        if c.store.begin_op(&key).await? == Some(OpState::Done) {
            continue;
        }
        match c.gateway.timeout_refund(&job.id).await {
            Ok(TimeoutOutcome::Refunded { signature, slashed }) => {
                c.store
                    .finish_op(&key, OpState::Done, Some(&signature), "")
                    .await?;
                tracing::info!(job = %job.id, slashed, "timeout refund sent");
                metrics::counter!("cyxwiz_timeout_refunds_total").increment(1);
            }
            Ok(TimeoutOutcome::AlreadySettled(_)) | Ok(TimeoutOutcome::Missing) => {
                c.store.finish_op(&key, OpState::Done, None, "").await?;
                c.reconcile().await?;
            }
            Ok(TimeoutOutcome::NotDue { .. }) => {}
            Err(e) => {
                c.store
                    .finish_op(&key, OpState::Pending, None, &e.to_string())
                    .await?;
                tracing::warn!(job = %job.id, error = %e, "timeout refund failed; will retry");
            }
        }
    }
    Ok(())
}

/// One uptime update per node per period, from its heartbeats.
async fn report_uptime(c: &Coordinator) -> Result<(), AppError> {
    let period_ms = c.cfg.batching.uptime_period_secs as i64 * 1_000;
    let expected = (period_ms / crate::service::heartbeat_interval_ms(&c.cfg))
        .clamp(1, i64::from(u32::MAX)) as u32;
    let period = now_ms() / period_ms.max(1);
    for (owner, received) in c.store.take_heartbeats().await? {
        let received = received.clamp(0, i64::from(expected)) as u32;
        c.store
            .enqueue_reputation(&NewUpdate {
                dedup_key: format!("uptime:{owner}:{period}"),
                node_owner: owner,
                kind: UpdateKind::Uptime { received, expected },
            })
            .await?;
    }
    Ok(())
}

/// Sends unapplied batches again (a dead leader's), then cuts a new batch when enough
/// updates wait or the oldest waited long enough.
pub async fn flush_reputation(c: &Coordinator) -> Result<(), AppError> {
    for (batch, updates) in c.store.unapplied_batches().await? {
        submit(c, batch.batch_id, &updates).await?;
    }
    let cfg = &c.cfg.batching;
    loop {
        let pending = c.store.pending_updates(cfg.max_updates_per_tx).await?;
        let Some(oldest) = pending.first() else {
            return Ok(());
        };
        let due = pending.len() as u32 >= cfg.reputation_batch_jobs.min(cfg.max_updates_per_tx)
            || now_ms() - oldest.created_at >= cfg.reputation_batch_secs as i64 * 1_000;
        if !due {
            return Ok(());
        }
        let chosen = fit_packet(&pending);
        let ids: Vec<i64> = chosen.iter().map(|u| u.id).collect();
        let (batch_id, updates) = match c.store.create_batch(&ids, &c.replica_id).await {
            Ok(b) => b,
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if updates.is_empty() {
            return Ok(());
        }
        submit(c, batch_id, &updates).await?;
    }
}

/// The longest prefix of `pending` that fits one legacy transaction.
fn fit_packet(pending: &[UpdateRow]) -> Vec<UpdateRow> {
    let mut chosen: Vec<UpdateRow> = Vec::new();
    let mut nodes: Vec<&str> = Vec::new();
    for u in pending {
        let new_node = !nodes.contains(&u.node_owner.as_str());
        if new_node && nodes.len() >= MAX_BATCH_NODES {
            break;
        }
        chosen.push(u.clone());
        if gateway::estimated_batch_bytes(&chosen) > gateway::PACKET_LIMIT {
            chosen.pop();
            break;
        }
        if new_node {
            nodes.push(&u.node_owner);
        }
    }
    chosen
}

async fn submit(c: &Coordinator, batch_id: u64, updates: &[UpdateRow]) -> Result<(), AppError> {
    match c.gateway.submit_batch(batch_id, updates).await {
        Ok(outcome) => {
            if std::env::var_os(FAULT_EXIT_AFTER_BATCH_SEND).is_some() {
                tracing::error!(batch_id, "fault injection: exiting after the batch landed");
                std::process::exit(86);
            }
            let sig = match &outcome {
                BatchOutcome::Applied(s) => Some(s.as_str()),
                BatchOutcome::AlreadyApplied => None,
            };
            c.store.batch_applied(batch_id, sig).await?;
            metrics::counter!("cyxwiz_reputation_batches_total").increment(1);
            metrics::counter!("cyxwiz_reputation_updates_total").increment(updates.len() as u64);
            tracing::info!(
                batch_id,
                updates = updates.len(),
                ?outcome,
                "reputation batch applied"
            );
            Ok(())
        }
        Err(e) if e.program_error_name().is_some() => {
            // The program refused the batch itself: keep it for an operator, with the
            // reason; its updates are not lost (they stay attached to the batch).
            c.store.batch_refused(batch_id, &e.to_string()).await?;
            tracing::error!(batch_id, error = %e, "reputation batch refused by the program");
            Ok(())
        }
        Err(e) => {
            c.store
                .batch_failed_attempt(batch_id, &e.to_string())
                .await?;
            Err(AppError::Unavailable(format!(
                "reputation batch {batch_id}: {e}"
            )))
        }
    }
}
