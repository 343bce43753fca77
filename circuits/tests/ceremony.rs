//! Phase-2 ceremony: contributions verify, tampering is caught, final keys prove.

mod common;

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use cyxwiz_circuits::ceremony::{Transcript, export, read_verifying_key};
use cyxwiz_circuits::setup::insecure_dev_proving_key;
use cyxwiz_circuits::{CircuitError, Groth16Prover, verify};

/// Built once per test binary (init and two contributions), cloned by each test.
fn transcript_with_two() -> Transcript {
    static T: std::sync::OnceLock<Transcript> = std::sync::OnceLock::new();
    T.get_or_init(build_transcript_with_two).clone()
}

fn build_transcript_with_two() -> Transcript {
    let mut t = Transcript::init(16, &mut common::rng(100)).unwrap();
    t.verify(&mut common::rng(1)).unwrap();
    let h1 = t.contribute("alice", &mut common::rng(101)).unwrap();
    let h2 = t.contribute("bob", &mut common::rng(102)).unwrap();
    let hashes = t.verify(&mut common::rng(2)).unwrap();
    assert_eq!(hashes.len(), 3);
    assert_eq!(hashes[1], h1);
    assert_eq!(hashes[2], h2);
    t
}

fn rejects(t: &Transcript) -> bool {
    matches!(
        t.verify(&mut common::rng(3)),
        Err(CircuitError::Transcript(_))
    )
}

#[test]
fn init_two_contributions_verify_export_and_prove() {
    let t = transcript_with_two();
    assert_ne!(t.current_delta().0, t.initial.delta_g1);

    // Round trip through the file format.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.bin");
    t.save(&file).unwrap();
    let back = Transcript::load(&file).unwrap();
    assert_eq!(back, t);

    // Export, then prove with the final key through the prover's key directory.
    let keys = dir.path().join("keys");
    export(&back, &keys).unwrap();
    let prover = Groth16Prover::from_dir(&keys);
    let (s, w, _) = common::chain(common::JOB, 6);
    let (proof, public) = prover.prove_in(16, &s, &w, 3, &mut common::rng(7)).unwrap();
    let vk = read_verifying_key(&keys, 16).unwrap();
    assert_eq!(vk, t.proving_key().vk);
    verify(&vk, &public, &proof).unwrap();
    // The initial key's VK (old delta) rejects the final key's proof.
    assert!(verify(&t.initial.vk, &public, &proof).is_err());
    // And a proof from the development key does not verify under the ceremony key.
    let (dev_proof, _) = common::prover()
        .prove_in(16, &s, &w, 3, &mut common::rng(7))
        .unwrap();
    assert!(verify(&vk, &public, &dev_proof).is_err());
}

#[test]
fn tampered_transcripts_fail() {
    let t = transcript_with_two();
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let x = Fr::from(5u64);

    // δ changed without a matching proof of knowledge.
    let mut bad = t.clone();
    bad.contributions[0].delta_g1 = (bad.contributions[0].delta_g1 * x).into_affine();
    assert!(rejects(&bad));
    // δ in G2 inconsistent with G1.
    let mut bad = t.clone();
    bad.contributions[1].delta_g2 = (bad.contributions[1].delta_g2 * x).into_affine();
    assert!(rejects(&bad));
    // Proof of knowledge replaced by one for another secret.
    let mut bad = t.clone();
    bad.contributions[0].s_g1 = (g1 * x).into_affine();
    assert!(rejects(&bad));
    let mut bad = t.clone();
    bad.contributions[1].s_r_g2 = (g2 * x).into_affine();
    assert!(rejects(&bad));
    // Label rewritten: the hash chain moves R, the old proof no longer matches.
    let mut bad = t.clone();
    bad.contributions[0].label = "mallory".into();
    assert!(rejects(&bad));
    // Contributions reordered.
    let mut bad = t.clone();
    bad.contributions.swap(0, 1);
    assert!(rejects(&bad));
    // A query element not divided by the secrets.
    let mut bad = t.clone();
    bad.h_query[3] = (bad.h_query[3] * x).into_affine();
    assert!(rejects(&bad));
    let mut bad = t.clone();
    bad.l_query[0] = bad.initial.l_query[0];
    assert!(rejects(&bad));
    // The last contribution dropped but its queries kept.
    let mut bad = t.clone();
    bad.contributions.pop();
    assert!(rejects(&bad));
    // A forged "contribution" that sets δ to a value the attacker knows.
    let mut bad = t.clone();
    let known = Fr::from(1234u64);
    let c = bad.contributions.last_mut().unwrap();
    c.delta_g1 = (g1 * known).into_affine();
    c.delta_g2 = (g2 * known).into_affine();
    assert!(rejects(&bad));
    // Truncated file.
    let mut bytes = Vec::new();
    t.write_to(&mut bytes).unwrap();
    assert!(Transcript::read_from(&bytes[..bytes.len() - 10]).is_err());
    // Untampered still verifies.
    t.verify(&mut common::rng(9)).unwrap();
}

#[test]
fn ceremony_starts_from_given_parameters() {
    let pk = insecure_dev_proving_key(16).unwrap();
    let mut t = Transcript::from_initial(16, pk);
    t.contribute("", &mut common::rng(1)).unwrap();
    t.verify(&mut common::rng(2)).unwrap();
}
