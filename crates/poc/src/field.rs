//! Field-element encoding and the Poseidon primitives.
//!
//! A [`Digest`] is a BN254 scalar field element as 32 big-endian bytes. Big-endian because
//! that is how circom/snarkjs and `groth16-solana` write public inputs, so a digest can be
//! handed to the verifier byte for byte. The hashers are circom's Poseidon (`x^5`, BN254,
//! circomlib round constants) as implemented by `light-poseidon`.

use std::cell::RefCell;

use ark_bn254::Fr;
use ark_ff::{BigInteger, BigInteger256, PrimeField};
use light_poseidon::{Poseidon, PoseidonHasher};

use crate::PocError;

/// A big-endian BN254 `Fr` element; every digest this crate produces is canonical (`< p`).
pub type Digest = [u8; 32];

/// `p`, the BN254 scalar field modulus, big-endian.
const MODULUS_BE: Digest = [
    0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d,
    0x28, 0x33, 0xe8, 0x48, 0x79, 0xb9, 0x70, 0x91, 0x43, 0xe1, 0xf5, 0x93, 0xf0, 0x00, 0x00, 0x01,
];

/// Reduces 32 big-endian bytes modulo `p`. Used to turn SHA-256 outputs into field
/// elements; the bias this introduces (p ≈ 2^253.6) is irrelevant for a commitment.
pub fn reduce(bytes: &[u8; 32]) -> Digest {
    from_fr(&Fr::from_be_bytes_mod_order(bytes))
}

/// Whether `d` is strictly below the modulus, i.e. the unique encoding of a field element.
pub fn is_canonical(d: &Digest) -> bool {
    // Lexicographic order on equal-length big-endian arrays is numeric order.
    *d < MODULUS_BE
}

/// Lower-case hex of a digest (how digests appear in logs, configs and storage).
pub fn to_hex(d: &Digest) -> String {
    hex::encode(d)
}

/// Parses 64 hex characters (optional `0x`) into a canonical digest.
pub fn from_hex(s: &str) -> Result<Digest, PocError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let mut d = [0u8; 32];
    hex::decode_to_slice(s, &mut d).map_err(|e| PocError::BadHex(e.to_string()))?;
    if !is_canonical(&d) {
        return Err(PocError::NonCanonical);
    }
    Ok(d)
}

/// Digest → field element, refusing non-canonical encodings.
pub(crate) fn to_fr(d: &Digest) -> Result<Fr, PocError> {
    if !is_canonical(d) {
        return Err(PocError::NonCanonical);
    }
    Ok(Fr::from_bigint(be_to_bigint(d)).expect("canonical value is below the modulus"))
}

/// Field element → digest (always canonical, since `Fr` stores a reduced value).
pub(crate) fn from_fr(x: &Fr) -> Digest {
    let bytes = x.into_bigint().to_bytes_be();
    let mut d = [0u8; 32];
    d.copy_from_slice(&bytes);
    d
}

fn be_to_bigint(d: &Digest) -> BigInteger256 {
    // BigInteger256 limbs are little-endian u64 words.
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let start = 32 - 8 * (i + 1);
        *limb = u64::from_be_bytes(d[start..start + 8].try_into().expect("8 bytes"));
    }
    BigInteger256::new(limbs)
}

thread_local! {
    // Building a circom Poseidon instance converts a few hundred round constants into
    // Montgomery form, which costs about as much as a hash; every epoch and every Merkle
    // update hashes, so each thread keeps one instance per arity. `hash` needs `&mut`
    // (it reuses a state vector), hence thread-local rather than a shared static.
    static POSEIDON2: RefCell<Poseidon<Fr>> =
        RefCell::new(Poseidon::<Fr>::new_circom(2).expect("circom supports 2 inputs"));
    static POSEIDON4: RefCell<Poseidon<Fr>> =
        RefCell::new(Poseidon::<Fr>::new_circom(4).expect("circom supports 4 inputs"));
}

/// circom `Poseidon(2)` over field elements.
pub(crate) fn poseidon2(a: Fr, b: Fr) -> Fr {
    POSEIDON2.with(|p| {
        p.borrow_mut()
            .hash(&[a, b])
            .expect("input count matches the instance width")
    })
}

/// circom `Poseidon(4)` over field elements.
pub(crate) fn poseidon4(inputs: [Fr; 4]) -> Fr {
    POSEIDON4.with(|p| {
        p.borrow_mut()
            .hash(&inputs)
            .expect("input count matches the instance width")
    })
}

/// Merkle parent: circom `Poseidon(left, right)`.
///
/// Takes digests this crate produced, which are canonical. A non-canonical input is read
/// modulo `p` instead of failing, because the `rs_merkle::Hasher` trait this backs cannot
/// return errors; [`verify_inclusion`](crate::verify_inclusion) rejects non-canonical proof
/// elements before they get here, so proofs stay non-malleable.
pub fn hash_pair(left: &Digest, right: &Digest) -> Digest {
    let l = Fr::from_be_bytes_mod_order(left);
    let r = Fr::from_be_bytes_mod_order(right);
    from_fr(&poseidon2(l, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_constant_matches_arkworks() {
        let m: Vec<u8> = Fr::MODULUS.to_bytes_be();
        assert_eq!(m.as_slice(), MODULUS_BE.as_slice());
    }

    #[test]
    fn fr_roundtrip() {
        let mut d = MODULUS_BE;
        d[31] -= 1; // p - 1
        assert_eq!(from_fr(&to_fr(&d).unwrap()), d);
        assert_eq!(to_fr(&MODULUS_BE), Err(PocError::NonCanonical));
        assert_eq!(from_fr(&Fr::from(258u64))[30..], [1, 2]);
    }
}
