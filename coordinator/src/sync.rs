//! Chain → database: applies program events to jobs and payments, queues the
//! reputation updates they imply, and reconciles the database against escrow accounts
//! (on a schedule and after every subscription gap).
//!
//! Every effect is idempotent (compare-and-set transitions, one payment row per job,
//! reputation updates de-duplicated by cause), so an event seen twice — by two replicas,
//! or live and again by reconciliation — changes nothing the second time.

use cyxwiz_chain::{events::ProgramEvent, state::EscrowState};
use cyxwiz_proto::auth::now_ms;
use job_escrow::{DisputeResolution, events::RefundReason};

use crate::{
    error::AppError,
    service::Coordinator,
    store::{NewUpdate, Payment, UpdateKind},
    types::{JobId, JobState},
};

const OPEN: [JobState; 5] = [
    JobState::Reserved,
    JobState::Confirming,
    JobState::Assigned,
    JobState::Running,
    JobState::Disputed,
];

impl Coordinator {
    /// Applies the events of one landed transaction.
    pub async fn apply_events(
        &self,
        signature: &str,
        events: &[ProgramEvent],
    ) -> Result<(), AppError> {
        for (idx, event) in events.iter().enumerate() {
            let idx = idx as u32;
            if self.store.event_processed(signature, idx).await? {
                continue;
            }
            self.apply_event(signature, event).await?;
            self.store.mark_event(signature, idx, event.name()).await?;
            metrics::counter!("cyxwiz_chain_events_total", "event" => event.name()).increment(1);
        }
        Ok(())
    }

    async fn apply_event(&self, signature: &str, event: &ProgramEvent) -> Result<(), AppError> {
        match event {
            ProgramEvent::JobAccepted(e) => {
                self.store
                    .mark_running(&JobId(e.job_id), &e.node.to_string(), now_ms())
                    .await?;
            }
            ProgramEvent::CheckpointAnchored(e) => {
                self.store
                    .record_anchor(&JobId(e.job_id), e.epoch, &e.merkle_root)
                    .await?;
            }
            ProgramEvent::PaymentReleased(e) => {
                let id = JobId(e.job_id);
                self.store
                    .record_final(&id, &e.final_weights_hash, &e.merkle_root)
                    .await?;
                self.finish(&id, JobState::Completed, "paid after a valid proof")
                    .await?;
                self.store
                    .record_payment(&Payment {
                        job_id: id,
                        kind: "completed".into(),
                        to_node: e.node_amount,
                        to_user: 0,
                        fee: e.platform_fee,
                        signature: signature.into(),
                    })
                    .await?;
                self.queue_completed(&id).await?;
            }
            ProgramEvent::EscrowCancelled(e) => {
                let id = JobId(e.job_id);
                self.finish(&id, JobState::Cancelled, "cancelled on chain by the user")
                    .await?;
                self.store
                    .record_payment(&Payment {
                        job_id: id,
                        kind: "cancelled".into(),
                        to_node: if e.fee_to_node { e.fee } else { 0 },
                        to_user: e.refund_amount,
                        fee: if e.fee_to_node { 0 } else { e.fee },
                        signature: signature.into(),
                    })
                    .await?;
            }
            ProgramEvent::EscrowRefunded(e) => {
                let id = JobId(e.job_id);
                self.finish(&id, JobState::Refunded, "refunded by anchored progress")
                    .await?;
                self.store
                    .record_payment(&Payment {
                        job_id: id,
                        kind: "refunded".into(),
                        to_node: e.node_amount,
                        to_user: e.refund_amount,
                        fee: 0,
                        signature: signature.into(),
                    })
                    .await?;
                if matches!(
                    e.reason,
                    RefundReason::NodeAbandoned | RefundReason::NodeOffline
                ) {
                    self.queue_for_job(&id, "failed", UpdateKind::Failed)
                        .await?;
                }
            }
            ProgramEvent::TimeoutRefunded(e) => {
                let id = JobId(e.job_id);
                self.finish(
                    &id,
                    JobState::TimedOut,
                    "refunded after the escrow timed out",
                )
                .await?;
                self.store
                    .record_payment(&Payment {
                        job_id: id,
                        kind: "timed_out".into(),
                        to_node: 0,
                        to_user: e.amount,
                        fee: 0,
                        signature: signature.into(),
                    })
                    .await?;
                if e.node_slashed {
                    self.queue_for_job(&id, "timed_out", UpdateKind::TimedOut)
                        .await?;
                }
            }
            ProgramEvent::EscrowFrozen(e) => {
                self.store
                    .transition(
                        &JobId(e.job_id),
                        &[JobState::Assigned, JobState::Running],
                        JobState::Disputed,
                        "frozen by a dispute",
                    )
                    .await?;
            }
            ProgramEvent::DisputeSettled(e) => {
                let id = JobId(e.job_id);
                let to = match e.resolution {
                    DisputeResolution::NodeFavor => JobState::Completed,
                    _ => JobState::Refunded,
                };
                self.finish(&id, to, "settled by the DAO").await?;
                self.store
                    .record_payment(&Payment {
                        job_id: id,
                        kind: "dispute".into(),
                        to_node: e.to_node,
                        to_user: e.to_user,
                        fee: e.platform_fee,
                        signature: signature.into(),
                    })
                    .await?;
            }
            ProgramEvent::EscrowCreated(e) => {
                // A funded escrow for a job whose reservation lapsed: remember when it
                // times out so the refund sweep returns the user's tokens.
                let id = JobId(e.job_id);
                if let Some(job) = self.store.job(&id).await?
                    && job.escrow_timeout_secs.is_none()
                {
                    self.store.set_escrow_timeout(&id, e.timeout_at).await?;
                }
            }
            // Node standing changed: re-read it (cheap, one node).
            ProgramEvent::NodeRegistered(_)
            | ProgramEvent::StakeChanged(_)
            | ProgramEvent::UnstakeRequested(_)
            | ProgramEvent::StakeWithdrawn(_)
            | ProgramEvent::NodeSlashed(_)
            | ProgramEvent::NodeSuspended(_)
            | ProgramEvent::NodeBanned(_)
            | ProgramEvent::DisputeSlashed(_)
            | ProgramEvent::BatchApplied(_)
            | ProgramEvent::TierChanged(_)
            | ProgramEvent::NodeRated(_)
            | ProgramEvent::VerdictApplied(_) => {
                self.schedule_node_refresh();
            }
            _ => {}
        }
        Ok(())
    }

    /// Moves a job to a terminal (or disputed) state from any open state and releases
    /// its shared hold.
    async fn finish(&self, id: &JobId, to: JobState, detail: &str) -> Result<(), AppError> {
        if self.store.transition(id, &OPEN, to, detail).await?
            && let Some(job) = self.store.job(id).await?
        {
            self.release_hold(&job).await;
        }
        Ok(())
    }

    async fn queue_completed(&self, id: &JobId) -> Result<(), AppError> {
        let Some(job) = self.store.job(id).await? else {
            return Ok(());
        };
        let now = now_ms();
        let actual_secs = job
            .accepted_at
            .map(|a| ((now - a) / 1_000).clamp(1, i64::from(u32::MAX)) as u32)
            .unwrap_or(job.config.estimated_secs);
        self.queue_for_job(
            id,
            "completed",
            UpdateKind::Completed {
                actual_secs,
                estimated_secs: job.config.estimated_secs,
            },
        )
        .await
    }

    async fn queue_for_job(
        &self,
        id: &JobId,
        cause: &str,
        kind: UpdateKind,
    ) -> Result<(), AppError> {
        let Some(job) = self.store.job(id).await? else {
            return Ok(());
        };
        let Some(node) = job.node_owner else {
            return Ok(());
        };
        self.store
            .enqueue_reputation(&NewUpdate {
                dedup_key: format!("{cause}:{id}"),
                node_owner: node,
                kind,
            })
            .await?;
        Ok(())
    }

    /// Brings every open job in line with its escrow account. Returns how many jobs
    /// changed.
    pub async fn reconcile(&self) -> Result<usize, AppError> {
        let jobs = self
            .store
            .jobs_in(
                &[
                    JobState::Confirming,
                    JobState::Assigned,
                    JobState::Running,
                    JobState::Disputed,
                ],
                10_000,
            )
            .await?;
        let mut changed = 0;
        for job in jobs {
            let escrow = self
                .gateway
                .escrow(&job.id)
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
            let Some(escrow) = escrow else {
                continue;
            };
            let node = escrow.node.to_string();
            let did = match escrow.state {
                EscrowState::Locked => {
                    // A replica died between claiming and assigning: let the engine retry.
                    job.state == JobState::Confirming
                        && self
                            .store
                            .transition(&job.id, &[JobState::Confirming], JobState::Reserved, "")
                            .await?
                }
                EscrowState::Assigned => false,
                EscrowState::InProgress => {
                    self.store.mark_running(&job.id, &node, now_ms()).await?
                }
                EscrowState::Disputed => {
                    self.store
                        .transition(
                            &job.id,
                            &[JobState::Assigned, JobState::Running],
                            JobState::Disputed,
                            "frozen by a dispute",
                        )
                        .await?
                }
                EscrowState::Completed => {
                    self.finish(&job.id, JobState::Completed, "paid (reconciled)")
                        .await?;
                    self.queue_completed(&job.id).await?;
                    true
                }
                EscrowState::Cancelled => {
                    self.finish(&job.id, JobState::Cancelled, "cancelled (reconciled)")
                        .await?;
                    true
                }
                EscrowState::Refunded => {
                    self.finish(&job.id, JobState::Refunded, "refunded (reconciled)")
                        .await?;
                    true
                }
                EscrowState::TimedOut => {
                    self.finish(&job.id, JobState::TimedOut, "timed out (reconciled)")
                        .await?;
                    if escrow.accepted_at != 0 {
                        self.queue_for_job(&job.id, "timed_out", UpdateKind::TimedOut)
                            .await?;
                    }
                    true
                }
            };
            if escrow.state.is_terminal() && self.store.payment(&job.id).await?.is_none() {
                // The settlement's event was missed: replay the escrow's transactions.
                let history = self
                    .gateway
                    .escrow_history(&job.id, 32)
                    .await
                    .map_err(|e| AppError::Unavailable(e.to_string()))?;
                for (sig, events) in history {
                    self.apply_events(&sig.to_string(), &events).await?;
                }
            }
            if escrow.epochs_done > job.epochs_anchored {
                self.store
                    .record_anchor(&job.id, escrow.epochs_done, &escrow.merkle_root)
                    .await?;
            }
            changed += usize::from(did);
        }
        metrics::counter!("cyxwiz_reconciliations_total").increment(1);
        Ok(changed)
    }
}
