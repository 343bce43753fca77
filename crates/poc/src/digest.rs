//! Compressing an epoch's raw outputs into field elements.
//!
//! Weights and metrics are arbitrary bytes, far too large to feed to Poseidon in a
//! circuit, so each is compressed with domain-separated SHA-256 and reduced modulo `p`.
//! The circuit takes these digests as private inputs; whoever audits a checkpoint
//! recomputes them from the stored weights/metrics with the exact encodings below, which
//! is why the encodings are fixed byte layouts rather than any serde format.

use sha2::{Digest as _, Sha256};

use crate::field::{Digest, reduce};

const WEIGHTS_DOMAIN: &[u8] = b"cyxwiz-weights-v1";
const METRICS_DOMAIN: &[u8] = b"cyxwiz-metrics-v1";

/// The one NaN bit pattern every NaN is written as: NaN payloads differ across
/// platforms and math libraries, and must not make two honest runs disagree.
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// `SHA-256("cyxwiz-weights-v1" || len as u64 LE || weights)` reduced mod `p`.
///
/// The length prefix keeps the encoding unambiguous should more fields ever follow.
pub fn weights_digest(weights: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(WEIGHTS_DOMAIN);
    h.update((weights.len() as u64).to_le_bytes());
    h.update(weights);
    reduce(&h.finalize().into())
}

/// `SHA-256("cyxwiz-metrics-v1" || epoch u32 LE || count u64 LE || entries)` reduced mod `p`,
/// each entry being `key i32 LE || value f64 bits LE`.
///
/// Entries are sorted (by key, then by value bits) so the order the trainer reported them
/// in does not matter, duplicates included. Every NaN is written as `0x7ff8000000000000`;
/// other values keep their exact bits (so `-0.0` and `0.0` differ, deliberately: the digest
/// commits to what was reported, not to a numeric comparison).
pub fn metrics_digest(epoch: u32, metrics: &[(i32, f64)]) -> Digest {
    let mut entries: Vec<(i32, u64)> = metrics
        .iter()
        .map(|&(k, v)| {
            (
                k,
                if v.is_nan() {
                    CANONICAL_NAN
                } else {
                    v.to_bits()
                },
            )
        })
        .collect();
    entries.sort_unstable();

    let mut h = Sha256::new();
    h.update(METRICS_DOMAIN);
    h.update(epoch.to_le_bytes());
    h.update((entries.len() as u64).to_le_bytes());
    for (k, bits) in entries {
        h.update(k.to_le_bytes());
        h.update(bits.to_le_bytes());
    }
    reduce(&h.finalize().into())
}

/// `H_0`: the job id read as a big-endian `u128`, as a field element.
///
/// Starting the chain from the job id binds every checkpoint hash to this job, so a chain
/// computed for one job is useless as evidence for another. A `u128` is always `< p`.
pub fn genesis(job_id: &[u8; 16]) -> Digest {
    let mut d = [0u8; 32];
    d[16..].copy_from_slice(job_id);
    d
}
