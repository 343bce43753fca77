use {
    agave_feature_set::FeatureSet,
    p256::ecdsa::{Signature, VerifyingKey, signature::Verifier},
    solana_precompile_error::PrecompileError,
    solana_secp256r1_program::{
        COMPRESSED_PUBKEY_SERIALIZED_SIZE, FIELD_SIZE, SECP256R1_HALF_ORDER,
        SECP256R1_ORDER_MINUS_ONE, SIGNATURE_OFFSETS_SERIALIZED_SIZE, SIGNATURE_OFFSETS_START,
        SIGNATURE_SERIALIZED_SIZE, Secp256r1SignatureOffsets,
    },
};

pub fn verify(
    data: &[u8],
    instruction_datas: &[&[u8]],
    _feature_set: &FeatureSet,
) -> Result<(), PrecompileError> {
    if data.len() < SIGNATURE_OFFSETS_START {
        return Err(PrecompileError::InvalidInstructionDataSize);
    }
    let num_signatures = data[0] as usize;
    if num_signatures == 0 {
        return Err(PrecompileError::InvalidInstructionDataSize);
    }
    if num_signatures > 8 {
        return Err(PrecompileError::InvalidInstructionDataSize);
    }

    let expected_data_size = num_signatures
        .saturating_mul(SIGNATURE_OFFSETS_SERIALIZED_SIZE)
        .saturating_add(SIGNATURE_OFFSETS_START);

    // We do not check or use the byte at data[1]
    if data.len() < expected_data_size {
        return Err(PrecompileError::InvalidInstructionDataSize);
    }

    for i in 0..num_signatures {
        let start = i
            .saturating_mul(SIGNATURE_OFFSETS_SERIALIZED_SIZE)
            .saturating_add(SIGNATURE_OFFSETS_START);

        // SAFETY:
        // - data[start..] is guaranteed to be >= size of Secp256r1SignatureOffsets
        // - Secp256r1SignatureOffsets is a POD type, so we can safely read it as an unaligned struct
        let offsets = unsafe {
            core::ptr::read_unaligned(data.as_ptr().add(start) as *const Secp256r1SignatureOffsets)
        };

        // Parse out signature
        let signature = get_data_slice(
            data,
            instruction_datas,
            offsets.signature_instruction_index,
            offsets.signature_offset,
            SIGNATURE_SERIALIZED_SIZE,
        )?;

        // Parse out pubkey
        let pubkey = get_data_slice(
            data,
            instruction_datas,
            offsets.public_key_instruction_index,
            offsets.public_key_offset,
            COMPRESSED_PUBKEY_SERIALIZED_SIZE,
        )?;

        // Parse out message
        let message = get_data_slice(
            data,
            instruction_datas,
            offsets.message_instruction_index,
            offsets.message_data_offset,
            offsets.message_data_size as usize,
        )?;

        // Range checks exactly as upstream: 1 <= r <= n-1 and 1 <= s <= n/2 (low S,
        // against malleability). Big-endian byte strings of equal length compare as
        // numbers.
        let (r, s) = signature.split_at(FIELD_SIZE);
        let within_range = !is_zero(r)
            && r <= &SECP256R1_ORDER_MINUS_ONE[..]
            && !is_zero(s)
            && s <= &SECP256R1_HALF_ORDER[..];
        if !within_range {
            return Err(PrecompileError::InvalidSignature);
        }
        let signature =
            Signature::from_slice(signature).map_err(|_| PrecompileError::InvalidSignature)?;
        // A compressed SEC1 point that is on the curve (upstream: `EcPoint::from_bytes`).
        // Only the compressed tags: `sec1` also reads 0x05 as a "compact" x-only point,
        // which OpenSSL (and so upstream) refuses as no point at all.
        if !matches!(pubkey.first(), Some(0x02 | 0x03)) {
            return Err(PrecompileError::InvalidPublicKey);
        }
        let public_key =
            VerifyingKey::from_sec1_bytes(pubkey).map_err(|_| PrecompileError::InvalidPublicKey)?;
        // ECDSA with SHA-256 over the message (upstream: `Verifier` with SHA-256).
        public_key
            .verify(message, &signature)
            .map_err(|_| PrecompileError::InvalidSignature)?;
    }
    Ok(())
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

fn get_data_slice<'a>(
    data: &'a [u8],
    instruction_datas: &'a [&[u8]],
    instruction_index: u16,
    offset_start: u16,
    size: usize,
) -> Result<&'a [u8], PrecompileError> {
    let instruction = if instruction_index == u16::MAX {
        data
    } else {
        let signature_index = instruction_index as usize;
        if signature_index >= instruction_datas.len() {
            return Err(PrecompileError::InvalidDataOffsets);
        }
        instruction_datas[signature_index]
    };

    let start = offset_start as usize;
    let end = start.saturating_add(size);
    if end > instruction.len() {
        return Err(PrecompileError::InvalidDataOffsets);
    }

    Ok(&instruction[start..end])
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        p256::ecdsa::{SigningKey, signature::Signer},
        solana_secp256r1_program::new_secp256r1_instruction_with_signature,
    };

    fn signed(message: &[u8], high_s: bool) -> Vec<u8> {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let sig: Signature = key.sign(message);
        let low = sig.normalize_s();
        let sig = if high_s {
            // n - s for the low s gives the high twin of the same signature.
            let (r, s) = low.split_scalars();
            Signature::from_scalars(r, -*s).unwrap()
        } else {
            low
        };
        let mut bytes = [0u8; 64];
        bytes.copy_from_slice(&sig.to_bytes());
        let pubkey: [u8; 33] = key
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .try_into()
            .unwrap();
        new_secp256r1_instruction_with_signature(message, &bytes, &pubkey).data
    }

    #[test]
    fn a_low_s_signature_verifies_and_tampering_fails() {
        let fs = FeatureSet::all_enabled();
        let data = signed(b"hello", false);
        assert_eq!(verify(&data, &[&data], &fs), Ok(()));
        let mut bad = data.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(verify(&bad, &[&bad], &fs), Err(PrecompileError::InvalidSignature));
        assert_eq!(
            verify(&signed(b"hello", true), &[], &fs),
            Err(PrecompileError::InvalidSignature)
        );
    }
}
