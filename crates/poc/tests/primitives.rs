//! Field encoding, circom Poseidon compatibility, and the epoch digests.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use cyxwiz_poc::{
    Digest, PocError, chain_step, from_hex, genesis, hash_pair, is_canonical, metrics_digest,
    reduce, to_hex, weights_digest,
};
use sha2::{Digest as _, Sha256};

fn modulus() -> Digest {
    Fr::MODULUS.to_bytes_be().try_into().unwrap()
}

fn small(n: u64) -> Digest {
    let mut d = [0u8; 32];
    d[24..].copy_from_slice(&n.to_be_bytes());
    d
}

fn hex32(s: &str) -> Digest {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// Known circomlib(js) vectors, as reproduced by light-poseidon's own test suite: the
/// chain and tree hashes must be the very function circom's `Poseidon(n)` template computes.
#[test]
fn poseidon_matches_circomlib_vectors() {
    // poseidon([1, 2]) — the standard circomlib test vector.
    assert_eq!(
        to_hex(&hash_pair(&small(1), &small(2))),
        "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a"
    );
    // poseidon([1, 1]) — light-poseidon's `test_poseidon_one`.
    assert_eq!(
        to_hex(&hash_pair(&small(1), &small(1))),
        "007af346e2d304279e79e0a9f3023f771294a78acb70e73f90afe27cad401e81"
    );
    // poseidon([1, 2, 3, 4]) — circomlib's 4-input vector; chain_step feeds the timestamp
    // as the 4th input, so t = 4 reproduces it.
    assert_eq!(
        to_hex(&chain_step(&small(1), &small(2), &small(3), 4).unwrap()),
        "299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465"
    );
    // Arity and order matter.
    assert_ne!(
        hash_pair(&small(1), &small(2)),
        hash_pair(&small(2), &small(1))
    );
}

#[test]
fn reduce_edges() {
    let p = modulus();
    assert_eq!(reduce(&p), [0u8; 32]);

    let mut p_plus_1 = p;
    p_plus_1[31] += 1; // p ends in 0x01, no carry
    assert_eq!(reduce(&p_plus_1), small(1));

    let mut p_minus_1 = p;
    p_minus_1[31] -= 1;
    assert_eq!(reduce(&p_minus_1), p_minus_1);

    let all_ff = [0xffu8; 32];
    let r = reduce(&all_ff);
    assert!(is_canonical(&r));
    // 2^256 - 1 = 5p + r with 5p < 2^256 < 6p for BN254's p.
    assert_eq!(
        Fr::from_be_bytes_mod_order(&all_ff),
        Fr::from_be_bytes_mod_order(&r)
    );
    assert_ne!(r, all_ff);

    assert_eq!(reduce(&[0u8; 32]), [0u8; 32]);
    for i in 0..64u8 {
        let x: Digest = Sha256::digest([i]).into();
        assert!(is_canonical(&reduce(&x)));
        assert_eq!(reduce(&reduce(&x)), reduce(&x), "reduce is idempotent");
    }
}

#[test]
fn canonical_edges() {
    let p = modulus();
    let mut p_minus_1 = p;
    p_minus_1[31] -= 1;
    assert!(is_canonical(&[0u8; 32]));
    assert!(is_canonical(&p_minus_1));
    assert!(!is_canonical(&p));
    assert!(!is_canonical(&[0xff; 32]));
    let mut hi = [0u8; 32];
    hi[0] = 0x31; // above p's top byte 0x30
    assert!(!is_canonical(&hi));
    hi[0] = 0x30;
    assert!(is_canonical(&hi)); // 0x30 00.. < p
}

#[test]
fn hex_roundtrip() {
    let d = weights_digest(b"abc");
    assert_eq!(from_hex(&to_hex(&d)), Ok(d));
    assert_eq!(from_hex(&format!("0x{}", to_hex(&d))), Ok(d));
    assert_eq!(
        from_hex(&hex::encode(modulus())),
        Err(PocError::NonCanonical)
    );
    assert!(matches!(from_hex("abcd"), Err(PocError::BadHex(_))));
}

#[test]
fn weights_digest_spec() {
    let w = vec![7u8; 1000];
    // Independent recomputation of the documented encoding.
    let mut h = Sha256::new();
    h.update(b"cyxwiz-weights-v1");
    h.update(1000u64.to_le_bytes());
    h.update(&w);
    let expected = reduce(&h.finalize().into());
    assert_eq!(weights_digest(&w), expected);
    assert_eq!(weights_digest(&w), weights_digest(&w.clone()));
    assert!(is_canonical(&weights_digest(&w)));
    assert_ne!(weights_digest(&w), weights_digest(&w[..999]));
    assert_ne!(weights_digest(b""), weights_digest(b"\0"));
    // Domain separation: not plain SHA-256, and not the metrics digest of the same bytes.
    assert_ne!(weights_digest(&w), reduce(&Sha256::digest(&w).into()));
    assert_ne!(weights_digest(b""), metrics_digest(0, &[]));
}

#[test]
fn metrics_digest_spec() {
    let m = [(3, 0.25f64), (-1, 1.5), (7, f64::INFINITY)];
    let mut h = Sha256::new();
    h.update(b"cyxwiz-metrics-v1");
    h.update(5u32.to_le_bytes());
    h.update(3u64.to_le_bytes());
    for (k, v) in [(-1i32, 1.5f64), (3, 0.25), (7, f64::INFINITY)] {
        h.update(k.to_le_bytes());
        h.update(v.to_bits().to_le_bytes());
    }
    assert_eq!(metrics_digest(5, &m), reduce(&h.finalize().into()));
    assert_eq!(metrics_digest(5, &m), metrics_digest(5, &m));
    assert!(is_canonical(&metrics_digest(5, &m)));
}

#[test]
fn metrics_order_insensitive() {
    let a = [(1, 0.5f64), (2, -3.0), (9, 1e-9), (2, 4.0)];
    let b = [(9, 1e-9f64), (2, 4.0), (1, 0.5), (2, -3.0)];
    let c = [(2, -3.0f64), (2, 4.0), (9, 1e-9), (1, 0.5)];
    assert_eq!(metrics_digest(1, &a), metrics_digest(1, &b));
    assert_eq!(metrics_digest(1, &a), metrics_digest(1, &c));
}

#[test]
fn metrics_nan_canonicalised() {
    let quiet = f64::NAN;
    let payload = f64::from_bits(0x7ff0_0000_0000_0001); // signalling NaN, payload 1
    let negative = f64::from_bits(0xfff8_dead_beef_0000);
    assert!(quiet.is_nan() && payload.is_nan() && negative.is_nan());
    assert_ne!(quiet.to_bits(), payload.to_bits());
    let d = metrics_digest(2, &[(0, quiet)]);
    assert_eq!(d, metrics_digest(2, &[(0, payload)]));
    assert_eq!(d, metrics_digest(2, &[(0, negative)]));
    assert_ne!(d, metrics_digest(2, &[(0, f64::INFINITY)]));
    // Non-NaN values keep their bits.
    assert_ne!(
        metrics_digest(2, &[(0, 0.0)]),
        metrics_digest(2, &[(0, -0.0)])
    );
}

#[test]
fn metrics_bind_everything() {
    let m = [(1, 0.5f64), (2, 0.75)];
    let d = metrics_digest(3, &m);
    assert_ne!(d, metrics_digest(4, &m), "epoch");
    assert_ne!(d, metrics_digest(3, &[(1, 0.5)]), "count");
    assert_ne!(d, metrics_digest(3, &[(1, 0.5), (3, 0.75)]), "key");
    assert_ne!(d, metrics_digest(3, &[(1, 0.5), (2, 0.7500001)]), "value");
    assert_ne!(metrics_digest(0, &[]), metrics_digest(1, &[]));
}

#[test]
fn genesis_is_job_id_as_u128() {
    let id: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
    let g = genesis(&id);
    assert_eq!(g[..16], [0u8; 16]);
    assert_eq!(g[16..], id);
    assert!(is_canonical(&g));
    assert!(is_canonical(&genesis(&[0xff; 16])));
    let as_field = Fr::from(u128::from_be_bytes(id));
    assert_eq!(as_field.into_bigint().to_bytes_be(), g.to_vec());
    assert_ne!(genesis(&id), genesis(&[0; 16]));
}

#[test]
fn chain_step_rejects_bad_inputs() {
    let ok = small(5);
    let p = modulus();
    assert_eq!(
        chain_step(&ok, &ok, &ok, -1),
        Err(PocError::NegativeTimestamp(-1))
    );
    assert_eq!(
        chain_step(&ok, &ok, &ok, i64::MIN),
        Err(PocError::NegativeTimestamp(i64::MIN))
    );
    assert_eq!(chain_step(&p, &ok, &ok, 0), Err(PocError::NonCanonical));
    assert_eq!(chain_step(&ok, &p, &ok, 0), Err(PocError::NonCanonical));
    assert_eq!(
        chain_step(&ok, &ok, &[0xff; 32], 0),
        Err(PocError::NonCanonical)
    );
    // Boundaries accepted.
    let mut p_minus_1 = p;
    p_minus_1[31] -= 1;
    assert!(chain_step(&p_minus_1, &ok, &ok, 0).is_ok());
    assert!(chain_step(&ok, &ok, &ok, i64::MAX).is_ok());
    // Timestamp is the integer itself in the field.
    assert_ne!(
        chain_step(&ok, &ok, &ok, 1).unwrap(),
        chain_step(&ok, &ok, &ok, 2).unwrap()
    );
    assert_eq!(
        chain_step(&ok, &ok, &ok, 0x0102).unwrap(),
        chain_step(&ok, &ok, &ok, 258).unwrap()
    );
    assert_eq!(hex32(&to_hex(&ok)), ok);
}
