//! Prove and verify with the development keys; every tampering is rejected.

mod common;

use std::time::Instant;

use common::{JOB, chain, prover, rng};
use cyxwiz_circuits::{
    CircuitError, PROOF_LEN, PublicInputs, capacity_for, verify, verify_prepared,
};
use cyxwiz_poc::Prover as _;

/// Proves `n` epochs with `k` anchored in `n`'s capacity; returns proof, inputs, capacity.
fn prove(n: usize, k: u32, seed: u64) -> ([u8; PROOF_LEN], PublicInputs, usize) {
    let (s, w, _) = chain(JOB, n);
    let capacity = capacity_for(n as u32).unwrap();
    let t = Instant::now();
    let (proof, public) = prover()
        .prove_in(capacity, &s, &w, k, &mut rng(seed))
        .unwrap();
    println!(
        "N={n} k={k} capacity {capacity}: proved in {:?}",
        t.elapsed()
    );
    (proof, public, capacity)
}

fn accepts(capacity: usize, public: &PublicInputs, proof: &[u8; PROOF_LEN]) -> bool {
    let keys = prover().keys(capacity).unwrap();
    match verify_prepared(&keys.pvk, public, proof) {
        Ok(()) => true,
        Err(CircuitError::ProofRejected | CircuitError::MalformedProof(_)) => false,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn proves_and_verifies_small_capacity() {
    for (n, k) in [(1, 0), (1, 1), (2, 1), (3, 2), (7, 4), (16, 0), (16, 16)] {
        let (proof, public, capacity) = prove(n, k, n as u64);
        assert_eq!(capacity, 16);
        let (s, _, c) = chain(JOB, n);
        assert_eq!(public.merkle_root, s.merkle_root);
        assert_eq!(public.merkle_root, c.root().unwrap());
        assert_eq!(public.final_weights_hash, s.final_weights_hash);
        assert_eq!(public.epochs, n as u32);
        assert_eq!(public.anchored_epochs, k);
        let expected_anchor = if k == 0 {
            [0; 32]
        } else {
            c.root_at(k as usize).unwrap()
        };
        assert_eq!(public.anchored_root, expected_anchor);
        assert!(accepts(capacity, &public, &proof), "N={n} k={k}");
        // The plain arkworks verifier agrees.
        verify(&prover().verifying_key(capacity).unwrap(), &public, &proof).unwrap();
    }
}

#[test]
fn proves_17_epochs_in_capacity_64() {
    let (proof, public, capacity) = prove(17, 10, 17);
    assert_eq!(capacity, 64);
    assert!(accepts(64, &public, &proof));
    // The same proof under the capacity-16 key is rejected (keys are per capacity).
    assert!(!accepts(16, &public, &proof));
}

#[test]
fn rejects_wrong_public_inputs() {
    let (proof, public, cap) = prove(7, 3, 99);
    assert!(accepts(cap, &public, &proof));
    let (other, _, oc) = chain(*b"another-job-id!!", 7);
    let mut flip = public.merkle_root;
    flip[31] ^= 1;
    let cases: Vec<(&str, PublicInputs)> = vec![
        (
            "wrong root",
            PublicInputs {
                merkle_root: flip,
                ..public
            },
        ),
        (
            "wrong final digest",
            PublicInputs {
                final_weights_hash: public.merkle_root,
                ..public
            },
        ),
        (
            "wrong N (fewer)",
            PublicInputs {
                epochs: 6,
                ..public
            },
        ),
        (
            "wrong N (more)",
            PublicInputs {
                epochs: 8,
                ..public
            },
        ),
        (
            "wrong anchored count",
            PublicInputs {
                anchored_epochs: 4,
                ..public
            },
        ),
        (
            "wrong anchored root",
            PublicInputs {
                anchored_root: oc.root_at(3).unwrap(),
                ..public
            },
        ),
        (
            "anchored root dropped",
            PublicInputs {
                anchored_epochs: 0,
                anchored_root: [0; 32],
                ..public
            },
        ),
        (
            "other job id",
            PublicInputs {
                job_id: *b"another-job-id!!",
                ..public
            },
        ),
        (
            "other job's statement",
            PublicInputs {
                job_id: *b"another-job-id!!",
                merkle_root: other.merkle_root,
                final_weights_hash: other.final_weights_hash,
                anchored_root: oc.root_at(3).unwrap(),
                ..public
            },
        ),
    ];
    for (what, p) in cases {
        assert!(!accepts(cap, &p, &proof), "{what} accepted");
    }
}

#[test]
fn rejects_tampered_proof_bytes() {
    let (proof, public, cap) = prove(3, 1, 5);
    for i in [0usize, 31, 63, 64, 100, 191, 192, 255] {
        let mut bad = proof;
        bad[i] ^= 0x01;
        assert!(!accepts(cap, &public, &bad), "byte {i} flipped accepted");
    }
    // A un-negated: flip A's y to p - y (negation) in the big-endian encoding.
    let mut a = cyxwiz_circuits::proof_from_bytes(&proof).unwrap();
    a.a = -a.a; // now proof_to_bytes writes +A where -A belongs
    let unnegated = cyxwiz_circuits::proof_to_bytes(&a);
    assert_ne!(unnegated, proof);
    assert!(!accepts(cap, &public, &unnegated));
    // A proof for another job does not verify for this one.
    let (s2, w2, _) = chain(*b"another-job-id!!", 3);
    let (p2, public2) = prover().prove_in(16, &s2, &w2, 1, &mut rng(6)).unwrap();
    assert!(accepts(16, &public2, &p2));
    assert!(!accepts(16, &public, &p2));
}

#[test]
fn prover_refuses_bad_requests() {
    let p = prover();
    let (s, w, _) = chain(JOB, 20);
    // N > capacity: an error, not a panic.
    assert!(matches!(
        p.prove_in(16, &s, &w, 0, &mut rng(1)),
        Err(CircuitError::TooManyEpochs {
            epochs: 20,
            capacity: 16
        })
    ));
    assert!(matches!(
        capacity_for(0),
        Err(CircuitError::UnsupportedEpochs { .. })
    ));
    assert!(matches!(
        capacity_for(1025),
        Err(CircuitError::UnsupportedEpochs { .. })
    ));
    assert!(matches!(
        p.prove_anchored(&cyxwiz_poc::Statement { epochs: 1025, ..s }, &w, 0),
        Err(CircuitError::UnsupportedEpochs { epochs: 1025, .. })
    ));

    let (s, w, _) = chain(JOB, 5);
    // Anchor beyond the chain.
    assert!(matches!(
        p.prove_in(16, &s, &w, 6, &mut rng(1)),
        Err(CircuitError::AnchorBeyondChain {
            anchored: 6,
            epochs: 5
        })
    ));
    // Inconsistent witnesses: a changed digest, a wrong hash, a statement that disagrees.
    let mut bad = w.clone();
    bad.metrics_digests[2][31] ^= 1;
    assert!(matches!(
        p.prove_in(16, &s, &bad, 0, &mut rng(1)),
        Err(CircuitError::InconsistentWitness(_))
    ));
    let mut bad = w.clone();
    bad.hashes[4][31] ^= 1;
    assert!(matches!(
        p.prove_in(16, &s, &bad, 0, &mut rng(1)),
        Err(CircuitError::InconsistentWitness(_))
    ));
    let mut root = s.merkle_root;
    root[0] ^= 1;
    let wrong = cyxwiz_poc::Statement {
        merkle_root: root,
        ..s
    };
    assert!(matches!(
        p.prove_in(16, &wrong, &w, 0, &mut rng(1)),
        Err(CircuitError::InconsistentWitness(_))
    ));
    let wrong = cyxwiz_poc::Statement {
        final_weights_hash: w.weights_digests[3],
        ..s
    };
    assert!(matches!(
        p.prove_in(16, &wrong, &w, 0, &mut rng(1)),
        Err(CircuitError::InconsistentWitness(_))
    ));
    let wrong = cyxwiz_poc::Statement {
        job_id: *b"another-job-id!!",
        ..s
    };
    assert!(matches!(
        p.prove_in(16, &wrong, &w, 0, &mut rng(1)),
        Err(CircuitError::InconsistentWitness(_))
    ));
    let wrong = cyxwiz_poc::Statement { epochs: 4, ..s };
    assert!(matches!(
        p.prove_in(16, &wrong, &w, 0, &mut rng(1)),
        Err(CircuitError::InconsistentWitness(_))
    ));
    // Through the cyxwiz_poc::Prover trait the refusal is a PocError::Prover.
    assert!(matches!(
        cyxwiz_poc::Prover::prove(&*p, &wrong, &w),
        Err(cyxwiz_poc::PocError::Prover(_))
    ));
}

#[test]
fn trait_proofs_verify() {
    let p = prover();
    let (s, w, c) = chain(JOB, 9);
    let proof = cyxwiz_poc::Prover::prove_anchored(&*p, &s, &w, 5).unwrap();
    let public = PublicInputs::new(&s, 5, c.root_at(5).unwrap());
    assert!(accepts(16, &public, &proof));
    let proof = cyxwiz_poc::Prover::prove(&*p, &s, &w).unwrap();
    assert!(accepts(16, &PublicInputs::new(&s, 0, [0; 32]), &proof));
    assert_eq!(p.name(), "groth16-insecure-dev");
}
