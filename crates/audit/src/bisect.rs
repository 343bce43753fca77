//! Finding where a node's anchored chain leaves the challenger's own re-run, in
//! `O(log k)` probes.
//!
//! A challenger that re-ran the whole job has its own `W_1..W_k`, but it cannot compare
//! checkpoint hashes or roots with the node's: every `H_E` also commits to the node's
//! wall-clock `t_E`, which no re-run reproduces, so the challenger's roots differ from
//! the node's even when every weight agrees (and computing its own `H_i` with the node's
//! timestamps would need all of `t_1..t_i`, i.e. `i` openings). The comparison is
//! therefore on *weights digests*: each probe asks the node for the digest-level opening
//! ([`ProbeOpening`]) of one epoch, which binds `weights_digest(W_i)` to the anchored
//! root through `H_i`'s Merkle proof, and compares it with the challenger's own digest.
//!
//! The search keeps `lo`, an epoch where the node agrees (`0` — the common `init` — to
//! begin with), and `hi`, an epoch where it disagrees. The first probe is the last
//! anchored epoch `k`: agreement there means there is nothing to bisect. Otherwise it
//! halves `(lo, hi]` until `hi = lo + 1`, which takes `⌈log2 k⌉` more probes, so at most
//! `⌈log2 k⌉ + 1` probes in all. Epoch `hi` is then audited alone ([`crate::audit`]): its
//! revealed starting point `W_{hi-1}` is the challenger's own (agreed digest, or `init`),
//! so re-execution shows whether the node's `W_hi` follows from it.
//!
//! When the node diverges from some epoch `j` on, `hi` is exactly `j`, the first
//! divergent epoch. Divergence need not persist, though: a small enough change is rounded
//! away by a contractive kernel (one ulp of one weight heals within two epochs of the
//! logistic regression example), and a chain that agrees again by epoch `k` ends in
//! [`Step::Agreed`] — "the anchored head is right", not "every epoch was". A chain that
//! agrees again only at some probed epoch still yields an adjacent agree/disagree pair,
//! which is all a fraud proof needs.
//! Metrics are not bisected: a falsified report does not propagate to later epochs, so
//! only direct audits of the epoch catch it.

use cyxwiz_poc::Digest;

use crate::protocol::{Challenge, ProbeOpening, check_genesis, check_included};
use crate::{AuditError, RevealFault};

/// What the challenger does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ask the node for the [`ProbeOpening`] of `challenge.epoch` and
    /// [`submit`](Bisection::submit) it.
    Probe(Challenge),
    /// Done: the node disagrees at `challenge.epoch` and agrees at the epoch before (or it
    /// is epoch 1). Ask for the full [`Reveal`](crate::Reveal) and [`audit`](crate::audit).
    Audit(Challenge),
    /// The node's weights at the last anchored epoch equal the challenger's: there is no
    /// divergence to look for.
    Agreed,
}

/// The bisection state machine.
#[derive(Debug, Clone)]
pub struct Bisection {
    anchor: Challenge,
    own: Vec<Digest>,
    lo: u32,
    hi: Option<u32>,
    agreed: bool,
    probes: Vec<ProbeOpening>,
}

impl Bisection {
    /// Starts a bisection over the first `anchored_epochs` epochs under `anchored_root`.
    /// `own_weights[i]` is the challenger's `weights_digest(W_{i+1})`; at least
    /// `anchored_epochs` of them.
    pub fn new(
        job_id: [u8; 16],
        anchored_root: Digest,
        anchored_epochs: u32,
        own_weights: &[Digest],
    ) -> Result<Bisection, AuditError> {
        let anchor = Challenge {
            job_id,
            epoch: anchored_epochs,
            anchored_root,
            anchored_epochs,
        };
        anchor.validate()?;
        let k = anchored_epochs as usize;
        if own_weights.len() < k {
            return Err(AuditError::Bisection(format!(
                "{k} epochs anchored, the challenger has digests of {}",
                own_weights.len()
            )));
        }
        Ok(Bisection {
            anchor,
            own: own_weights[..k].to_vec(),
            lo: 0,
            hi: None,
            agreed: false,
            probes: Vec::new(),
        })
    }

    /// The most probes a bisection over `k` anchored epochs takes: `⌈log2 k⌉ + 1`.
    pub fn max_probes(k: u32) -> u32 {
        k.max(1).next_power_of_two().trailing_zeros() + 1
    }

    /// What to do now.
    pub fn step(&self) -> Step {
        if self.agreed {
            return Step::Agreed;
        }
        match self.hi {
            None => Step::Probe(self.anchor),
            Some(hi) if hi - self.lo == 1 => Step::Audit(self.anchor.at(hi)),
            Some(hi) => Step::Probe(self.anchor.at(self.lo + (hi - self.lo) / 2)),
        }
    }

    /// Takes the node's answer to the pending probe. An answer that does not open the
    /// anchored chain at that epoch is [`AuditError::RevealInvalid`] (and changes nothing).
    pub fn submit(&mut self, probe: ProbeOpening) -> Result<Step, AuditError> {
        let Step::Probe(challenge) = self.step() else {
            return Err(AuditError::Bisection("no probe is pending".into()));
        };
        verify_probe(&challenge, &probe)?;
        let e = challenge.epoch;
        if probe.digests.weights == self.own[(e - 1) as usize] {
            if self.hi.is_none() {
                self.agreed = true;
            } else {
                self.lo = e;
            }
        } else {
            self.hi = Some(e);
        }
        self.probes.push(probe);
        Ok(self.step())
    }

    /// Drives the probes to the end with `node` answering each one (e.g.
    /// [`build_probe`](crate::build_probe) over the wire); returns the final step.
    pub fn run(
        &mut self,
        mut node: impl FnMut(&Challenge) -> Result<ProbeOpening, AuditError>,
    ) -> Result<Step, AuditError> {
        loop {
            match self.step() {
                Step::Probe(c) => {
                    let probe = node(&c)?;
                    self.submit(probe)?;
                }
                done => return Ok(done),
            }
        }
    }

    /// Probes answered so far.
    pub fn probe_count(&self) -> u32 {
        self.probes.len() as u32
    }

    /// The answered probes, in order (for the record).
    pub fn probes(&self) -> &[ProbeOpening] {
        &self.probes
    }

    /// The divergent epoch once found.
    pub fn divergent_epoch(&self) -> Option<u32> {
        match self.step() {
            Step::Audit(c) => Some(c.epoch),
            _ => None,
        }
    }
}

/// Checks a probe opens epoch `challenge.epoch` of the anchored chain; returns its `H_E`.
pub fn verify_probe(challenge: &Challenge, probe: &ProbeOpening) -> Result<Digest, AuditError> {
    challenge.validate()?;
    if probe.epoch != challenge.epoch {
        return Err(RevealFault::WrongEpoch {
            expected: challenge.epoch,
            found: probe.epoch,
        }
        .into());
    }
    if probe.epoch == 1 {
        check_genesis(&challenge.job_id, &probe.prev_hash)?;
    }
    Ok(check_included(
        challenge,
        probe.epoch,
        probe.hash(),
        &probe.proof,
    )?)
}
