//! The secp256r1 precompile runs from `patches/agave-precompiles` (P-256 through the
//! pure-Rust `p256` crate instead of a vendored OpenSSL): through LiteSVM it must accept
//! exactly what the upstream verifier accepts and refuse the rest with the same errors.

use cyxwiz_native_svm::kit::TestChain;
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use solana_instruction::{Instruction, error::InstructionError};
use solana_precompile_error::PrecompileError;
use solana_secp256r1_program::new_secp256r1_instruction_with_signature;

fn key() -> SigningKey {
    SigningKey::from_slice(&[0x2a; 32]).unwrap()
}

fn pubkey(key: &SigningKey) -> [u8; 33] {
    key.verifying_key()
        .to_sec1_point(true)
        .as_bytes()
        .try_into()
        .unwrap()
}

fn instruction(message: &[u8], sig: &Signature, pubkey: &[u8; 33]) -> Instruction {
    let mut bytes = [0u8; 64];
    bytes.copy_from_slice(&sig.to_bytes());
    new_secp256r1_instruction_with_signature(message, &bytes, pubkey)
}

fn precompile_error(chain: &mut TestChain, ix: Instruction) -> Option<InstructionError> {
    chain
        .send(&[ix], &[])
        .err()
        .and_then(|e| e.instruction_error().cloned())
}

#[test]
fn a_low_s_signature_over_the_message_is_accepted() {
    let mut chain = TestChain::new(&[]);
    let k = key();
    let sig: Signature = k.sign(b"cyxwiz");
    let ix = instruction(b"cyxwiz", &sig.normalize_s(), &pubkey(&k));
    assert!(chain.send(&[ix], &[]).is_ok());
    // The helper crate's signer (SEC1 DER key, low-S) produces an accepted signature too.
    let der = p256::SecretKey::from_slice(&[0x2a; 32])
        .unwrap()
        .to_sec1_der()
        .unwrap();
    let sig = solana_secp256r1_program::sign_message(b"again", &der).unwrap();
    let ix = new_secp256r1_instruction_with_signature(b"again", &sig, &pubkey(&k));
    assert!(chain.send(&[ix], &[]).is_ok());
}

#[test]
fn a_tampered_message_a_high_s_twin_another_key_and_a_bad_point_are_refused() {
    let mut chain = TestChain::new(&[]);
    let k = key();
    let low: Signature = k.sign(b"cyxwiz");
    let low = low.normalize_s();
    let invalid_signature = Some(InstructionError::Custom(
        PrecompileError::InvalidSignature as u32,
    ));

    let ix = instruction(b"cyxwiz!", &low, &pubkey(&k));
    assert_eq!(precompile_error(&mut chain, ix), invalid_signature);

    // (r, n - s) verifies under plain ECDSA; the precompile demands low S.
    let (r, s) = low.split_scalars();
    let high = Signature::from_scalars(r, -*s).unwrap();
    let ix = instruction(b"cyxwiz", &high, &pubkey(&k));
    assert_eq!(precompile_error(&mut chain, ix), invalid_signature);

    let other = SigningKey::from_slice(&[0x2b; 32]).unwrap();
    let ix = instruction(b"cyxwiz", &low, &pubkey(&other));
    assert_eq!(precompile_error(&mut chain, ix), invalid_signature);

    // 0x05 is no SEC1 tag: not a point.
    let ix = instruction(b"cyxwiz", &low, &[0x05; 33]);
    assert_eq!(
        precompile_error(&mut chain, ix),
        Some(InstructionError::Custom(
            PrecompileError::InvalidPublicKey as u32
        ))
    );
}
