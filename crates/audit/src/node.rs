//! The node's side: answering challenges and probes from its own chain and checkpoints.
//!
//! The node keeps its [`CheckpointChain`] (rebuilt from `chain.bin` on restart) and one
//! checkpoint per epoch (`ckpt/<E>.bin`: weights, metrics, timestamp). It plugs its store
//! in through [`CheckpointSource`] — any `Fn(u32) -> Result<StoredCheckpoint, E>` will do —
//! and every opening it builds is checked against its own chain first, so a damaged
//! checkpoint surfaces as [`AuditError::Unavailable`] instead of as a reveal the
//! challenger would reject.

use cyxwiz_poc::{CheckpointChain, genesis};

use crate::protocol::{Challenge, Opening, ProbeOpening, Reveal};
use crate::{AuditError, hex32};

/// One epoch's checkpoint as the node stored it (node-agent's `store::Checkpoint`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheckpoint {
    pub weights: Vec<u8>,
    pub metrics: Vec<(i32, f64)>,
    pub timestamp: i64,
}

/// Where the node's checkpoints come from (its job directory, or memory in tests).
pub trait CheckpointSource {
    /// The stored checkpoint of `epoch` (1-based); the error says why it is unavailable.
    fn checkpoint(&self, epoch: u32) -> Result<StoredCheckpoint, String>;
}

impl<F, E> CheckpointSource for F
where
    F: Fn(u32) -> Result<StoredCheckpoint, E>,
    E: std::fmt::Display,
{
    fn checkpoint(&self, epoch: u32) -> Result<StoredCheckpoint, String> {
        self(epoch).map_err(|e| e.to_string())
    }
}

/// Opening of `epoch` among the first `anchored_epochs` epochs of `chain`, from the
/// stored checkpoint of that epoch. Fails ([`AuditError::Unavailable`]) if the
/// checkpoint does not recompute to the chain's `H_epoch`.
pub fn open_epoch(
    chain: &CheckpointChain,
    epoch: u32,
    anchored_epochs: u32,
    stored: StoredCheckpoint,
) -> Result<Opening, AuditError> {
    let k = anchored_epochs as usize;
    if epoch == 0 || epoch > anchored_epochs || k > chain.len() {
        return Err(AuditError::Unavailable {
            epoch,
            reason: format!(
                "epoch {epoch} of {anchored_epochs} anchored, chain has {} epochs",
                chain.len()
            ),
        });
    }
    let i = (epoch - 1) as usize;
    let hashes = chain.hashes();
    let prev_hash = if i == 0 {
        genesis(&chain.job_id())
    } else {
        hashes[i - 1]
    };
    let opening = Opening {
        epoch,
        weights: stored.weights,
        metrics: stored.metrics,
        timestamp: stored.timestamp,
        prev_hash,
        proof: chain.proof(i, k)?,
    };
    let recomputed = opening.hash()?;
    if recomputed != hashes[i] {
        return Err(AuditError::Unavailable {
            epoch,
            reason: format!(
                "stored checkpoint recomputes to {}, the chain has {}",
                hex32(&recomputed),
                hex32(&hashes[i])
            ),
        });
    }
    Ok(opening)
}

/// Checks the challenge is about this chain and its anchor is this chain's prefix.
fn check_anchor(chain: &CheckpointChain, challenge: &Challenge) -> Result<(), AuditError> {
    challenge.validate()?;
    if challenge.job_id != chain.job_id() {
        return Err(AuditError::BadChallenge(format!(
            "challenge is for job {}, this chain is job {}",
            hex::encode(challenge.job_id),
            hex::encode(chain.job_id())
        )));
    }
    let k = challenge.anchored_epochs as usize;
    if k > chain.len() {
        return Err(AuditError::BadChallenge(format!(
            "{k} epochs anchored, this chain has {}",
            chain.len()
        )));
    }
    let root = chain.root_at(k)?;
    if root != challenge.anchored_root {
        return Err(AuditError::BadChallenge(format!(
            "the first {k} epochs of this chain have root {}, the challenge names {}",
            hex32(&root),
            hex32(&challenge.anchored_root)
        )));
    }
    Ok(())
}

fn load(source: &impl CheckpointSource, epoch: u32) -> Result<StoredCheckpoint, AuditError> {
    source
        .checkpoint(epoch)
        .map_err(|reason| AuditError::Unavailable { epoch, reason })
}

/// The node's [`Reveal`] for `challenge`: openings of `E − 1` (unless `E = 1`) and `E`
/// from `source`, proven against the anchored prefix of `chain`.
pub fn build_reveal(
    chain: &CheckpointChain,
    challenge: &Challenge,
    source: &impl CheckpointSource,
) -> Result<Reveal, AuditError> {
    check_anchor(chain, challenge)?;
    let (e, k) = (challenge.epoch, challenge.anchored_epochs);
    let prev = if e > 1 {
        Some(open_epoch(chain, e - 1, k, load(source, e - 1)?)?)
    } else {
        None
    };
    let this = open_epoch(chain, e, k, load(source, e)?)?;
    Ok(Reveal { prev, this })
}

/// The node's answer to a bisection probe: the digest-level opening of `challenge.epoch`.
pub fn build_probe(
    chain: &CheckpointChain,
    challenge: &Challenge,
    source: &impl CheckpointSource,
) -> Result<ProbeOpening, AuditError> {
    check_anchor(chain, challenge)?;
    let e = challenge.epoch;
    Ok(open_epoch(chain, e, challenge.anchored_epochs, load(source, e)?)?.probe())
}
