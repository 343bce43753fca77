//! Re-executing one epoch exactly as the node-agent trains it, and the verdict.
//!
//! The node-agent's loop (`node-agent/src/job.rs`, `train`) for committed epoch
//! `E` (1-based) is: `train = job.train_epoch(E − 1)` (the ABI's epochs are 0-based),
//! `eval = job.evaluate()`, `W_E = job.weights()`, `M_E = train.metrics ++ eval.metrics`
//! (in report order; `init`'s report is not part of any epoch), then
//! `metrics_digest(E, M_E)`. A job resumed from a checkpoint is `init(dataset, seed)`
//! followed by `set_weights(W_{E-1})`. [`reexecute_epoch`] does the same.
//!
//! That a resumed epoch equals the uninterrupted one relies on the kernel keeping no
//! training state outside its weights: the example kernels (`jobs/src`) shuffle with a
//! state derived from `(seed, epoch)` only, zero their gradient buffers per batch and use
//! plain SGD without momentum. The tests check it bit for bit on both kernels. A kernel
//! with hidden state (momentum, Adam moments, an RNG advanced across epochs) would make
//! every resumed run — the node's own restart included — diverge from an uninterrupted
//! one; auditing such a job needs that state inside the committed weights bytes.

use cyxwiz_poc::{metrics_digest, weights_digest};
use cyxwiz_sandbox::{JobModule, Sandbox};
use serde::{Deserialize, Serialize};

use crate::AuditError;
use crate::protocol::{Challenge, Digests, Reveal, VerifiedReveal, verify_reveal};

/// The result of re-executing one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct ReExecution {
    pub epoch: u32,
    /// `W_E` as re-computed.
    pub weights: Vec<u8>,
    /// `M_E` as re-computed (train metrics, then evaluate metrics).
    pub metrics: Vec<(i32, f64)>,
    /// `weights_digest(W_E)` and `metrics_digest(E, M_E)`.
    pub digests: Digests,
    /// Fuel of `train_epoch` plus `evaluate` (a deterministic cost measure).
    pub fuel: u64,
}

/// Re-executes epoch `epoch` (1-based) of a job: a fresh instance, `init(dataset, seed)`,
/// `set_weights(prev_weights)` when `epoch > 1`, `train_epoch(epoch − 1)`, `evaluate()`,
/// then the weights and the digests the node-agent commits.
///
/// `prev_weights` must be `Some(W_{E-1})` exactly when `epoch > 1`. A sandbox failure is
/// [`AuditError::ReExecution`]: inconclusive, not a verdict (a wall-time limit, for one,
/// depends on the machine).
pub fn reexecute_epoch(
    sandbox: &Sandbox,
    module: &JobModule,
    dataset: &[u8],
    seed: i64,
    prev_weights: Option<&[u8]>,
    epoch: u32,
) -> Result<ReExecution, AuditError> {
    if epoch == 0 {
        return Err(AuditError::BadChallenge(
            "epoch 0 has no checkpoint (epochs are 1-based)".into(),
        ));
    }
    match (epoch, prev_weights.is_some()) {
        (1, true) => {
            return Err(AuditError::BadChallenge(
                "epoch 1 starts from init; no previous weights apply".into(),
            ));
        }
        (e, false) if e > 1 => {
            return Err(AuditError::BadChallenge(format!(
                "epoch {e} starts from the weights of epoch {}",
                e - 1
            )));
        }
        _ => {}
    }
    let failed = |source| AuditError::ReExecution { epoch, source };
    let mut job = sandbox.instantiate(module).map_err(failed)?;
    job.init(dataset, seed).map_err(failed)?;
    if let Some(w) = prev_weights {
        job.set_weights(w).map_err(failed)?;
    }
    let train = job.train_epoch(epoch - 1).map_err(failed)?;
    let eval = job.evaluate().map_err(failed)?;
    let weights = job.weights().map_err(failed)?;
    let mut metrics = train.metrics;
    metrics.extend(eval.metrics.iter().copied());
    let digests = Digests {
        weights: weights_digest(&weights),
        metrics: metrics_digest(epoch, &metrics),
    };
    Ok(ReExecution {
        epoch,
        weights,
        metrics,
        digests,
        fuel: train.fuel + eval.fuel,
    })
}

/// What disagrees in a [`Fraud`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudKind {
    /// The committed weights are not what the epoch produces (whatever the metrics).
    Weights,
    /// The weights are right but the committed metrics are not the ones training and
    /// evaluation report for them: the work was done, its report was falsified.
    Metrics,
}

/// The node committed something for `epoch` that re-execution does not reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fraud {
    pub epoch: u32,
    pub kind: FraudKind,
    /// Digests of the re-executed epoch.
    pub expected: Digests,
    /// Digests the node committed to (and revealed under its anchored root).
    pub committed: Digests,
}

/// The outcome of auditing one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case", deny_unknown_fields)]
pub enum Verdict {
    /// Re-execution reproduces both committed digests.
    Honest,
    /// Re-execution does not reproduce what was committed.
    Fraud(Fraud),
}

impl Verdict {
    pub fn is_fraud(&self) -> bool {
        matches!(self, Verdict::Fraud(_))
    }
}

/// Compares re-executed digests with committed ones.
///
/// A weights mismatch is [`FraudKind::Weights`]. A metrics-only mismatch is fraud too
/// ([`FraudKind::Metrics`]): the metrics are a deterministic function of the same inputs
/// (the training pass over the epoch's batches and the evaluation of `W_E`), so an honest
/// node cannot commit other ones — it can only have misreported them (e.g. inflated
/// accuracy in its progress). The kind lets voters tell a falsified report from training
/// that was not done.
pub fn judge(epoch: u32, expected: Digests, committed: Digests) -> Verdict {
    let kind = if expected.weights != committed.weights {
        FraudKind::Weights
    } else if expected.metrics != committed.metrics {
        FraudKind::Metrics
    } else {
        return Verdict::Honest;
    };
    Verdict::Fraud(Fraud {
        epoch,
        kind,
        expected,
        committed,
    })
}

/// One completed single-epoch audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    /// What the reveal bound the node to.
    pub verified: VerifiedReveal,
    /// What re-execution produced.
    pub reexecution: ReExecution,
    pub verdict: Verdict,
}

/// Verifies `reveal` against `challenge` ([`verify_reveal`]), re-executes the epoch from
/// the revealed `W_{E-1}` ([`reexecute_epoch`]) and [`judge`]s.
pub fn audit(
    sandbox: &Sandbox,
    module: &JobModule,
    dataset: &[u8],
    seed: i64,
    challenge: &Challenge,
    reveal: &Reveal,
) -> Result<Audit, AuditError> {
    let verified = verify_reveal(challenge, reveal)?;
    let prev = reveal.prev.as_ref().map(|p| p.weights.as_slice());
    let reexecution = reexecute_epoch(sandbox, module, dataset, seed, prev, verified.epoch)?;
    let verdict = judge(verified.epoch, reexecution.digests, verified.committed);
    Ok(Audit {
        verified,
        reexecution,
        verdict,
    })
}
