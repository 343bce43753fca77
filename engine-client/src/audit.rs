//! Auditing a node's committed work by deterministic re-execution (docs/audit.md).
//!
//! The Groth16 proof shows the node's checkpoint chain is consistent, not that the
//! training behind it was done. While a job runs, the user can check any epoch of the
//! prefix anchored on chain: the node reveals checkpoints `E − 1` and `E` with Merkle
//! proofs against the anchored root, and the engine re-runs epoch `E` from `W_{E−1}` in
//! its own sandbox — the kernels are deterministic, so an honest node's `W_E` comes out
//! bit for bit. With a local re-run of the whole prefix, a bisection over weights digests
//! finds the first epoch where the node left the honest run in `⌈log2 k⌉ + 1` probes.
//! A fraud verdict comes with a canonical evidence transcript whose hash opens a dispute
//! on chain; DAO voters reproduce the verdict with [`cyxwiz_audit::verify_evidence`].

use std::sync::Arc;

use cyxwiz_audit::{
    Bisection, Challenge, Evidence, JobInputs, ProbeOpening, Reveal, Step, Verdict,
};
use cyxwiz_chain::{ix, state::EscrowState};
use cyxwiz_sandbox::{Limits, Sandbox};
use serde::Serialize;
use solana_signer::Signer;

use crate::{Engine, Error, JobId, NodeSession, Result};

/// What the engine needs to re-execute the job: exactly what it uploaded.
#[derive(Clone, Copy)]
pub struct JobBytes<'a> {
    pub module: &'a [u8],
    pub dataset: &'a [u8],
    pub seed: i64,
}

impl std::fmt::Debug for JobBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobBytes")
            .field("module", &format_args!("{} bytes", self.module.len()))
            .field("dataset", &format_args!("{} bytes", self.dataset.len()))
            .field("seed", &self.seed)
            .finish()
    }
}

/// The outcome of an audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    #[serde(with = "hex_16")]
    pub job_id: JobId,
    /// The epoch re-executed.
    pub epoch: u32,
    /// The anchored prefix audited against.
    pub anchored_epochs: u32,
    /// Bisection probes the node answered (0 for a single-epoch audit).
    pub probes: u32,
    pub verdict: Verdict,
    /// SHA-256 of the canonical transcript: the dispute's `evidence_hash`.
    #[serde(with = "hex_32")]
    pub evidence_hash: [u8; 32],
    /// The transcript, as the voters will read it.
    #[serde(skip)]
    pub evidence: Evidence,
}

impl AuditReport {
    pub fn is_fraud(&self) -> bool {
        self.verdict.is_fraud()
    }
}

mod hex_16 {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

mod hex_32 {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

fn audit_err(e: cyxwiz_audit::AuditError) -> Error {
    Error::Audit(e.to_string())
}

/// The re-execution sandbox: the node's default limits, so what an honest node could
/// train the engine can re-run.
fn sandbox() -> Result<Sandbox> {
    Sandbox::new(Limits::default()).map_err(|e| Error::Audit(format!("sandbox: {e}")))
}

impl Engine {
    /// The anchored prefix the node is bound to: `(root, epochs)` from the escrow.
    async fn anchored(&self, job_id: &JobId) -> Result<([u8; 32], u32)> {
        let escrow = self
            .escrow(job_id)
            .await?
            .ok_or_else(|| Error::Invalid(format!("job {} has no escrow", hex::encode(job_id))))?;
        if escrow.epochs_done == 0 {
            return Err(Error::Invalid(format!(
                "job {}: nothing is anchored on chain yet",
                hex::encode(job_id)
            )));
        }
        Ok((escrow.merkle_root, escrow.epochs_done))
    }

    /// Audits anchored epoch `epoch` of a job: reveal, verify against the anchored root,
    /// re-execute, judge. `Verdict::Honest` or a `Fraud` with its evidence.
    pub async fn audit_epoch(
        &self,
        session: &NodeSession,
        job_id: &JobId,
        epoch: u32,
        job: JobBytes<'_>,
    ) -> Result<AuditReport> {
        let (root, k) = self.anchored(job_id).await?;
        let challenge = Challenge {
            job_id: *job_id,
            epoch,
            anchored_root: root,
            anchored_epochs: k,
        };
        challenge.validate().map_err(audit_err)?;
        self.audit_challenge(session, challenge, job, 0).await
    }

    async fn audit_challenge(
        &self,
        session: &NodeSession,
        challenge: Challenge,
        job: JobBytes<'_>,
        probes: u32,
    ) -> Result<AuditReport> {
        let json = session.reveal(&challenge, false).await?;
        let reveal: Reveal = serde_json::from_str(&json)
            .map_err(|e| Error::Audit(format!("the node's reveal is malformed: {e}")))?;
        let sandbox = sandbox()?;
        let module = sandbox
            .load(job.module)
            .map_err(|e| Error::Audit(format!("loading the module: {e}")))?;
        let audit = cyxwiz_audit::audit(
            &sandbox,
            &module,
            job.dataset,
            job.seed,
            &challenge,
            &reveal,
        )
        .map_err(audit_err)?;
        let inputs = JobInputs::of(job.module, job.dataset, job.seed);
        let evidence = Evidence::new(inputs, challenge, reveal, &audit).map_err(audit_err)?;
        Ok(AuditReport {
            job_id: challenge.job_id,
            epoch: challenge.epoch,
            anchored_epochs: challenge.anchored_epochs,
            probes,
            verdict: audit.verdict,
            evidence_hash: evidence.evidence_hash(),
            evidence,
        })
    }

    /// Re-runs the anchored prefix locally and bisects the node's anchored chain against
    /// it on weights digests; the first divergent epoch is then audited alone. An honest
    /// node ends `Honest` after one probe.
    pub async fn audit_bisect(
        &self,
        session: &NodeSession,
        job_id: &JobId,
        job: JobBytes<'_>,
    ) -> Result<AuditReport> {
        let (root, k) = self.anchored(job_id).await?;
        let own = {
            let (module, dataset, seed) = (
                job.module.to_vec(),
                Arc::new(job.dataset.to_vec()),
                job.seed,
            );
            tokio::task::spawn_blocking(move || local_weight_digests(&module, &dataset, seed, k))
                .await
                .map_err(|e| Error::Audit(format!("re-run thread: {e}")))??
        };
        let mut bisection = Bisection::new(*job_id, root, k, &own).map_err(audit_err)?;
        loop {
            match bisection.step() {
                Step::Probe(c) => {
                    let json = session.reveal(&c, true).await?;
                    let probe: ProbeOpening = serde_json::from_str(&json)
                        .map_err(|e| Error::Audit(format!("the node's probe is malformed: {e}")))?;
                    bisection.submit(probe).map_err(audit_err)?;
                }
                Step::Audit(c) => {
                    return self
                        .audit_challenge(session, c, job, bisection.probe_count())
                        .await;
                }
                Step::Agreed => {
                    // The anchored head matches the honest run: audit it directly so
                    // the report carries a transcript either way.
                    let c = Challenge {
                        job_id: *job_id,
                        epoch: k,
                        anchored_root: root,
                        anchored_epochs: k,
                    };
                    return self
                        .audit_challenge(session, c, job, bisection.probe_count())
                        .await;
                }
            }
        }
    }

    /// Opens a dispute against the node with an audit's evidence: the escrow freezes
    /// (no payment, no refund) until token holders decide; the transcript is saved next
    /// to the job's journal (`evidence-<hash>.json`) for them to reproduce.
    pub async fn dispute(&self, report: &AuditReport) -> Result<String> {
        if !report.is_fraud() {
            return Err(Error::Invalid(
                "the audit found the node honest: there is nothing to dispute".into(),
            ));
        }
        let escrow = self.escrow(&report.job_id).await?.ok_or_else(|| {
            Error::Invalid(format!("job {} has no escrow", hex::encode(report.job_id)))
        })?;
        if escrow.state != EscrowState::InProgress {
            return Err(Error::Invalid(format!(
                "job {} cannot be disputed: its escrow is {}",
                hex::encode(report.job_id),
                crate::engine::escrow_state_name(&escrow.state)
            )));
        }
        let dir = self.journal().job_dir(&report.job_id);
        let path = dir.join(format!(
            "evidence-{}.json",
            hex::encode(report.evidence_hash)
        ));
        crate::Journal::write_file(&path, report.evidence.to_json().as_bytes())?;
        let addresses = *self.addresses().await?;
        let sent = self
            .chain()
            .send(
                &[ix::dao::create_dispute(
                    &addresses,
                    &self.wallet().pubkey(),
                    report.job_id,
                    &escrow.user,
                    dispute_dao::Claim::WorkNotDone,
                    report.evidence_hash,
                )],
                &[],
            )
            .await?;
        Ok(sent.signature.to_string())
    }
}

/// `weights_digest(W_1..W_k)` of an honest run, exactly as a node trains (epoch `E`
/// runs the kernel's epoch `E − 1`, then evaluates).
pub fn local_weight_digests(
    module: &[u8],
    dataset: &[u8],
    seed: i64,
    k: u32,
) -> Result<Vec<[u8; 32]>> {
    let sandbox = sandbox()?;
    let module = sandbox
        .load(module)
        .map_err(|e| Error::Audit(format!("loading the module: {e}")))?;
    let mut job = sandbox
        .instantiate(&module)
        .map_err(|e| Error::Audit(format!("instantiating the module: {e}")))?;
    let run = |e: cyxwiz_sandbox::JobError| Error::Audit(format!("re-running the job: {e}"));
    job.init(dataset, seed).map_err(run)?;
    let mut digests = Vec::with_capacity(k as usize);
    for e in 0..k {
        job.train_epoch(e).map_err(run)?;
        job.evaluate().map_err(run)?;
        digests.push(cyxwiz_poc::weights_digest(&job.weights().map_err(run)?));
    }
    Ok(digests)
}
