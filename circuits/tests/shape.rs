//! Circuit shape: constraint counts, satisfiability against `cyxwiz-poc`'s commitments.

mod common;

use std::time::Instant;

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem};
use cyxwiz_circuits::setup::constraint_count;
use cyxwiz_circuits::{Assignment, PocCircuit};

#[test]
fn constraint_counts() {
    for c in [16usize, 64] {
        let t = Instant::now();
        let n = constraint_count(c).unwrap();
        println!("capacity {c}: {n} constraints ({:?})", t.elapsed());
    }
}

#[test]
fn satisfied_for_every_n_and_prefix_in_16() {
    for n in 1..=16usize {
        let (s, w, _) = common::chain(common::JOB, n);
        for k in 0..=n as u32 {
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
