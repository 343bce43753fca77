//! Publishing the programs' IDLs on chain, where Anchor clients look them up.
//!
//! Anchor 1.x keeps no IDL instructions in programs (`anchor_lang::idl`: "Legacy IDL
//! instruction support has been removed in favor of Program Metadata"): `anchor idl init`
//! writes the IDL to the program's *canonical metadata account* of the Program Metadata
//! program, and `Program.fetchIdl` in `@anchor-lang/core` 1.x reads exactly that account:
//! the PDA of `[program id, "idl" zero-padded to 16 bytes]` under
//! [`PROGRAM_METADATA_ID`], a 96-byte header then the zlib-compressed JSON. Clients of the
//! 0.2x/0.3x generation (`@coral-xyz/anchor`) read the legacy [`IdlAccount`] instead, at
//! `create_with_seed(find_program_address([], program), "anchor:idl", program)`.
//!
//! This module builds both account images (the localnet writes them at deploy time,
//! since neither program can run there natively), decodes them as the clients do, and
//! plans the Program Metadata transactions that publish an IDL on a real cluster
//! (`cyxwiz-deploy idl`; the legacy account cannot be created there, because only the
//! program itself could sign for it and ours have no IDL instruction).

use std::io::{Read, Write};

use anchor_lang::{
    AccountSerialize,
    idl::IdlAccount,
    prelude::Pubkey,
    solana_program::{instruction::AccountMeta, system_instruction},
};
use solana_keypair::Keypair;

use crate::{Instruction, Step};

/// The Program Metadata program (`solana-program/program-metadata`).
pub const PROGRAM_METADATA_ID: Pubkey =
    Pubkey::from_str_const("ProgM6JCCvbYkfKqJYHePx4xxSUSqJp7rh8Lyv7nk7S");

/// The BPF upgradeable loader, which owns deployed programs and their program data.
pub const BPF_LOADER_UPGRADEABLE_ID: Pubkey =
    Pubkey::from_str_const("BPFLoaderUpgradeab1e11111111111111111111111");

/// The System Program.
const SYSTEM_PROGRAM_ID: Pubkey = Pubkey::from_str_const("11111111111111111111111111111111");

/// The metadata seed Anchor uses for IDLs, zero-padded to the program's 16 bytes.
pub const IDL_SEED: [u8; 16] = *b"idl\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// Size of a Program Metadata account header (and of a buffer header).
pub const METADATA_HEADER_LEN: usize = 96;

/// Bytes of IDL written per `Write` transaction: with the instruction's 5-byte prefix,
/// three account keys, one signature and the message header this stays well under the
/// 1232-byte transaction limit.
pub const WRITE_CHUNK: usize = 900;

// Program Metadata instruction discriminators (`program/src/instruction.rs` order).
const IX_WRITE: u8 = 0;
const IX_INITIALIZE: u8 = 1;
const IX_ALLOCATE: u8 = 7;

// Header field values (`program/src/state/mod.rs`).
const DISCRIMINATOR_METADATA: u8 = 2;
const ENCODING_UTF8: u8 = 1;
const COMPRESSION_ZLIB: u8 = 2;
const FORMAT_JSON: u8 = 1;
const DATA_SOURCE_DIRECT: u8 = 0;

/// The committed IDL of each program (`deploy/idl/`, kept current by `scripts/idl.sh`).
pub fn committed() -> [(&'static str, Pubkey, &'static str); 4] {
    [
        (
            "node_registry",
            node_registry::ID,
            include_str!("../idl/node_registry.json"),
        ),
        (
            "job_escrow",
            job_escrow::ID,
            include_str!("../idl/job_escrow.json"),
        ),
        (
            "reputation_manager",
            reputation_manager::ID,
            include_str!("../idl/reputation_manager.json"),
        ),
        (
            "dispute_dao",
            dispute_dao::ID,
            include_str!("../idl/dispute_dao.json"),
        ),
    ]
}

/// Errors reading an on-chain IDL account.
#[derive(Debug, thiserror::Error)]
pub enum IdlError {
    #[error("IDL account too small ({0} bytes)")]
    TooSmall(usize),
    #[error("not a Program Metadata account (discriminator {0})")]
    NotMetadata(u8),
    #[error("not an Anchor IdlAccount (wrong discriminator)")]
    NotIdlAccount,
    #[error("unsupported IDL metadata: {0}")]
    Unsupported(String),
    #[error("IDL data is truncated")]
    Truncated,
    #[error("IDL data does not inflate: {0}")]
    Inflate(std::io::Error),
    #[error("IDL is not UTF-8 JSON: {0}")]
    Json(String),
}

/// The canonical metadata account holding `program`'s IDL (what `Program.fetchIdl` reads).
pub fn metadata_address(program: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[program.as_ref(), &IDL_SEED], &PROGRAM_METADATA_ID).0
}

/// The legacy Anchor `IdlAccount` address (what 0.2x/0.3x clients read).
pub fn legacy_address(program: &Pubkey) -> Pubkey {
    IdlAccount::address(program)
}

/// The program data account of an upgradeable program.
pub fn program_data_address(program: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[program.as_ref()], &BPF_LOADER_UPGRADEABLE_ID).0
}

/// zlib-compresses an IDL, as `anchor idl init` does.
pub fn compress(json: &str) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    encoder
        .write_all(json.as_bytes())
        .expect("compressing into memory");
    encoder.finish().expect("compressing into memory")
}

fn inflate(compressed: &[u8]) -> Result<String, IdlError> {
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(compressed)
        .read_to_string(&mut json)
        .map_err(IdlError::Inflate)?;
    Ok(json)
}

/// The Program Metadata header of a canonical IDL account followed by `compressed`,
/// byte for byte what `Initialize` leaves behind for the program's upgrade authority.
pub fn metadata_account_data(program: &Pubkey, compressed: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(METADATA_HEADER_LEN + compressed.len());
    data.push(DISCRIMINATOR_METADATA);
    data.extend_from_slice(program.as_ref());
    // Canonical accounts store no extra authority: the upgrade authority manages them.
    data.extend_from_slice(&[0; 32]);
    data.push(1); // mutable
    data.push(1); // canonical
    data.extend_from_slice(&IDL_SEED);
    data.extend_from_slice(&[
        ENCODING_UTF8,
        COMPRESSION_ZLIB,
        FORMAT_JSON,
        DATA_SOURCE_DIRECT,
    ]);
    data.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
    data.extend_from_slice(&[0; 5]);
    debug_assert_eq!(data.len(), METADATA_HEADER_LEN);
    data.extend_from_slice(compressed);
    data
}

/// The legacy `IdlAccount` (Anchor's discriminator, `authority`, `data_len: u32`) followed
/// by `compressed`.
pub fn legacy_account_data(authority: &Pubkey, compressed: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(8 + 32 + 4 + compressed.len());
    IdlAccount {
        authority: *authority,
        data_len: compressed.len() as u32,
    }
    .try_serialize(&mut data)
    .expect("serializing into memory");
    data.extend_from_slice(compressed);
    data
}

/// Reads a Program Metadata IDL account as `@anchor-lang/core`'s `decodeIdlAccount`
/// does: checks the header, inflates, returns the JSON text.
pub fn decode_metadata_account(data: &[u8]) -> Result<String, IdlError> {
    if data.len() < METADATA_HEADER_LEN {
        return Err(IdlError::TooSmall(data.len()));
    }
    if data[0] != DISCRIMINATOR_METADATA {
        return Err(IdlError::NotMetadata(data[0]));
    }
    let (encoding, compression, format, source) = (data[83], data[84], data[85], data[86]);
    if format != FORMAT_JSON || source != DATA_SOURCE_DIRECT || encoding != ENCODING_UTF8 {
        return Err(IdlError::Unsupported(format!(
            "encoding {encoding}, format {format}, data source {source}"
        )));
    }
    let len = u32::from_le_bytes(data[87..91].try_into().expect("4 bytes")) as usize;
    let body = data
        .get(METADATA_HEADER_LEN..METADATA_HEADER_LEN + len)
        .ok_or(IdlError::Truncated)?;
    match compression {
        COMPRESSION_ZLIB => inflate(body),
        0 => String::from_utf8(body.to_vec()).map_err(|e| IdlError::Json(e.to_string())),
        other => Err(IdlError::Unsupported(format!("compression {other}"))),
    }
}

/// Reads a legacy `IdlAccount`: its authority and the inflated JSON text.
pub fn decode_legacy_account(data: &[u8]) -> Result<(Pubkey, String), IdlError> {
    use anchor_lang::{AccountDeserialize, Discriminator};
    if !data.starts_with(IdlAccount::DISCRIMINATOR) {
        return Err(IdlError::NotIdlAccount);
    }
    let account = IdlAccount::try_deserialize(&mut &data[..]).map_err(|_| IdlError::Truncated)?;
    let start = 8 + 32 + 4;
    let body = data
        .get(start..start + account.data_len as usize)
        .ok_or(IdlError::Truncated)?;
    Ok((account.authority, inflate(body)?))
}

/// The Program Metadata transactions that publish `compressed` as `program`'s canonical
/// IDL, as `@solana-program/program-metadata` plans them for data too large for one
/// transaction: fund the metadata PDA for its final size, `Allocate` it as a buffer,
/// `Write` the data in chunks, `Initialize` it from the buffer. `authority` must be the
/// program's upgrade authority (it signs every step); `payer` pays the rent.
pub fn publish_plan(
    payer: &Pubkey,
    authority: &Keypair,
    program: &Pubkey,
    compressed: &[u8],
    rent_lamports: u64,
) -> Vec<Step> {
    use solana_signer::Signer;
    let metadata = metadata_address(program);
    let program_data = program_data_address(program);
    let auth = authority.pubkey();
    let signer = |kp: &Keypair| {
        if kp.pubkey() == *payer {
            Vec::new()
        } else {
            vec![kp.insecure_clone()]
        }
    };
    let mut steps = vec![Step {
        label: "IDL: fund and allocate the metadata account",
        instructions: vec![
            system_instruction::transfer(payer, &metadata, rent_lamports),
            Instruction {
                program_id: PROGRAM_METADATA_ID,
                accounts: vec![
                    AccountMeta::new(metadata, false),
                    AccountMeta::new_readonly(auth, true),
                    AccountMeta::new_readonly(*program, false),
                    AccountMeta::new_readonly(program_data, false),
                    AccountMeta::new_readonly(SYSTEM_PROGRAM_ID, false),
                ],
                data: [&[IX_ALLOCATE][..], &IDL_SEED].concat(),
            },
        ],
        signers: signer(authority),
    }];
    for (i, chunk) in compressed.chunks(WRITE_CHUNK).enumerate() {
        let offset = (i * WRITE_CHUNK) as u32;
        let mut data = Vec::with_capacity(5 + chunk.len());
        data.push(IX_WRITE);
        data.extend_from_slice(&offset.to_le_bytes());
        data.extend_from_slice(chunk);
        steps.push(Step {
            label: "IDL: write",
            instructions: vec![Instruction {
                program_id: PROGRAM_METADATA_ID,
                accounts: vec![
                    AccountMeta::new(metadata, false),
                    AccountMeta::new_readonly(auth, true),
                    // No source buffer: the program's own id stands for "none".
                    AccountMeta::new_readonly(PROGRAM_METADATA_ID, false),
                ],
                data,
            }],
            signers: signer(authority),
        });
    }
    steps.push(Step {
        label: "IDL: initialize the metadata account",
        instructions: vec![Instruction {
            program_id: PROGRAM_METADATA_ID,
            accounts: vec![
                AccountMeta::new(metadata, false),
                AccountMeta::new_readonly(auth, true),
                AccountMeta::new_readonly(*program, false),
                AccountMeta::new_readonly(program_data, false),
                // Initialising from the written buffer allocates nothing.
                AccountMeta::new_readonly(PROGRAM_METADATA_ID, false),
            ],
            data: [
                &[IX_INITIALIZE][..],
                &IDL_SEED,
                &[
                    ENCODING_UTF8,
                    COMPRESSION_ZLIB,
                    FORMAT_JSON,
                    DATA_SOURCE_DIRECT,
                ],
            ]
            .concat(),
        }],
        signers: signer(authority),
    });
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_signer::Signer;

    #[test]
    fn the_metadata_address_is_the_one_anchor_clients_derive() {
        // `@anchor-lang/core` 1.2.0 derives it with an empty "authority" seed between the
        // program and the padded seed; an empty seed adds nothing to the hash.
        let program = job_escrow::ID;
        let with_empty =
            Pubkey::find_program_address(&[program.as_ref(), &[], &IDL_SEED], &PROGRAM_METADATA_ID)
                .0;
        assert_eq!(metadata_address(&program), with_empty);
        // The legacy address is Anchor's own derivation.
        let base = Pubkey::find_program_address(&[], &program).0;
        assert_eq!(
            legacy_address(&program),
            Pubkey::create_with_seed(&base, "anchor:idl", &program).unwrap()
        );
    }

    #[test]
    fn both_account_images_decode_to_the_committed_idl() {
        for (_, program, json) in committed() {
            let compressed = compress(json);
            let data = metadata_account_data(&program, &compressed);
            assert_eq!(&data[1..33], program.as_ref());
            assert_eq!(&data[67..83], &IDL_SEED);
            assert_eq!(decode_metadata_account(&data).unwrap(), json);

            let authority = Pubkey::new_unique();
            let legacy = legacy_account_data(&authority, &compressed);
            // sha256("internal:IdlAccount")[..8], what every Anchor client checks.
            assert_eq!(&legacy[..8], &[24, 70, 98, 191, 58, 144, 123, 158]);
            assert_eq!(
                decode_legacy_account(&legacy).unwrap(),
                (authority, json.to_string())
            );
        }
    }

    #[test]
    fn a_publish_plan_writes_every_byte_once_and_initialises_last() {
        let payer = Keypair::new();
        let (_, program, json) = committed()[1];
        let compressed = compress(json);
        let steps = publish_plan(&payer.pubkey(), &payer, &program, &compressed, 1_000);
        let mut written = Vec::new();
        for step in &steps[1..steps.len() - 1] {
            let ix = &step.instructions[0];
            assert_eq!(ix.data[0], IX_WRITE);
            let offset = u32::from_le_bytes(ix.data[1..5].try_into().unwrap()) as usize;
            assert_eq!(offset, written.len());
            written.extend_from_slice(&ix.data[5..]);
        }
        assert_eq!(written, compressed);
        let init = &steps.last().unwrap().instructions[0];
        assert_eq!(init.data[0], IX_INITIALIZE);
        assert_eq!(&init.data[1..17], &IDL_SEED);
        assert_eq!(init.accounts[0].pubkey, metadata_address(&program));
        assert_eq!(init.accounts[3].pubkey, program_data_address(&program));
    }
}
