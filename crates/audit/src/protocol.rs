//! The messages of an audit and the check that binds a node's answer to its anchor.
//!
//! ```text
//! challenger                                   node
//!   Challenge { job_id, epoch E, anchored_root, anchored_epochs k } ──▶
//!   ◀── Reveal { prev: Opening(E-1) | None when E = 1, this: Opening(E) }
//! ```
//!
//! An [`Opening`] of epoch `E` carries everything `H_E` is computed from (the weights
//! bytes, the metrics, `t_E` and `H_{E-1}`) plus the Merkle proof of `H_E` at leaf
//! `E − 1` in the tree of the first `k` checkpoint hashes. [`verify_reveal`] recomputes
//! `H_{E-1}` and `H_E` from the revealed values, checks both are the leaves the anchored
//! root commits to, and checks `H_E` links to `H_{E-1}` — so everything the re-execution
//! then uses (the starting weights `W_{E-1}`) and compares against (the digests of `W_E`
//! and `M_E`) is what the node committed to before it was challenged.

use cyxwiz_poc::{Digest, PocError, chain_step, genesis, metrics_digest, weights_digest};
use serde::{Deserialize, Serialize};

use crate::{AuditError, hex32, serde_hex};

/// The challenger's request: open epoch `epoch` of the first `anchored_epochs` epochs,
/// whose Merkle root `anchored_root` is on chain (the escrow's `merkle_root` /
/// `epochs_done`). Also the request of one bisection probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    #[serde(with = "serde_hex::array")]
    pub job_id: [u8; 16],
    /// The epoch to open, 1-based: `1 ≤ epoch ≤ anchored_epochs`.
    pub epoch: u32,
    #[serde(with = "serde_hex::array")]
    pub anchored_root: Digest,
    pub anchored_epochs: u32,
}

impl Challenge {
    /// Checks `1 ≤ epoch ≤ anchored_epochs` and that the root is a field element.
    pub fn validate(&self) -> Result<(), AuditError> {
        if self.epoch == 0 {
            return Err(AuditError::BadChallenge(
                "epoch 0 has no checkpoint (epochs are 1-based)".into(),
            ));
        }
        if self.epoch > self.anchored_epochs {
            return Err(AuditError::BadChallenge(format!(
                "epoch {} is past the {} anchored epochs",
                self.epoch, self.anchored_epochs
            )));
        }
        if !cyxwiz_poc::is_canonical(&self.anchored_root) {
            return Err(AuditError::BadChallenge(
                "anchored root is not a canonical field element".into(),
            ));
        }
        Ok(())
    }

    /// The same anchor, asking for another epoch.
    pub fn at(&self, epoch: u32) -> Challenge {
        Challenge { epoch, ..*self }
    }
}

/// A weights digest and a metrics digest (what one epoch's `H_E` commits to besides
/// `t_E` and `H_{E-1}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Digests {
    #[serde(with = "serde_hex::array")]
    pub weights: Digest,
    #[serde(with = "serde_hex::array")]
    pub metrics: Digest,
}

/// Everything checkpoint `H_epoch` is computed from, and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// 1-based epoch.
    pub epoch: u32,
    /// `W_E`, the bytes `cyx_weights_ptr/len` exposed after the epoch.
    #[serde(with = "serde_hex::bytes")]
    pub weights: Vec<u8>,
    /// `M_E`: the metrics of `train_epoch` followed by those of `evaluate`, as reported.
    #[serde(with = "serde_hex::metrics")]
    pub metrics: Vec<(i32, f64)>,
    /// `t_E`, unix milliseconds, as the node committed it.
    pub timestamp: i64,
    /// `H_{E-1}` (`genesis(job_id)` for epoch 1).
    #[serde(with = "serde_hex::array")]
    pub prev_hash: Digest,
    /// Merkle proof of `H_E` at leaf `E − 1` among the first `anchored_epochs` leaves
    /// (cyxwiz-poc's strict proof bytes).
    #[serde(with = "serde_hex::bytes")]
    pub proof: Vec<u8>,
}

impl Opening {
    /// `weights_digest(W_E)` and `metrics_digest(E, M_E)`.
    pub fn digests(&self) -> Digests {
        Digests {
            weights: weights_digest(&self.weights),
            metrics: metrics_digest(self.epoch, &self.metrics),
        }
    }

    /// `H_E` recomputed from the revealed values.
    pub fn hash(&self) -> Result<Digest, PocError> {
        let d = self.digests();
        chain_step(&self.prev_hash, &d.weights, &d.metrics, self.timestamp)
    }

    /// The digest-level opening (what a bisection probe reveals).
    pub fn probe(&self) -> ProbeOpening {
        ProbeOpening {
            epoch: self.epoch,
            digests: self.digests(),
            timestamp: self.timestamp,
            prev_hash: self.prev_hash,
            proof: self.proof.clone(),
        }
    }
}

/// An opening with the weights and metrics replaced by their digests: enough to bind
/// `weights_digest(W_E)` to the anchored root without shipping the weights. Bisection
/// probes use it; only the final single-epoch audit needs the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeOpening {
    pub epoch: u32,
    pub digests: Digests,
    pub timestamp: i64,
    #[serde(with = "serde_hex::array")]
    pub prev_hash: Digest,
    #[serde(with = "serde_hex::bytes")]
    pub proof: Vec<u8>,
}

impl ProbeOpening {
    /// `H_E` recomputed from the revealed digests.
    pub fn hash(&self) -> Result<Digest, PocError> {
        chain_step(
            &self.prev_hash,
            &self.digests.weights,
            &self.digests.metrics,
            self.timestamp,
        )
    }
}

/// The node's answer to a [`Challenge`] of epoch `E`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reveal {
    /// Opening of `E − 1`; `None` exactly when `E = 1` (epoch 1 starts from `init`).
    pub prev: Option<Opening>,
    /// Opening of `E`.
    pub this: Opening,
}

/// Why a reveal (or a probe) does not open what was anchored.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RevealFault {
    /// An opening is for another epoch than the one asked for.
    #[error("opening is for epoch {found}, expected epoch {expected}")]
    WrongEpoch { expected: u32, found: u32 },
    /// `E > 1` but no opening of `E − 1` was given.
    #[error("epoch {epoch} needs the opening of epoch {}", .epoch - 1)]
    MissingPrev { epoch: u32 },
    /// `E = 1` starts from `init`; an opening of "epoch 0" cannot exist.
    #[error("epoch 1 starts from init, but an opening of a previous epoch was given")]
    UnexpectedPrev,
    /// The values do not even form a checkpoint hash (non-canonical `H_{E-1}`, negative
    /// timestamp).
    #[error("epoch {epoch}: {error}")]
    Malformed { epoch: u32, error: PocError },
    /// The recomputed `H_E` is not leaf `E − 1` under the anchored root: the weights,
    /// metrics, timestamp, previous hash or proof differ from what was anchored.
    #[error(
        "epoch {epoch}: recomputed checkpoint hash {} is not leaf {} of the {anchored_epochs} \
         anchored under root {}",
        hex32(.hash), .epoch - 1, hex32(.root)
    )]
    NotIncluded {
        epoch: u32,
        hash: Digest,
        root: Digest,
        anchored_epochs: u32,
    },
    /// Epoch `E` claims a previous hash other than the revealed `H_{E-1}`.
    #[error(
        "epoch {epoch} links to previous hash {}, but epoch {} opens to {}",
        hex32(.found), .epoch - 1, hex32(.expected)
    )]
    BrokenLink {
        epoch: u32,
        expected: Digest,
        found: Digest,
    },
    /// Epoch 1's previous hash is not `genesis(job_id)`.
    #[error("epoch 1 links to {}, not to the job's genesis {}", hex32(.found), hex32(.expected))]
    NotGenesis { expected: Digest, found: Digest },
}

impl From<RevealFault> for AuditError {
    fn from(reason: RevealFault) -> Self {
        AuditError::RevealInvalid { reason }
    }
}

/// What a verified reveal establishes: the node committed `committed` for epoch `epoch`
/// (checkpoint hash `hash`), starting from the revealed `W_{E-1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedReveal {
    pub epoch: u32,
    pub committed: Digests,
    pub hash: Digest,
    pub prev_hash: Digest,
}

/// `H_E` of an opening-like value, checked to be leaf `E − 1` under the anchored root.
pub(crate) fn check_included(
    challenge: &Challenge,
    epoch: u32,
    hash: Result<Digest, PocError>,
    proof: &[u8],
) -> Result<Digest, RevealFault> {
    let hash = hash.map_err(|error| RevealFault::Malformed { epoch, error })?;
    let included = cyxwiz_poc::verify_inclusion(
        &challenge.anchored_root,
        (epoch - 1) as usize,
        &hash,
        challenge.anchored_epochs as usize,
        proof,
    );
    if included {
        Ok(hash)
    } else {
        Err(RevealFault::NotIncluded {
            epoch,
            hash,
            root: challenge.anchored_root,
            anchored_epochs: challenge.anchored_epochs,
        })
    }
}

/// Checks epoch 1's link to the job's genesis.
pub(crate) fn check_genesis(job_id: &[u8; 16], prev_hash: &Digest) -> Result<(), RevealFault> {
    let expected = genesis(job_id);
    if *prev_hash == expected {
        Ok(())
    } else {
        Err(RevealFault::NotGenesis {
            expected,
            found: *prev_hash,
        })
    }
}

/// Checks that `reveal` opens epoch `challenge.epoch` (and `E − 1`) of the anchored
/// chain:
///
/// - the openings are for `E − 1` and `E` (`prev` absent exactly when `E = 1`);
/// - `H_{E-1}` recomputed from `prev` is leaf `E − 2` under the anchored root (strict
///   proof, [`cyxwiz_poc::verify_inclusion`]);
/// - `this.prev_hash` is that `H_{E-1}` (for `E = 1`: `genesis(job_id)`);
/// - `H_E = chain_step(H_{E-1}, weights_digest(W_E), metrics_digest(E, M_E), t_E)` is leaf
///   `E − 1` under the anchored root.
///
/// Any failure is [`AuditError::RevealInvalid`] naming what disagrees;
/// [`AuditError::BadChallenge`] if the challenge itself is malformed.
pub fn verify_reveal(challenge: &Challenge, reveal: &Reveal) -> Result<VerifiedReveal, AuditError> {
    challenge.validate()?;
    let epoch = challenge.epoch;
    let this = &reveal.this;
    if this.epoch != epoch {
        return Err(RevealFault::WrongEpoch {
            expected: epoch,
            found: this.epoch,
        }
        .into());
    }
    match (&reveal.prev, epoch) {
        (None, 1) => check_genesis(&challenge.job_id, &this.prev_hash)?,
        (Some(_), 1) => return Err(RevealFault::UnexpectedPrev.into()),
        (None, _) => return Err(RevealFault::MissingPrev { epoch }.into()),
        (Some(prev), _) => {
            if prev.epoch != epoch - 1 {
                return Err(RevealFault::WrongEpoch {
                    expected: epoch - 1,
                    found: prev.epoch,
                }
                .into());
            }
            if prev.epoch == 1 {
                check_genesis(&challenge.job_id, &prev.prev_hash)?;
            }
            let prev_hash = check_included(challenge, prev.epoch, prev.hash(), &prev.proof)?;
            if this.prev_hash != prev_hash {
                return Err(RevealFault::BrokenLink {
                    epoch,
                    expected: prev_hash,
                    found: this.prev_hash,
                }
                .into());
            }
        }
    }
    let hash = check_included(challenge, epoch, this.hash(), &this.proof)?;
    Ok(VerifiedReveal {
        epoch,
        committed: this.digests(),
        hash,
        prev_hash: this.prev_hash,
    })
}
