//! Test kit over the adapter: a [`TestChain`] that registers native programs, creates
//! mints and token accounts, funds wallets, sends transactions, warps the clock, reads
//! and decodes accounts and events, and asserts exact Anchor error codes.

use anchor_lang::{
    AccountDeserialize, AccountSerialize, Event,
    prelude::{AnchorDeserialize, Pubkey},
    solana_program::system_instruction,
};
use base64::{Engine, prelude::BASE64_STANDARD};
use litesvm::{
    LiteSVM,
    types::{FailedTransactionMetadata, TransactionMetadata},
};
use solana_account::Account;
use solana_clock::Clock;
use solana_instruction::{Instruction, error::InstructionError};
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_program_runtime::invoke_context::BuiltinFunctionRegisterer;
use solana_signer::Signer;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use spl_token_2022_interface::instruction as token_ix;

/// Classic SPL Token program id.
pub const TOKEN_PROGRAM: Pubkey = spl_token_2022_interface::inline_spl_token::ID;
/// Token-2022 program id.
pub const TOKEN_2022_PROGRAM: Pubkey = spl_token_2022_interface::ID;

/// Lamports every new [`TestChain`] gives its fee payer.
const PAYER_LAMPORTS: u64 = 1_000_000_000_000;

/// Why a transaction sent through the kit failed.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The runtime rejected or aborted the transaction.
    #[error("transaction failed: {err:?}\nlogs:\n{}", logs.join("\n"))]
    Failed {
        /// The runtime's error.
        err: TransactionError,
        /// Program logs up to the failure.
        logs: Vec<String>,
    },
}

impl TxError {
    /// The custom program error code, if the failure was one (Anchor errors are
    /// `6000 + variant`; Anchor framework errors are below 6000).
    pub fn custom_code(&self) -> Option<u32> {
        match self {
            TxError::Failed {
                err: TransactionError::InstructionError(_, InstructionError::Custom(c)),
                ..
            } => Some(*c),
            _ => None,
        }
    }

    /// The instruction error, if any.
    pub fn instruction_error(&self) -> Option<&InstructionError> {
        match self {
            TxError::Failed {
                err: TransactionError::InstructionError(_, e),
                ..
            } => Some(e),
            _ => None,
        }
    }

    /// The program logs of the failed transaction.
    pub fn logs(&self) -> &[String] {
        match self {
            TxError::Failed { logs, .. } => logs,
        }
    }
}

impl From<FailedTransactionMetadata> for TxError {
    fn from(f: FailedTransactionMetadata) -> Self {
        TxError::Failed {
            err: f.err,
            logs: f.meta.logs,
        }
    }
}

/// What a successful transaction left behind.
#[derive(Debug, Clone)]
pub struct TxOk {
    /// Program logs, including `Program data:` event lines.
    pub logs: Vec<String>,
}

impl TxOk {
    /// Decodes every event of type `E` in the logs, in order.
    pub fn events<E: Event + AnchorDeserialize>(&self) -> Vec<E> {
        decode_events(&self.logs)
    }

    /// The one event of type `E`; panics (a test failure) unless there is exactly one.
    pub fn event<E: Event + AnchorDeserialize>(&self) -> E {
        let mut all = self.events::<E>();
        assert_eq!(
            all.len(),
            1,
            "expected exactly one event, logs:\n{}",
            self.logs.join("\n")
        );
        all.remove(0)
    }
}

impl From<TransactionMetadata> for TxOk {
    fn from(m: TransactionMetadata) -> Self {
        TxOk { logs: m.logs }
    }
}

/// Decodes Anchor events of type `E` from `Program data: <base64>` log lines.
pub fn decode_events<E: Event + AnchorDeserialize>(logs: &[String]) -> Vec<E> {
    logs.iter()
        .filter_map(|line| line.strip_prefix("Program data: "))
        .filter_map(|b64| BASE64_STANDARD.decode(b64.split(' ').next()?).ok())
        .filter(|bytes| bytes.starts_with(E::DISCRIMINATOR))
        .filter_map(|bytes| E::try_from_slice(&bytes[E::DISCRIMINATOR.len()..]).ok())
        .collect()
}

/// The error code an Anchor error enum variant (or framework error) reports on chain.
pub fn anchor_code(err: impl Into<anchor_lang::error::Error>) -> u32 {
    match err.into() {
        anchor_lang::error::Error::AnchorError(e) => e.error_code_number,
        anchor_lang::error::Error::ProgramError(e) => {
            match InstructionError::from(u64::from(e.program_error)) {
                InstructionError::Custom(c) => c,
                other => panic!("program error {other:?} has no custom code"),
            }
        }
    }
}

/// Asserts that `result` failed with exactly the Anchor error `expected`.
#[track_caller]
pub fn assert_anchor_err<T: std::fmt::Debug>(
    result: Result<T, TxError>,
    expected: impl Into<anchor_lang::error::Error>,
) {
    let expected: anchor_lang::error::Error = expected.into();
    let name = expected.to_string();
    let code = anchor_code(expected);
    let expected = name;
    match result {
        Ok(ok) => panic!("expected error {expected} ({code}), transaction succeeded: {ok:?}"),
        Err(e) => assert_eq!(
            e.custom_code(),
            Some(code),
            "expected {expected} ({code}), got {e}"
        ),
    }
}

/// Asserts that `result` failed with exactly the runtime instruction error `expected`.
#[track_caller]
pub fn assert_ix_err<T: std::fmt::Debug>(result: Result<T, TxError>, expected: InstructionError) {
    match result {
        Ok(ok) => panic!("expected {expected:?}, transaction succeeded: {ok:?}"),
        Err(e) => assert_eq!(e.instruction_error(), Some(&expected), "got {e}"),
    }
}

/// A local SVM with native programs registered, plus a funded fee payer.
pub struct TestChain {
    /// The underlying LiteSVM, for anything the kit does not wrap.
    pub svm: LiteSVM,
    /// Fee payer (and rent payer for kit-created accounts).
    pub payer: Keypair,
}

impl std::fmt::Debug for TestChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestChain")
            .field("payer", &self.payer.pubkey())
            .finish()
    }
}

impl TestChain {
    /// A chain with SPL Token, Token-2022 and Associated Token from LiteSVM's shipped
    /// `.so` files, and each `(program_id, native_program!(entry))` registered natively.
    pub fn new(programs: &[(Pubkey, BuiltinFunctionRegisterer)]) -> Self {
        crate::adapter::install_syscall_stubs();
        let mut svm = LiteSVM::new();
        for (id, entry) in programs {
            svm.add_builtin(*id, *entry);
        }
        let payer = Keypair::new();
        svm.airdrop(&payer.pubkey(), PAYER_LAMPORTS)
            .expect("airdrop to fresh payer");
        // Start at a realistic wall-clock time so windows measured in days are meaningful.
        let mut clock: Clock = svm.get_sysvar();
        clock.unix_timestamp = 1_767_225_600; // 2026-01-01T00:00:00Z
        svm.set_sysvar(&clock);
        TestChain { svm, payer }
    }

    /// Sends `ixs` in one transaction paid by the kit's payer and signed by `signers`.
    pub fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> Result<TxOk, TxError> {
        let mut all: Vec<&Keypair> = vec![&self.payer];
        for s in signers {
            if s.pubkey() != self.payer.pubkey() {
                all.push(s);
            }
        }
        let tx = Transaction::new_signed_with_payer(
            ixs,
            Some(&self.payer.pubkey()),
            &all,
            self.svm.latest_blockhash(),
        );
        // A fresh blockhash per send keeps two identical transactions (a legitimate retry
        // in a test) from being rejected as duplicates.
        let result = self
            .svm
            .send_transaction(tx)
            .map(TxOk::from)
            .map_err(TxError::from);
        self.svm.expire_blockhash();
        result
    }

    /// A new keypair holding `lamports`.
    pub fn funded_keypair(&mut self, lamports: u64) -> Keypair {
        let kp = Keypair::new();
        self.fund(&kp.pubkey(), lamports);
        kp
    }

    /// Adds `lamports` to `who`.
    pub fn fund(&mut self, who: &Pubkey, lamports: u64) {
        self.svm.airdrop(who, lamports).expect("airdrop");
    }

    /// Lamports held by `who` (0 if the account does not exist).
    pub fn lamports(&self, who: &Pubkey) -> u64 {
        self.svm.get_account(who).map(|a| a.lamports).unwrap_or(0)
    }

    /// The raw account, if it exists.
    pub fn account(&self, who: &Pubkey) -> Option<Account> {
        self.svm.get_account(who)
    }

    /// Decodes an Anchor account (checks its discriminator); `None` if absent or not a `T`.
    pub fn anchor_account<T: AccountDeserialize>(&self, who: &Pubkey) -> Option<T> {
        let acc = self.svm.get_account(who)?;
        T::try_deserialize(&mut acc.data.as_slice()).ok()
    }

    /// Overwrites the data of the Anchor account at `at` with `value` (discriminator +
    /// Borsh), keeping its lamports, owner and size: forges states tests cannot reach.
    pub fn write_anchor_account<T: AccountSerialize>(&mut self, at: &Pubkey, value: &T) {
        let mut acc = self
            .svm
            .get_account(at)
            .expect("account to overwrite exists");
        let mut data = Vec::with_capacity(acc.data.len());
        value.try_serialize(&mut data).expect("serialize account");
        acc.data[..data.len()].copy_from_slice(&data);
        self.svm.set_account(*at, acc).expect("set account");
    }

    /// Current on-chain unix time.
    pub fn now(&self) -> i64 {
        self.svm.get_sysvar::<Clock>().unix_timestamp
    }

    /// Moves the clock forward by `seconds` (and the slot by one, with a new blockhash).
    pub fn warp(&mut self, seconds: i64) {
        let mut clock: Clock = self.svm.get_sysvar();
        clock.unix_timestamp = clock
            .unix_timestamp
            .checked_add(seconds)
            .expect("clock overflow");
        clock.slot += 1;
        self.svm.set_sysvar(&clock);
        self.svm.expire_blockhash();
    }

    /// Creates a mint owned by `token_program` with `authority` as mint authority.
    pub fn create_mint(
        &mut self,
        authority: &Pubkey,
        decimals: u8,
        token_program: &Pubkey,
    ) -> Pubkey {
        let mint = Keypair::new();
        let space = spl_token_2022_interface::state::Mint::LEN;
        let rent = self.svm.minimum_balance_for_rent_exemption(space);
        let ixs = [
            system_instruction::create_account(
                &self.payer.pubkey(),
                &mint.pubkey(),
                rent,
                space as u64,
                token_program,
            ),
            token_ix::initialize_mint2(token_program, &mint.pubkey(), authority, None, decimals)
                .expect("initialize_mint2"),
        ];
        self.send(&ixs, &[&mint]).expect("create mint");
        mint.pubkey()
    }

    /// Creates a token account for `mint` owned by `owner` (a fresh keypair address, so
    /// one owner may hold several).
    pub fn create_token_account(&mut self, mint: &Pubkey, owner: &Pubkey) -> Pubkey {
        let token_program = self.owner_of(mint);
        let account = Keypair::new();
        let space = spl_token_2022_interface::state::Account::LEN;
        let rent = self.svm.minimum_balance_for_rent_exemption(space);
        let ixs = [
            system_instruction::create_account(
                &self.payer.pubkey(),
                &account.pubkey(),
                rent,
                space as u64,
                &token_program,
            ),
            token_ix::initialize_account3(&token_program, &account.pubkey(), mint, owner)
                .expect("initialize_account3"),
        ];
        self.send(&ixs, &[&account]).expect("create token account");
        account.pubkey()
    }

    /// Mints `amount` base units of `mint` to `to`, signed by `authority`.
    pub fn mint_to(&mut self, mint: &Pubkey, to: &Pubkey, authority: &Keypair, amount: u64) {
        let token_program = self.owner_of(mint);
        let ix = token_ix::mint_to(&token_program, mint, to, &authority.pubkey(), &[], amount)
            .expect("mint_to");
        self.send(&[ix], &[authority]).expect("mint_to");
    }

    /// Token balance of a token account (Token or Token-2022); 0 if it does not exist.
    pub fn token_balance(&self, account: &Pubkey) -> u64 {
        self.svm
            .get_account(account)
            .and_then(|a| token_amount(&a.data))
            .unwrap_or(0)
    }

    /// Supply of a mint (Token or Token-2022).
    pub fn mint_supply(&self, mint: &Pubkey) -> u64 {
        let acc = self.svm.get_account(mint).expect("mint exists");
        // Mint layout (both programs): COption<authority> 36 bytes, then supply: u64.
        u64::from_le_bytes(acc.data[36..44].try_into().expect("mint data"))
    }

    /// The program owning `who` (for a mint: its token program).
    pub fn owner_of(&self, who: &Pubkey) -> Pubkey {
        self.svm
            .get_account(who)
            .map(|a| a.owner)
            .expect("account exists")
    }
}

/// The `amount` field of an SPL token account (same offset in Token and Token-2022).
pub fn token_amount(data: &[u8]) -> Option<u64> {
    data.get(64..72)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}
