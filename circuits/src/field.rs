//! Digests (32 big-endian bytes, as `cyxwiz-poc` writes them) ↔ BN254 scalars.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use cyxwiz_poc::{Digest, is_canonical};

use crate::CircuitError;

/// A canonical big-endian digest as a field element; `what` names it in the error.
pub fn digest_to_fr(d: &Digest, what: &'static str) -> Result<Fr, CircuitError> {
    if !is_canonical(d) {
        return Err(CircuitError::NonCanonical(what));
    }
    Ok(Fr::from_be_bytes_mod_order(d))
}

/// A field element as 32 big-endian bytes (always canonical).
pub fn fr_to_digest(x: &Fr) -> Digest {
    let mut d = [0u8; 32];
    d.copy_from_slice(&x.into_bigint().to_bytes_be());
    d
}
