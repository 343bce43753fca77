//! Program accounts and their decoding. An account is accepted only if it is owned by
//! the program that defines its type and carries that type's discriminator: a look-alike
//! account created by another program never decodes as an `Escrow`.

use anchor_lang::{AccountDeserialize, Discriminator, Owner, prelude::Pubkey};

use crate::ChainError;

pub use dispute_dao::{DaoConfig, Dispute, Proposal, VoteRecord, Voter};
pub use job_escrow::{Escrow, EscrowConfig, EscrowState};
pub use node_registry::{NodeAccount, RegistryConfig};
pub use reputation_manager::{NodeReputation, ReputationConfig, UserReputation};

/// A program account type the SDK can decode.
pub trait ProgramAccount: AccountDeserialize + Discriminator + Owner {
    /// Type name for error messages.
    const NAME: &'static str;
}

macro_rules! program_accounts {
    ($($ty:ident),* $(,)?) => {
        $( impl ProgramAccount for $ty { const NAME: &'static str = stringify!($ty); } )*
    };
}

program_accounts!(
    RegistryConfig,
    NodeAccount,
    EscrowConfig,
    Escrow,
    ReputationConfig,
    NodeReputation,
    UserReputation,
    DaoConfig,
    Dispute,
    Voter,
    VoteRecord,
    Proposal,
);

/// Decodes `data` of the account at `address`, owned by `owner`, as a `T`.
pub fn decode<T: ProgramAccount>(
    address: &Pubkey,
    owner: &Pubkey,
    data: &[u8],
) -> Result<T, ChainError> {
    let err = |reason: String| ChainError::Decode {
        account: *address,
        expected: T::NAME,
        reason,
    };
    if *owner != T::owner() {
        return Err(err(format!("owned by {owner}, not {}", T::owner())));
    }
    if !data.starts_with(T::DISCRIMINATOR) {
        return Err(err("wrong discriminator".into()));
    }
    let mut slice = data;
    T::try_deserialize(&mut slice).map_err(|e| err(e.to_string()))
}

/// The balance of an SPL Token or Token-2022 account's raw data.
pub fn token_amount(address: &Pubkey, data: &[u8]) -> Result<u64, ChainError> {
    // Amount sits at bytes 64..72 in both token programs' account layouts.
    data.get(64..72)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| ChainError::Decode {
            account: *address,
            expected: "token account",
            reason: format!("{} bytes", data.len()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::AccountSerialize;

    fn sample_voter() -> Voter {
        Voter {
            wallet: Pubkey::new_unique(),
            deposited: 5,
            locked_until: 0,
            bump: 255,
        }
    }

    #[test]
    fn decodes_only_the_right_owner_and_type() {
        let v = sample_voter();
        let mut data = Vec::new();
        v.try_serialize(&mut data).unwrap();
        let at = Pubkey::new_unique();
        let back: Voter = decode(&at, &dispute_dao::ID, &data).unwrap();
        assert_eq!(back.wallet, v.wallet);
        assert_eq!(back.deposited, 5);
        // Right bytes, wrong owner.
        assert!(matches!(
            decode::<Voter>(&at, &job_escrow::ID, &data),
            Err(ChainError::Decode { .. })
        ));
        // Right owner, wrong type.
        assert!(matches!(
            decode::<Proposal>(&at, &dispute_dao::ID, &data),
            Err(ChainError::Decode { .. })
        ));
    }
}
