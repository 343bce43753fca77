//! Circuit shape: constraint counts, satisfiability against `cyxwiz-poc`'s commitments.

mod common;

use std::time::Instant;

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem};
use cyxwiz_circuits::setup::constraint_count;
use cyxwiz_circuits::{Assignment, PocCircuit};

#[test]
fn constraint_counts() {
    // C Poseidon4 (297) + C - 1 + 2·log2(C) Poseidon2 (240) + bits and selections.
    let t = Instant::now();
    let n = constraint_count(16).unwrap();
    println!("capacity 16: {n} constraints ({:?})", t.elapsed());
    assert_eq!(n, 10_624);
    assert!(n > 16 * 297 + (15 + 8) * 240);
}

#[test]
fn satisfied_for_every_n_and_prefix_in_16() {
    for n in 1..=16usize {
        let (s, w, _) = common::chain(common::JOB, n);
        let mut ks = vec![0, 1, n as u32 / 2, n as u32 - 1, n as u32];
        ks.dedup();
        for k in ks {
            let a = Assignment::new(&s, &w, k, 16).unwrap();
            let cs = ConstraintSystem::<Fr>::new_ref();
            PocCircuit::with_assignment(16, a)
                .unwrap()
                .generate_constraints(cs.clone())
                .unwrap();
            assert!(
                cs.is_satisfied().unwrap(),
                "n={n} k={k}: {:?}",
                cs.which_is_unsatisfied()
            );
        }
    }
}
