//! The serialised proofs and the generated verifying keys work with groth16-solana 0.3.1
//! (its host implementation of the alt_bn128 syscalls): what the on-chain program runs.

mod common;

use common::{JOB, chain, prover, rng};
use cyxwiz_circuits::setup::{insecure_dev_proving_key, insecure_dev_verifying_key};
use cyxwiz_circuits::solana::{SetupKind, verifying_keys_rust_source};
use cyxwiz_circuits::{CAPACITIES, PROOF_LEN, PublicInputs, SolanaVerifyingKey};
use groth16_solana::groth16::{Groth16Verifier, Groth16Verifyingkey};

#[allow(dead_code)]
mod generated {
    include!("../../programs/job-escrow/src/verifying_keys.rs");
}

fn solana_accepts(
    vk: &Groth16Verifyingkey,
    public: &PublicInputs,
    proof: &[u8; PROOF_LEN],
) -> bool {
    let a: &[u8; 64] = proof[..64].try_into().unwrap();
    let b: &[u8; 128] = proof[64..192].try_into().unwrap();
    let c: &[u8; 64] = proof[192..].try_into().unwrap();
    let inputs = public.to_be_scalars();
    match Groth16Verifier::new(a, b, c, &inputs, vk) {
        Ok(mut v) => v.verify().is_ok(),
        Err(_) => false,
    }
}

#[test]
fn groth16_solana_accepts_our_proofs_with_the_generated_keys() {
    for (n, k) in [(1usize, 0u32), (5, 2), (16, 16)] {
        let (s, w, _) = chain(JOB, n);
        let (proof, public) = prover()
            .prove_in(16, &s, &w, k, &mut rng(n as u64))
            .unwrap();
        let vk = generated::verifying_key_for(n as u32).unwrap();
        assert!(solana_accepts(vk, &public, &proof), "N={n}");
        // Negative cases through the on-chain verifier as well.
        let mut root = public;
        root.merkle_root[31] ^= 1;
        assert!(!solana_accepts(vk, &root, &proof));
        let other_n = PublicInputs {
            epochs: public.epochs + 1,
            ..public
        };
        assert!(!solana_accepts(vk, &other_n, &proof));
        let mut anchor = public;
        anchor.anchored_epochs = (k + 1) % (n as u32 + 1);
        assert!(!solana_accepts(vk, &anchor, &proof));
        let mut tampered = proof;
        tampered[200] ^= 4;
        assert!(!solana_accepts(vk, &public, &tampered));
        // A left un-negated.
        let mut p = cyxwiz_circuits::proof_from_bytes(&proof).unwrap();
        p.a = -p.a;
        assert!(!solana_accepts(
            vk,
            &public,
            &cyxwiz_circuits::proof_to_bytes(&p)
        ));
    }
    const { assert!(generated::INSECURE_DEV_SETUP) };
    assert_eq!(generated::NR_PUBLIC_INPUTS, 4);
    assert!(generated::verifying_key_for(0).is_none());
    assert!(generated::verifying_key_for(1025).is_none());
    assert_eq!(
        generated::verifying_key_for(17).unwrap().vk_ic,
        generated::VERIFYING_KEY_64.vk_ic
    );
    assert_eq!(generated::CAPACITIES.map(|c| c as usize), CAPACITIES);
}

#[test]
fn verifying_key_without_proving_key_matches_full_setup() {
    let pk = insecure_dev_proving_key(16).unwrap();
    let vk = insecure_dev_verifying_key(16).unwrap();
    assert_eq!(pk.vk, vk);
    assert_eq!(prover().verifying_key(16).unwrap(), vk);
}

#[test]
fn generated_file_is_current_for_small_capacities() {
    // The full check (all capacities, including 1024) is
    // `cargo run -p cyxwiz-circuits --bin cyxwiz-vkgen -- --check programs/job-escrow/src/verifying_keys.rs`;
    // here the small capacities are compared key by key, plus the layout of the source.
    for (i, c) in CAPACITIES.iter().take(2).enumerate() {
        let key = SolanaVerifyingKey::new(&insecure_dev_verifying_key(*c).unwrap());
        let g = [&generated::VERIFYING_KEY_16, &generated::VERIFYING_KEY_64][i];
        assert_eq!(g.vk_alpha_g1, key.alpha_g1);
        assert_eq!(g.vk_beta_g2, key.beta_g2);
        assert_eq!(g.vk_gamma_g2, key.gamma_g2);
        assert_eq!(g.vk_delta_g2, key.delta_g2);
        assert_eq!(g.vk_ic, key.ic.as_slice());
        assert_eq!(g.nr_pubinputs, 4);
    }
    let on_disk = include_str!("../../programs/job-escrow/src/verifying_keys.rs");
    let as_key = |g: &Groth16Verifyingkey| SolanaVerifyingKey {
        alpha_g1: g.vk_alpha_g1,
        beta_g2: g.vk_beta_g2,
        gamma_g2: g.vk_gamma_g2,
        delta_g2: g.vk_delta_g2,
        ic: g.vk_ic.to_vec(),
    };
    let keys = [
        &generated::VERIFYING_KEY_16,
        &generated::VERIFYING_KEY_64,
        &generated::VERIFYING_KEY_256,
        &generated::VERIFYING_KEY_1024,
    ]
    .map(as_key);
    let regenerated =
        verifying_keys_rust_source(&keys, SetupKind::InsecureDev, "cyxwiz-vkgen").unwrap();
    assert_eq!(regenerated, on_disk);
}
