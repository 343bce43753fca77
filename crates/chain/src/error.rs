//! Typed errors of the SDK. A failed transaction is classified into what a caller can act
//! on: a named program error (with the program's own error name and message), missing
//! funds, an expired blockhash, an unreachable node, or a confirmation timeout.
//!
//! Program error names come from two sources, in order: the `Error Code: <Name>` line
//! Anchor writes to the logs (covers the framework's own 2000-range errors), then the
//! committed IDLs (covers a failure whose logs were truncated or not returned). The IDLs
//! are checked against the sources in CI, so the names cannot drift.

use std::{collections::HashMap, sync::OnceLock, time::Duration};

use anchor_lang::prelude::Pubkey;
use cyxwiz_common::ids;
use solana_instruction::error::InstructionError;
use solana_signature::Signature;
use solana_transaction_error::TransactionError;

/// Everything that can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC node could not be reached at all (bad URL, refused, DNS, TLS).
    #[error("cannot reach the RPC node at {url}: {reason}")]
    Connection { url: String, reason: String },
    /// The node answered with an error that is not about the transaction itself.
    #[error("RPC error: {0}")]
    Rpc(String),
    /// A program rejected an instruction with a custom error code.
    #[error("{program} rejected instruction {instruction}: {name} ({code}): {message}")]
    Program {
        program: &'static str,
        program_id: Pubkey,
        instruction: u8,
        code: u32,
        name: String,
        message: String,
        logs: Vec<String>,
    },
    /// An instruction failed with a runtime (non-custom) error.
    #[error("instruction {instruction} failed: {error}")]
    Instruction {
        instruction: u8,
        error: InstructionError,
        logs: Vec<String>,
    },
    /// The fee payer, a rent payer or a token account lacks the funds the step needs.
    #[error("insufficient funds: {0}")]
    InsufficientFunds(String),
    /// The blockhash expired before the transaction landed and retries were exhausted
    /// (or the caller signed with a stale blockhash it would not let the client refresh).
    #[error("blockhash expired or not found")]
    BlockhashExpired,
    /// Any other transaction-level rejection.
    #[error("transaction rejected: {0}")]
    Transaction(TransactionError),
    /// Sent, but not seen at the requested commitment in time. The transaction may
    /// still land: callers re-check the step's on-chain effect before resending.
    #[error("transaction {signature} not confirmed within {waited:?}")]
    ConfirmationTimeout {
        signature: Signature,
        waited: Duration,
    },
    #[error("account {0} not found")]
    AccountNotFound(Pubkey),
    #[error("account {account} is not a valid {expected}: {reason}")]
    Decode {
        account: Pubkey,
        expected: &'static str,
        reason: String,
    },
    #[error("keypair file {path}: {reason}")]
    Keypair { path: String, reason: String },
    #[error("event subscription: {0}")]
    Subscription(String),
    #[error("signing: {0}")]
    Signing(String),
}

impl ChainError {
    /// The program error name, if this is a program error.
    pub fn program_error_name(&self) -> Option<&str> {
        match self {
            ChainError::Program { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The custom error code, if this is a program error.
    pub fn program_error_code(&self) -> Option<u32> {
        match self {
            ChainError::Program { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether retrying the same step later can succeed (transport trouble, expiry,
    /// timeouts), as opposed to a rejection that will repeat.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ChainError::Connection { .. }
                | ChainError::Rpc(_)
                | ChainError::BlockhashExpired
                | ChainError::ConfirmationTimeout { .. }
                | ChainError::Subscription(_)
        )
    }

    /// Classifies a failed transaction. `programs[i]` is the program id of instruction
    /// `i` of the transaction; `logs` are its logs, if the node returned any.
    pub fn from_transaction_error(
        err: TransactionError,
        programs: &[Pubkey],
        logs: Vec<String>,
    ) -> ChainError {
        match err {
            TransactionError::InstructionError(index, InstructionError::Custom(code)) => {
                let program_id = programs
                    .get(usize::from(index))
                    .copied()
                    .unwrap_or_default();
                // The innermost program that failed may differ from the top-level one
                // (a CPI); the logs say which one failed.
                let failing = failing_program(&logs).unwrap_or(program_id);
                if (failing == spl_token_2022_interface::ID || failing == spl_token_id())
                    && let Ok(token_err) =
                        spl_token_2022_interface::error::TokenError::try_from(code)
                {
                    if matches!(
                        token_err,
                        spl_token_2022_interface::error::TokenError::InsufficientFunds
                    ) {
                        return ChainError::InsufficientFunds(format!(
                            "token account balance too low (instruction {index})"
                        ));
                    }
                    return ChainError::Program {
                        program: "spl-token",
                        program_id: failing,
                        instruction: index,
                        code,
                        name: format!("{token_err:?}"),
                        message: token_err.to_string(),
                        logs,
                    };
                }
                if failing == system_program_id() && code == 1 {
                    // SystemError::ResultWithNegativeLamports
                    return ChainError::InsufficientFunds(format!(
                        "lamport transfer exceeds balance (instruction {index})"
                    ));
                }
                let (name, message) = error_name_from_logs(&logs, code)
                    .or_else(|| idl_error(&failing, code))
                    .or_else(|| anchor_framework_error(code))
                    .unwrap_or_else(|| (format!("Custom{code}"), String::new()));
                ChainError::Program {
                    program: program_name(&failing),
                    program_id: failing,
                    instruction: index,
                    code,
                    name,
                    message,
                    logs,
                }
            }
            TransactionError::InstructionError(instruction, error) => ChainError::Instruction {
                instruction,
                error,
                logs,
            },
            TransactionError::InsufficientFundsForFee => {
                ChainError::InsufficientFunds("fee payer cannot pay the fee".into())
            }
            TransactionError::InsufficientFundsForRent { account_index } => {
                ChainError::InsufficientFunds(format!(
                    "account {account_index} would be left below the rent-exempt minimum"
                ))
            }
            TransactionError::AccountNotFound => ChainError::InsufficientFunds(
                "the fee payer has no SOL account on this cluster".into(),
            ),
            TransactionError::BlockhashNotFound => ChainError::BlockhashExpired,
            other => ChainError::Transaction(other),
        }
    }
}

fn spl_token_id() -> Pubkey {
    Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
}

fn system_program_id() -> Pubkey {
    anchor_lang::solana_program::system_program::ID
}

/// Human name of a known program id.
pub fn program_name(id: &Pubkey) -> &'static str {
    if *id == ids::JOB_ESCROW {
        "JobEscrow"
    } else if *id == ids::NODE_REGISTRY {
        "NodeRegistry"
    } else if *id == ids::REPUTATION {
        "ReputationManager"
    } else if *id == ids::DISPUTE_DAO {
        "Dispute/DAO"
    } else if *id == spl_token_id() || *id == spl_token_2022_interface::ID {
        "spl-token"
    } else if *id == system_program_id() {
        "system"
    } else {
        "unknown program"
    }
}

/// The program whose `failed:` line comes first in the logs: the innermost failure (an
/// outer program's `failed` line follows its failed CPI's).
fn failing_program(logs: &[String]) -> Option<Pubkey> {
    logs.iter().find_map(|line| {
        let rest = line.strip_prefix("Program ")?;
        let (id, tail) = rest.split_once(' ')?;
        if tail.starts_with("failed") {
            id.parse().ok()
        } else {
            None
        }
    })
}

/// Anchor logs `... Error Code: <Name>. Error Number: <n>. Error Message: <msg>.`
fn error_name_from_logs(logs: &[String], code: u32) -> Option<(String, String)> {
    let number = format!("Error Number: {code}.");
    logs.iter().rev().find_map(|line| {
        if !line.contains(&number) {
            return None;
        }
        let name = line
            .split("Error Code: ")
            .nth(1)?
            .split('.')
            .next()?
            .to_string();
        let message = line
            .split("Error Message: ")
            .nth(1)
            .map(|m| m.trim_end_matches('.').to_string())
            .unwrap_or_default();
        Some((name, message))
    })
}

/// A program's error `(name, message)` by code, from the committed IDLs.
pub fn idl_error(program: &Pubkey, code: u32) -> Option<(String, String)> {
    static TABLE: OnceLock<HashMap<(Pubkey, u32), (String, String)>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut table = HashMap::new();
            for (id, json) in [
                (
                    ids::NODE_REGISTRY,
                    include_str!("../../../deploy/idl/node_registry.json"),
                ),
                (
                    ids::JOB_ESCROW,
                    include_str!("../../../deploy/idl/job_escrow.json"),
                ),
                (
                    ids::REPUTATION,
                    include_str!("../../../deploy/idl/reputation_manager.json"),
                ),
                (
                    ids::DISPUTE_DAO,
                    include_str!("../../../deploy/idl/dispute_dao.json"),
                ),
            ] {
                let Ok(idl) = serde_json::from_str::<serde_json::Value>(json) else {
                    continue;
                };
                for e in idl["errors"].as_array().into_iter().flatten() {
                    if let (Some(code), Some(name)) = (e["code"].as_u64(), e["name"].as_str()) {
                        let msg = e["msg"].as_str().unwrap_or_default().to_string();
                        table.insert((id, code as u32), (name.to_string(), msg));
                    }
                }
            }
            table
        })
        .get(&(*program, code))
        .cloned()
}

macro_rules! anchor_framework_errors {
    ($($variant:ident,)*) => {
        /// An Anchor framework error `(name, message)` by code (100–5000: constraint,
        /// account and instruction errors every Anchor program can raise). Built from the
        /// enum itself, so the names cannot be misspelt.
        pub fn anchor_framework_error(code: u32) -> Option<(String, String)> {
            use anchor_lang::error::ErrorCode as E;
            [$(E::$variant,)*]
                .into_iter()
                .find(|e| *e as u32 == code)
                .map(|e| (format!("{e:?}"), e.to_string()))
        }
    };
}

anchor_framework_errors! {
        InstructionMissing,
        InstructionFallbackNotFound,
        InstructionDidNotDeserialize,
        InstructionDidNotSerialize,
        IdlInstructionStub,
        IdlInstructionInvalidProgram,
        IdlAccountNotEmpty,
        EventInstructionStub,
        ConstraintMut,
        ConstraintHasOne,
        ConstraintSigner,
        ConstraintRaw,
        ConstraintOwner,
        ConstraintRentExempt,
        ConstraintSeeds,
        ConstraintExecutable,
        ConstraintState,
        ConstraintAssociated,
        ConstraintAssociatedInit,
        ConstraintClose,
        ConstraintAddress,
        ConstraintZero,
        ConstraintTokenMint,
        ConstraintTokenOwner,
        ConstraintMintMintAuthority,
        ConstraintMintFreezeAuthority,
        ConstraintMintDecimals,
        ConstraintSpace,
        ConstraintAccountIsNone,
        ConstraintTokenTokenProgram,
        ConstraintMintTokenProgram,
        ConstraintAssociatedTokenTokenProgram,
        ConstraintMintGroupPointerExtension,
        ConstraintMintGroupPointerExtensionAuthority,
        ConstraintMintGroupPointerExtensionGroupAddress,
        ConstraintMintGroupMemberPointerExtension,
        ConstraintMintGroupMemberPointerExtensionAuthority,
        ConstraintMintGroupMemberPointerExtensionMemberAddress,
        ConstraintMintMetadataPointerExtension,
        ConstraintMintMetadataPointerExtensionAuthority,
        ConstraintMintMetadataPointerExtensionMetadataAddress,
        ConstraintMintCloseAuthorityExtension,
        ConstraintMintCloseAuthorityExtensionAuthority,
        ConstraintMintPermanentDelegateExtension,
        ConstraintMintPermanentDelegateExtensionDelegate,
        ConstraintMintTransferHookExtension,
        ConstraintMintTransferHookExtensionAuthority,
        ConstraintMintTransferHookExtensionProgramId,
        ConstraintDuplicateMutableAccount,
        AccountAlreadyMigrated,
        AccountNotMigrated,
        ConstraintMintPausableExtension,
        ConstraintMintPausableAuthority,
        RequireViolated,
        RequireEqViolated,
        RequireKeysEqViolated,
        RequireNeqViolated,
        RequireKeysNeqViolated,
        RequireGtViolated,
        RequireGteViolated,
        AccountDiscriminatorAlreadySet,
        AccountDiscriminatorNotFound,
        AccountDiscriminatorMismatch,
        AccountDidNotDeserialize,
        AccountDidNotSerialize,
        AccountNotEnoughKeys,
        AccountNotMutable,
        AccountOwnedByWrongProgram,
        InvalidProgramId,
        InvalidProgramExecutable,
        AccountNotSigner,
        AccountNotSystemOwned,
        AccountNotInitialized,
        AccountNotProgramData,
        AccountNotAssociatedTokenAccount,
        AccountSysvarMismatch,
        AccountReallocExceedsLimit,
        AccountDuplicateReallocs,
        DeclaredProgramIdMismatch,
        TryingToInitPayerAsProgramAccount,
        InvalidNumericConversion,
        Deprecated,
}

/// Names the program error of `code` raised by `program` (for callers that only have a
/// code, e.g. from a stored transaction status).
pub trait ProgramErrorName {
    fn error_name(&self, code: u32) -> Option<String>;
}

impl ProgramErrorName for Pubkey {
    fn error_name(&self, code: u32) -> Option<String> {
        idl_error(self, code).map(|(name, _)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_errors_are_named_from_the_idl_and_match_the_program_enum() {
        let code: u32 = job_escrow::error::EscrowError::NotAdmin.into();
        let err = ChainError::from_transaction_error(
            TransactionError::InstructionError(0, InstructionError::Custom(code)),
            &[ids::JOB_ESCROW],
            vec![],
        );
        assert_eq!(err.program_error_name(), Some("NotAdmin"));
        assert!(err.to_string().contains("JobEscrow"), "{err}");
    }

    #[test]
    fn anchor_framework_errors_are_named_from_the_logs() {
        let logs = vec![
            format!("Program {} invoke [1]", ids::NODE_REGISTRY),
            "Program log: AnchorError caused by account: config. Error Code: ConstraintSeeds. Error Number: 2006. Error Message: A seeds constraint was violated.".to_string(),
            format!("Program {} failed: custom program error: 0x7d6", ids::NODE_REGISTRY),
        ];
        let err = ChainError::from_transaction_error(
            TransactionError::InstructionError(0, InstructionError::Custom(2006)),
            &[ids::NODE_REGISTRY],
            logs,
        );
        match err {
            ChainError::Program {
                program,
                name,
                message,
                ..
            } => {
                assert_eq!(program, "NodeRegistry");
                assert_eq!(name, "ConstraintSeeds");
                assert_eq!(message, "A seeds constraint was violated");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failing_cpi_is_attributed_to_the_inner_program() {
        let logs = vec![
            format!("Program {} invoke [1]", ids::JOB_ESCROW),
            format!("Program {} invoke [2]", spl_token_id()),
            "Program log: Error: insufficient funds".to_string(),
            format!(
                "Program {} failed: custom program error: 0x1",
                spl_token_id()
            ),
            format!(
                "Program {} failed: custom program error: 0x1",
                ids::JOB_ESCROW
            ),
        ];
        let err = ChainError::from_transaction_error(
            TransactionError::InstructionError(0, InstructionError::Custom(1)),
            &[ids::JOB_ESCROW],
            logs,
        );
        // Code 1 means "insufficient funds" to the token program but something else to
        // JobEscrow: the innermost failure decides.
        assert!(matches!(err, ChainError::InsufficientFunds(_)), "{err:?}");
    }

    #[test]
    fn anchor_framework_errors_are_named_without_logs() {
        let err = ChainError::from_transaction_error(
            TransactionError::InstructionError(0, InstructionError::Custom(3012)),
            &[ids::JOB_ESCROW],
            vec![],
        );
        assert_eq!(err.program_error_name(), Some("AccountNotInitialized"));
        assert_eq!(
            anchor_framework_error(2006).map(|(n, _)| n).as_deref(),
            Some("ConstraintSeeds")
        );
        assert!(anchor_framework_error(6000).is_none());
    }

    #[test]
    fn fee_and_blockhash_failures_are_classified() {
        assert!(matches!(
            ChainError::from_transaction_error(
                TransactionError::InsufficientFundsForFee,
                &[],
                vec![]
            ),
            ChainError::InsufficientFunds(_)
        ));
        assert!(matches!(
            ChainError::from_transaction_error(TransactionError::BlockhashNotFound, &[], vec![]),
            ChainError::BlockhashExpired
        ));
        assert!(ChainError::BlockhashExpired.is_transient());
    }
}
