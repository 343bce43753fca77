//! circom Poseidon over BN254, in and out of the circuit.
//!
//! The reference is `light-poseidon` 0.4 (`Poseidon::<Fr>::new_circom`), which is what
//! `cyxwiz-poc` commits with. The in-circuit hash is arkworks' `PoseidonSpongeVar`
//! configured with exactly light-poseidon's circom parameters (same round constants, MDS
//! matrix, 8 full rounds, x^5, partial rounds per width) as a sponge of capacity 1 and rate
//! = number of inputs: absorbing puts the inputs in `state[1..]` over a zero `state[0]`,
//! squeezing runs the permutation, and the circom output is the permuted **`state[0]`**
//! (the sponge's own squeeze output is `state[1]`, which is not circom's). Tests assert the
//! two agree for arity 2 and 4.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::constraints::CryptographicSpongeVar;
use ark_crypto_primitives::sponge::poseidon::PoseidonConfig;
use ark_crypto_primitives::sponge::poseidon::constraints::PoseidonSpongeVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use light_poseidon::parameters::bn254_x5::get_poseidon_parameters;

/// arkworks Poseidon configuration with circom's parameters for `inputs` inputs
/// (width `inputs + 1`), built from light-poseidon's constants.
pub fn circom_config(inputs: usize) -> PoseidonConfig<Fr> {
    let width = inputs + 1;
    let p = get_poseidon_parameters::<Fr>(u8::try_from(width).expect("small width"))
        .expect("circom parameters exist for widths 2..=13");
    assert_eq!(p.width, width);
    let ark = p.ark.chunks(width).map(<[Fr]>::to_vec).collect();
    PoseidonConfig::new(
        p.full_rounds,
        p.partial_rounds,
        p.alpha,
        p.mds,
        ark,
        inputs,
        1,
    )
}

fn config(inputs: usize) -> &'static PoseidonConfig<Fr> {
    static P2: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    static P4: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    match inputs {
        2 => P2.get_or_init(|| circom_config(2)),
        4 => P4.get_or_init(|| circom_config(4)),
        _ => unreachable!("the circuit hashes 2 or 4 inputs"),
    }
}

/// circom `Poseidon(inputs)` in the circuit (2 or 4 inputs).
pub fn poseidon_var(
    cs: ConstraintSystemRef<Fr>,
    inputs: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs, config(inputs.len()));
    sponge.absorb(&inputs.to_vec())?;
    // Squeezing permutes; circom's output is state[0] of the permuted state.
    sponge.squeeze_field_elements(1)?;
    Ok(sponge.state[0].clone())
}

/// circom `Poseidon` natively, via light-poseidon (the reference).
pub fn poseidon(inputs: &[Fr]) -> Fr {
    use light_poseidon::{Poseidon, PoseidonHasher};
    Poseidon::<Fr>::new_circom(inputs.len())
        .and_then(|mut p| p.hash(inputs))
        .expect("circom Poseidon supports 1..=12 inputs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_r1cs_std::{R1CSVar, alloc::AllocVar};
    use ark_relations::r1cs::ConstraintSystem;
    use ark_std::UniformRand;
    use rand::SeedableRng;

    fn check(arity: usize) -> usize {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(arity as u64);
        let mut constraints = 0;
        for round in 0..4 {
            let inputs: Vec<Fr> = if round == 0 {
                (1..=arity as u64).map(Fr::from).collect()
            } else {
                (0..arity).map(|_| Fr::rand(&mut rng)).collect()
            };
            let cs = ConstraintSystem::<Fr>::new_ref();
            let vars: Vec<_> = inputs
                .iter()
                .map(|x| FpVar::new_witness(cs.clone(), || Ok(*x)).unwrap())
                .collect();
            let out = poseidon_var(cs.clone(), &vars).unwrap();
            assert_eq!(out.value().unwrap(), poseidon(&inputs), "arity {arity}");
            assert!(cs.is_satisfied().unwrap());
            constraints = cs.num_constraints();
        }
        constraints
    }

    #[test]
    fn gadget_matches_light_poseidon_arity_2() {
        // circom's published test vector: Poseidon([1, 2]).
        let expected = "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a";
        let out = poseidon(&[Fr::from(1u64), Fr::from(2u64)]);
        assert_eq!(hex::encode(cyxwiz_digest(&out)), expected);
        // x^5 costs 3 constraints; state[0] is still a constant in the first round.
        assert_eq!(check(2), 8 * 3 * 3 + 57 * 3 - 3);
    }

    #[test]
    fn gadget_matches_light_poseidon_arity_4() {
        assert_eq!(check(4), 8 * 5 * 3 + 60 * 3 - 3);
    }

    fn cyxwiz_digest(x: &Fr) -> [u8; 32] {
        crate::field::fr_to_digest(x)
    }
}
