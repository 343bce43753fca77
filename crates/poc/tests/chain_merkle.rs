//! The checkpoint chain and the Merkle tree over it.

use cyxwiz_poc::{
    CheckpointChain, Digest, PocError, PoseidonMerkle, chain_step, genesis, hash_pair, merkle_root,
    metrics_digest, parse_proof, verify_inclusion, weights_digest,
};
use rs_merkle::MerkleTree;

const JOB: [u8; 16] = *b"job-0123456789ab";

fn inputs(e: usize) -> (Digest, Digest, i64) {
    (
        weights_digest(&(e as u64).to_le_bytes()),
        metrics_digest(
            e as u32,
            &[(0, e as f64 * 0.5), (1, 1.0 / (e as f64 + 1.0))],
        ),
        1_700_000_000 + 60 * e as i64,
    )
}

fn chain_of(n: usize) -> CheckpointChain {
    let mut c = CheckpointChain::new(JOB);
    for e in 1..=n {
        let (w, m, t) = inputs(e);
        c.push(&w, &m, t).unwrap();
    }
    c
}

/// Straightforward reference: hash pairs level by level, promote an odd last node.
fn reference_root(leaves: &[Digest]) -> Digest {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        let mut up = Vec::new();
        let mut i = 0;
        while i < level.len() {
            if i + 1 < level.len() {
                up.push(hash_pair(&level[i], &level[i + 1]));
            } else {
                up.push(level[i]);
            }
            i += 2;
        }
        level = up;
    }
    level[0]
}

#[test]
fn push_links_to_previous_head() {
    let mut c = CheckpointChain::new(JOB);
    assert!(c.is_empty());
    assert_eq!(c.len(), 0);
    assert_eq!(c.head(), genesis(&JOB));
    assert_eq!(c.root(), None);
    assert_eq!(c.job_id(), JOB);

    let mut prev = genesis(&JOB);
    for e in 1..=8 {
        let (w, m, t) = inputs(e);
        let h = c.push(&w, &m, t).unwrap();
        assert_eq!(h, chain_step(&prev, &w, &m, t).unwrap());
        assert_eq!(c.head(), h);
        assert_eq!(c.len(), e);
        assert_eq!(*c.hashes().last().unwrap(), h);
        prev = h;
    }
    assert!(!c.is_empty());
    assert_eq!(c.root(), Some(reference_root(c.hashes())));
}

#[test]
fn chain_bound_to_job() {
    let a = chain_of(3);
    let mut b = CheckpointChain::new(*b"job-other-000000");
    for e in 1..=3 {
        let (w, m, t) = inputs(e);
        b.push(&w, &m, t).unwrap();
    }
    for (x, y) in a.hashes().iter().zip(b.hashes()) {
        assert_ne!(x, y);
    }
    assert_ne!(a.root(), b.root());
}

#[test]
fn any_changed_input_changes_all_later_hashes_and_root() {
    const N: usize = 6;
    let base = chain_of(N);
    for changed in 1..=N {
        for which in 0..3 {
            let mut c = CheckpointChain::new(JOB);
            for e in 1..=N {
                let (mut w, mut m, mut t) = inputs(e);
                if e == changed {
                    match which {
                        0 => w = weights_digest(b"other weights"),
                        1 => m = metrics_digest(e as u32, &[(0, -1.0)]),
                        _ => t += 1,
                    }
                }
                c.push(&w, &m, t).unwrap();
            }
            let (before, after) = c.hashes().split_at(changed - 1);
            assert_eq!(
                before,
                &base.hashes()[..changed - 1],
                "epoch {changed} input {which}"
            );
            for (i, h) in after.iter().enumerate() {
                assert_ne!(
                    *h,
                    base.hashes()[changed - 1 + i],
                    "epoch {changed} input {which}: later hash {} unchanged",
                    changed + i
                );
            }
            assert_ne!(c.root(), base.root(), "epoch {changed} input {which}");
            // Roots anchored before the change are unaffected.
            for k in 1..changed {
                assert_eq!(c.root_at(k), base.root_at(k));
            }
        }
    }
}

#[test]
fn push_rejects_bad_inputs_without_changing_state() {
    let mut c = chain_of(3);
    let before = c.clone();
    let (w, m, _) = inputs(4);
    assert_eq!(c.push(&w, &m, -5), Err(PocError::NegativeTimestamp(-5)));
    assert_eq!(c.push(&[0xff; 32], &m, 1), Err(PocError::NonCanonical));
    assert_eq!(c.push(&w, &[0xff; 32], 1), Err(PocError::NonCanonical));
    assert_eq!(c.hashes(), before.hashes());
    assert_eq!(c.root(), before.root());
}

#[test]
fn from_hashes_rebuilds() {
    for n in [0, 1, 2, 7, 33] {
        let c = chain_of(n);
        let r = CheckpointChain::from_hashes(JOB, c.hashes().to_vec()).unwrap();
        assert_eq!(r.root(), c.root());
        assert_eq!(r.head(), c.head());
        assert_eq!(r.len(), n);
        // And continues identically.
        let (mut c2, mut r2) = (c.clone(), r.clone());
        let (w, m, t) = inputs(n + 1);
        assert_eq!(c2.push(&w, &m, t), r2.push(&w, &m, t));
        assert_eq!(c2.root(), r2.root());
        for k in 1..=n {
            assert_eq!(r.root_at(k), c.root_at(k));
        }
    }
    let mut hashes = chain_of(3).hashes().to_vec();
    hashes[1] = [0xff; 32];
    assert_eq!(
        CheckpointChain::from_hashes(JOB, hashes).unwrap_err(),
        PocError::NonCanonical
    );
}

#[test]
fn roots_match_reference_and_rs_merkle() {
    let full = chain_of(100);
    for n in [1usize, 2, 3, 4, 5, 8, 16, 17, 31, 32, 33, 100] {
        let c = chain_of(n);
        let leaves = c.hashes();
        let expected = reference_root(leaves);
        assert_eq!(c.root(), Some(expected), "n = {n}");
        assert_eq!(merkle_root(leaves), Some(expected), "n = {n}");
        assert_eq!(
            MerkleTree::<PoseidonMerkle>::from_leaves(leaves).root(),
            Some(expected),
            "rs_merkle n = {n}"
        );
        // root_at(k) of a longer chain == root of the fresh k-leaf chain.
        assert_eq!(full.root_at(n), Ok(expected), "root_at({n})");
    }
    assert_eq!(merkle_root(&[]), None);
    let one = chain_of(1);
    assert_eq!(
        one.root(),
        Some(one.hashes()[0]),
        "single leaf is its own root"
    );
}

#[test]
fn root_at_every_prefix() {
    let c = chain_of(40);
    for k in 1..=40 {
        assert_eq!(
            c.root_at(k),
            Ok(reference_root(&c.hashes()[..k])),
            "k = {k}"
        );
    }
    assert_eq!(c.root_at(40).ok(), c.root());
    assert_eq!(c.root_at(0), Err(PocError::EmptyChain));
    assert_eq!(
        c.root_at(41),
        Err(PocError::IndexOutOfRange { index: 41, len: 40 })
    );
    assert_eq!(
        CheckpointChain::new(JOB).root_at(1).unwrap_err(),
        PocError::IndexOutOfRange { index: 1, len: 0 }
    );
}

#[test]
fn proofs_verify_everywhere_and_match_rs_merkle() {
    let c = chain_of(37);
    for k in [1usize, 2, 3, 4, 5, 7, 8, 16, 17, 36, 37] {
        let root = c.root_at(k).unwrap();
        let leaves = &c.hashes()[..k];
        let rs = MerkleTree::<PoseidonMerkle>::from_leaves(leaves);
        for (i, leaf) in leaves.iter().enumerate() {
            let proof = c.proof(i, k).unwrap();
            assert_eq!(proof, rs.proof(&[i]).to_bytes(), "k = {k}, i = {i}");
            assert!(
                verify_inclusion(&root, i, leaf, k, &proof),
                "k = {k}, i = {i}"
            );
            assert_eq!(parse_proof(&proof).unwrap().len() * 32, proof.len());
        }
    }
}

#[test]
fn proofs_fail_when_anything_is_wrong() {
    let c = chain_of(17);
    let k = 17;
    let root = c.root().unwrap();
    let leaves = c.hashes();
    for i in [0usize, 1, 5, 15, 16] {
        let proof = c.proof(i, k).unwrap();
        assert!(verify_inclusion(&root, i, &leaves[i], k, &proof));
        // Wrong leaf.
        let other = leaves[(i + 1) % k];
        assert!(
            !verify_inclusion(&root, i, &other, k, &proof),
            "leaf, i = {i}"
        );
        // Wrong index (all others, including out of range).
        for j in (0..k + 2).filter(|&j| j != i) {
            assert!(
                !verify_inclusion(&root, j, &leaves[i], k, &proof),
                "index {j} for {i}"
            );
        }
        // Wrong root, including a prefix root.
        assert!(!verify_inclusion(
            &c.root_at(16).unwrap(),
            i,
            &leaves[i],
            k,
            &proof
        ));
        assert!(!verify_inclusion(&leaves[i], i, &leaves[i], k, &proof));
        // Wrong total.
        assert!(!verify_inclusion(&root, i, &leaves[i], 16, &proof));
        // Truncated: a whole hash and a partial one.
        assert!(!verify_inclusion(
            &root,
            i,
            &leaves[i],
            k,
            &proof[..proof.len() - 32]
        ));
        assert!(!verify_inclusion(
            &root,
            i,
            &leaves[i],
            k,
            &proof[..proof.len() - 1]
        ));
        // Extended with a trailing hash (rs_merkle alone would ignore it).
        let mut longer = proof.clone();
        longer.extend_from_slice(&leaves[0]);
        assert!(!verify_inclusion(&root, i, &leaves[i], k, &longer));
        // A flipped bit in any sibling.
        for pos in (0..proof.len()).step_by(32) {
            let mut bad = proof.clone();
            bad[pos + 31] ^= 1;
            assert!(!verify_inclusion(&root, i, &leaves[i], k, &bad));
        }
        // Non-canonical sibling (same value + p would hash identically after reduction).
        let mut non_canonical = proof.clone();
        non_canonical[..32].copy_from_slice(&[0xff; 32]);
        assert!(!verify_inclusion(&root, i, &leaves[i], k, &non_canonical));
    }
    assert!(!verify_inclusion(&root, 0, &leaves[0], 0, &[]));
}

#[test]
fn proof_argument_errors() {
    let c = chain_of(5);
    assert_eq!(c.proof(0, 0), Err(PocError::EmptyChain));
    assert_eq!(
        c.proof(0, 6),
        Err(PocError::IndexOutOfRange { index: 6, len: 5 })
    );
    assert_eq!(
        c.proof(3, 3),
        Err(PocError::IndexOutOfRange { index: 3, len: 3 })
    );
    assert_eq!(
        c.proof(0, 1),
        Ok(Vec::new()),
        "a single leaf is its own root"
    );
    assert!(matches!(
        parse_proof(&[0u8; 33]),
        Err(PocError::BadProof(_))
    ));
    assert!(matches!(
        parse_proof(&[0xff; 32]),
        Err(PocError::BadProof(_))
    ));
}
