//! The audit transcript that goes to a dispute, and its independent check.
//!
//! [`Evidence`] records one single-epoch audit: which job inputs it ran with, the
//! challenge, the node's reveal, the re-executed digests and the verdict. It has two
//! encodings of the same value:
//!
//! - **canonical bytes** ([`Evidence::to_bytes`]): a fixed little-endian layout, the
//!   input of [`Evidence::evidence_hash`] =
//!   `SHA-256("cyxwiz-audit-evidence-v1" || bytes)`, the 32 bytes `dispute-dao` takes as
//!   `evidence_hash`;
//! - **JSON** ([`Evidence::to_json`]): hex byte strings and exact `f64` bit patterns, for
//!   transport and people. Decoding JSON and hashing gives the same hash, whatever the
//!   whitespace or key order.
//!
//! Canonical layout (version 1; integers little-endian):
//!
//! ```text
//! "CYXE" | version u32
//! job:        module_sha256 [32] | dataset_sha256 [32] | seed i64
//! challenge:  job_id [16] | epoch u32 | anchored_root [32] | anchored_epochs u32
//! reveal:     prev_present u8 (0|1) | [opening E-1] | opening E
//!   opening:  epoch u32 | timestamp i64 | prev_hash [32]
//!             | metric count u32 | count × (key i32 | value f64 bits u64)
//!             | weights length u64 | weights | proof length u32 | proof
//! reexecuted: weights digest [32] | metrics digest [32]
//! verdict:    0 (honest) | 1 (fraud) epoch u32 | kind u8 (0 weights, 1 metrics)
//!             | expected weights [32] | expected metrics [32]
//!             | committed weights [32] | committed metrics [32]
//! ```
//!
//! Metrics are encoded in the order revealed (the metrics digest sorts them; the
//! transcript records the reveal verbatim).

use cyxwiz_poc::Digest;
use cyxwiz_sandbox::Sandbox;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::protocol::{Challenge, Digests, Opening, Reveal};
use crate::reexec::{Audit, Fraud, FraudKind, Verdict, audit};
use crate::{AuditError, serde_hex};

/// Version of the transcript format.
pub const EVIDENCE_VERSION: u32 = 1;
/// Domain tag of [`Evidence::evidence_hash`].
pub const EVIDENCE_DOMAIN: &[u8] = b"cyxwiz-audit-evidence-v1";
const MAGIC: &[u8; 4] = b"CYXE";

/// What the re-execution ran: the job's module and dataset (plain SHA-256 of the bytes,
/// as the job was submitted with) and its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobInputs {
    #[serde(with = "serde_hex::array")]
    pub module_sha256: [u8; 32],
    #[serde(with = "serde_hex::array")]
    pub dataset_sha256: [u8; 32],
    pub seed: i64,
}

impl JobInputs {
    pub fn of(wasm: &[u8], dataset: &[u8], seed: i64) -> JobInputs {
        JobInputs {
            module_sha256: Sha256::digest(wasm).into(),
            dataset_sha256: Sha256::digest(dataset).into(),
            seed,
        }
    }
}

/// The transcript of one audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub version: u32,
    pub job: JobInputs,
    pub challenge: Challenge,
    pub reveal: Reveal,
    /// Digests of the re-executed epoch.
    pub reexecuted: Digests,
    pub verdict: Verdict,
}

impl Evidence {
    /// Records `audit`, the result of [`crate::audit`] on `challenge` and `reveal` with
    /// the inputs `job`.
    pub fn new(
        job: JobInputs,
        challenge: Challenge,
        reveal: Reveal,
        audit: &Audit,
    ) -> Result<Evidence, AuditError> {
        if audit.verified.epoch != challenge.epoch
            || audit.verified.committed != reveal.this.digests()
        {
            return Err(AuditError::Evidence(
                "the audit is not of this challenge and reveal".into(),
            ));
        }
        Ok(Evidence {
            version: EVIDENCE_VERSION,
            job,
            challenge,
            reveal,
            reexecuted: audit.reexecution.digests,
            verdict: audit.verdict,
        })
    }

    /// `SHA-256(EVIDENCE_DOMAIN || to_bytes())`: the dispute's `evidence_hash`.
    pub fn evidence_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(EVIDENCE_DOMAIN);
        h.update(self.to_bytes());
        h.finalize().into()
    }

    /// The canonical encoding (layout in the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(
            512 + self.reveal.this.weights.len() * 2 + self.reveal.this.proof.len() * 2,
        );
        w.extend_from_slice(MAGIC);
        w.extend_from_slice(&self.version.to_le_bytes());
        w.extend_from_slice(&self.job.module_sha256);
        w.extend_from_slice(&self.job.dataset_sha256);
        w.extend_from_slice(&self.job.seed.to_le_bytes());
        let c = &self.challenge;
        w.extend_from_slice(&c.job_id);
        w.extend_from_slice(&c.epoch.to_le_bytes());
        w.extend_from_slice(&c.anchored_root);
        w.extend_from_slice(&c.anchored_epochs.to_le_bytes());
        match &self.reveal.prev {
            None => w.push(0),
            Some(p) => {
                w.push(1);
                put_opening(&mut w, p);
            }
        }
        put_opening(&mut w, &self.reveal.this);
        put_digests(&mut w, &self.reexecuted);
        match &self.verdict {
            Verdict::Honest => w.push(0),
            Verdict::Fraud(f) => {
                w.push(1);
                w.extend_from_slice(&f.epoch.to_le_bytes());
                w.push(match f.kind {
                    FraudKind::Weights => 0,
                    FraudKind::Metrics => 1,
                });
                put_digests(&mut w, &f.expected);
                put_digests(&mut w, &f.committed);
            }
        }
        w
    }

    /// Decodes the canonical encoding strictly (no trailing bytes, flags 0 or 1 only),
    /// so `from_bytes(b).to_bytes() == b` for every accepted `b`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Evidence, AuditError> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(AuditError::Evidence("not an audit transcript".into()));
        }
        let version = r.u32()?;
        if version != EVIDENCE_VERSION {
            return Err(AuditError::Evidence(format!(
                "transcript version {version}, this library reads {EVIDENCE_VERSION}"
            )));
        }
        let job = JobInputs {
            module_sha256: r.array()?,
            dataset_sha256: r.array()?,
            seed: r.i64()?,
        };
        let challenge = Challenge {
            job_id: r.array()?,
            epoch: r.u32()?,
            anchored_root: r.array()?,
            anchored_epochs: r.u32()?,
        };
        let prev = match r.flag()? {
            false => None,
            true => Some(r.opening()?),
        };
        let this = r.opening()?;
        let reexecuted = r.digests()?;
        let verdict = match r.flag()? {
            false => Verdict::Honest,
            true => Verdict::Fraud(Fraud {
                epoch: r.u32()?,
                kind: match r.u8()? {
                    0 => FraudKind::Weights,
                    1 => FraudKind::Metrics,
                    k => return Err(AuditError::Evidence(format!("unknown fraud kind {k}"))),
                },
                expected: r.digests()?,
                committed: r.digests()?,
            }),
        };
        if r.pos != bytes.len() {
            return Err(AuditError::Evidence(format!(
                "{} trailing bytes",
                bytes.len() - r.pos
            )));
        }
        Ok(Evidence {
            version,
            job,
            challenge,
            reveal: Reveal { prev, this },
            reexecuted,
            verdict,
        })
    }

    /// Pretty JSON (hex byte strings, metric values as `f64` bit patterns).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("evidence serialises to JSON")
    }

    /// Parses [`to_json`](Self::to_json)'s format (unknown fields refused).
    pub fn from_json(json: &str) -> Result<Evidence, AuditError> {
        serde_json::from_str(json).map_err(|e| AuditError::Evidence(format!("JSON: {e}")))
    }
}

fn put_digests(w: &mut Vec<u8>, d: &Digests) {
    w.extend_from_slice(&d.weights);
    w.extend_from_slice(&d.metrics);
}

fn put_opening(w: &mut Vec<u8>, o: &Opening) {
    w.extend_from_slice(&o.epoch.to_le_bytes());
    w.extend_from_slice(&o.timestamp.to_le_bytes());
    w.extend_from_slice(&o.prev_hash);
    w.extend_from_slice(&(o.metrics.len() as u32).to_le_bytes());
    for (k, v) in &o.metrics {
        w.extend_from_slice(&k.to_le_bytes());
        w.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    w.extend_from_slice(&(o.weights.len() as u64).to_le_bytes());
    w.extend_from_slice(&o.weights);
    w.extend_from_slice(&(o.proof.len() as u32).to_le_bytes());
    w.extend_from_slice(&o.proof);
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AuditError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| AuditError::Evidence(format!("truncated at byte {}", self.pos)))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AuditError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u8(&mut self) -> Result<u8, AuditError> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self) -> Result<bool, AuditError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            f => Err(AuditError::Evidence(format!(
                "flag byte {f} at {} is neither 0 nor 1",
                self.pos - 1
            ))),
        }
    }

    fn u32(&mut self) -> Result<u32, AuditError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, AuditError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, AuditError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn digests(&mut self) -> Result<Digests, AuditError> {
        Ok(Digests {
            weights: self.array()?,
            metrics: self.array()?,
        })
    }

    /// A length that must fit in what is left (a corrupt length never allocates).
    fn bounded(&mut self, n: u64, unit: usize) -> Result<usize, AuditError> {
        let left = (self.b.len() - self.pos) as u64;
        match n.checked_mul(unit as u64) {
            Some(bytes) if bytes <= left => Ok(n as usize),
            _ => Err(AuditError::Evidence(format!(
                "length {n} at byte {} exceeds the transcript",
                self.pos
            ))),
        }
    }

    fn opening(&mut self) -> Result<Opening, AuditError> {
        let epoch = self.u32()?;
        let timestamp = self.i64()?;
        let prev_hash: Digest = self.array()?;
        let count = self.u32()?;
        let count = self.bounded(u64::from(count), 12)?;
        let mut metrics = Vec::with_capacity(count);
        for _ in 0..count {
            let key = i32::from_le_bytes(self.array()?);
            metrics.push((key, f64::from_bits(self.u64()?)));
        }
        let wlen = self.u64()?;
        let wlen = self.bounded(wlen, 1)?;
        let weights = self.take(wlen)?.to_vec();
        let plen = self.u32()?;
        let plen = self.bounded(u64::from(plen), 1)?;
        let proof = self.take(plen)?.to_vec();
        Ok(Opening {
            epoch,
            weights,
            metrics,
            timestamp,
            prev_hash,
            proof,
        })
    }
}

/// What a dispute voter runs: reproduces `evidence`'s verdict independently.
///
/// Checks that `wasm`, `dataset` and `seed` are the inputs the transcript names, verifies
/// the reveal against the transcript's anchored root ([`crate::verify_reveal`]),
/// re-executes the epoch and requires both the recorded re-executed digests and the
/// recorded verdict to come out again. Returns the reproduced verdict.
///
/// A forged reveal fails as [`AuditError::RevealInvalid`]; a transcript whose recorded
/// result does not reproduce as [`AuditError::Evidence`].
///
/// The voter must still check, against the chain, that `evidence.challenge` names this
/// job's anchor: `anchored_root` / `anchored_epochs` are the escrow's `merkle_root` /
/// `epochs_done` (frozen while the dispute is open) or an earlier anchor of the job.
pub fn verify_evidence(
    evidence: &Evidence,
    wasm: &[u8],
    dataset: &[u8],
    seed: i64,
    sandbox: &Sandbox,
) -> Result<Verdict, AuditError> {
    if evidence.version != EVIDENCE_VERSION {
        return Err(AuditError::Evidence(format!(
            "transcript version {}, this library reads {EVIDENCE_VERSION}",
            evidence.version
        )));
    }
    let inputs = JobInputs::of(wasm, dataset, seed);
    if inputs != evidence.job {
        let what = [
            (inputs.module_sha256 != evidence.job.module_sha256, "module"),
            (
                inputs.dataset_sha256 != evidence.job.dataset_sha256,
                "dataset",
            ),
            (inputs.seed != evidence.job.seed, "seed"),
        ]
        .iter()
        .filter(|(differs, _)| *differs)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(", ");
        return Err(AuditError::Evidence(format!(
            "the transcript was made with another {what}"
        )));
    }
    let epoch = evidence.challenge.epoch;
    let module = sandbox
        .load(wasm)
        .map_err(|source| AuditError::ReExecution { epoch, source })?;
    let reproduced = audit(
        sandbox,
        &module,
        dataset,
        seed,
        &evidence.challenge,
        &evidence.reveal,
    )?;
    if reproduced.reexecution.digests != evidence.reexecuted {
        return Err(AuditError::Evidence(format!(
            "recorded re-execution of epoch {epoch} (weights {}, metrics {}) does not \
             reproduce (weights {}, metrics {})",
            hex::encode(evidence.reexecuted.weights),
            hex::encode(evidence.reexecuted.metrics),
            hex::encode(reproduced.reexecution.digests.weights),
            hex::encode(reproduced.reexecution.digests.metrics),
        )));
    }
    if reproduced.verdict != evidence.verdict {
        return Err(AuditError::Evidence(format!(
            "recorded verdict {:?} does not reproduce: {:?}",
            evidence.verdict, reproduced.verdict
        )));
    }
    Ok(reproduced.verdict)
}
