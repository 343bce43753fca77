//! How many reputation updates fit in one ReputationManager `batch_update` transaction
//! (issue 3): measured by building the real instruction, compiling it into a legacy or v0
//! message signed by the fee payer and the updater key (2 signatures), and serialising the
//! `VersionedTransaction` with bincode against Solana's 1232-byte packet limit and the
//! account-lock limit (64 on mainnet, 128 once `increase_tx_account_lock_limit` is active).
//! The largest cases are then sent for real through LiteSVM, and the computed maxima are
//! asserted so a change in instruction encoding shows up here. Results are recorded in
//! `docs/BENCHMARKS.md`. Run with `-- --nocapture` to print the table.

use std::{borrow::Cow, collections::HashMap};

use anchor_lang::{InstructionData, ToAccountMetas, prelude::Pubkey};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_deploy::programs as deploy;
use cyxwiz_program_tests::escrow::EscrowEnv;
use job_escrow::verifier::insecure_test_proof;
use reputation_manager::{ReputationUpdate, UpdateKind, constants::default_params};
use solana_address_lookup_table_interface::state::{AddressLookupTable, LookupTableMeta};
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_message::{
    AddressLookupTableAccount, Hash, Message, VersionedMessage, v0::Message as MessageV0,
};
use solana_signer::Signer;
use solana_transaction::{TransactionError, versioned::VersionedTransaction};

/// Solana's packet limit: a serialised transaction must not exceed this many bytes.
const PACKET_DATA_SIZE: usize = 1232;
/// Account-lock limit without `increase_tx_account_lock_limit` (mainnet today).
const LOCKS_MAINNET: usize = 64;
/// Account-lock limit with `increase_tx_account_lock_limit`.
const LOCKS_RAISED: usize = 128;
/// `solana_sdk_ids::address_lookup_table::id()`.
const ALT_PROGRAM: &str = "AddressLookupTab1e1111111111111111111111111";
const STAKE: u64 = 5_000 * ONE_CYXWIZ;

/// The largest update variant (1 tag byte + 2 × u32), so every figure is a worst case.
fn completed() -> UpdateKind {
    UpdateKind::Completed {
        actual_secs: 3_000,
        estimated_secs: 3_600,
    }
}

/// `batch_update` over `nodes` (reputation accounts, each once, writable) with `jobs`
/// `Completed` updates spread round-robin over the nodes.
fn batch_ix(updater: &Pubkey, nodes: &[Pubkey], jobs: usize, batch_id: u64) -> Instruction {
    let mut accounts = reputation_manager::accounts::BatchUpdate {
        updater: *updater,
        config: deploy::reputation_config(),
    }
    .to_account_metas(None);
    accounts.extend(nodes.iter().map(|n| AccountMeta::new(*n, false)));
    let updates = (0..jobs)
        .map(|j| ReputationUpdate {
            node_index: u8::try_from(j % nodes.len()).expect("node index fits u8"),
            kind: completed(),
        })
        .collect();
    Instruction {
        program_id: reputation_manager::ID,
        accounts,
        data: reputation_manager::instruction::BatchUpdate { batch_id, updates }.data(),
    }
}

fn legacy_tx(
    payer: &Keypair,
    updater: &Keypair,
    ix: Instruction,
    hash: Hash,
) -> VersionedTransaction {
    let msg = Message::new_with_blockhash(&[ix], Some(&payer.pubkey()), &hash);
    VersionedTransaction::try_new(VersionedMessage::Legacy(msg), &[payer, updater])
        .expect("sign legacy")
}

fn v0_tx(
    payer: &Keypair,
    updater: &Keypair,
    ix: Instruction,
    alt: &AddressLookupTableAccount,
    hash: Hash,
) -> VersionedTransaction {
    let msg = MessageV0::try_compile(&payer.pubkey(), &[ix], std::slice::from_ref(alt), hash)
        .expect("compile v0");
    VersionedTransaction::try_new(VersionedMessage::V0(msg), &[payer, updater]).expect("sign v0")
}

/// Length of a compact-u16 ("short vec") length prefix.
fn short_vec_len(n: usize) -> usize {
    match n {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        _ => 3,
    }
}

/// Wire size of the transaction: the compact-u16 signature count, 64 bytes per signature
/// and the serialised message. This is exactly what bincode produces for a
/// `VersionedTransaction`; solana-transaction is built here without its `serde` feature,
/// so the message's own serialiser is used instead.
fn tx_size(tx: &VersionedTransaction) -> usize {
    short_vec_len(tx.signatures.len()) + 64 * tx.signatures.len() + tx.message.serialize().len()
}

/// Accounts the transaction locks: static keys plus every address loaded from tables.
fn tx_accounts(tx: &VersionedTransaction) -> usize {
    let loaded: usize = tx
        .message
        .address_table_lookups()
        .unwrap_or_default()
        .iter()
        .map(|l| l.writable_indexes.len() + l.readonly_indexes.len())
        .sum();
    tx.message.static_account_keys().len() + loaded
}

/// A lookup table holding the reputation config and `nodes`.
fn lookup_table(key: Pubkey, nodes: &[Pubkey]) -> AddressLookupTableAccount {
    let mut addresses = vec![deploy::reputation_config()];
    addresses.extend_from_slice(nodes);
    AddressLookupTableAccount { key, addresses }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Legacy,
    V0Alt,
}

/// Everything needed to size a transaction without a chain.
struct Sizer {
    payer: Keypair,
    updater: Keypair,
    nodes: Vec<Pubkey>,
    alt_key: Pubkey,
}

impl Sizer {
    fn new() -> Self {
        Sizer {
            payer: Keypair::new(),
            updater: Keypair::new(),
            nodes: (0..255).map(|_| Pubkey::new_unique()).collect(),
            alt_key: Pubkey::new_unique(),
        }
    }

    /// (serialised bytes, locked accounts) of a batch of `jobs` over `k` nodes.
    fn measure(&self, format: Format, k: usize, jobs: usize) -> (usize, usize) {
        let nodes = &self.nodes[..k];
        let ix = batch_ix(&self.updater.pubkey(), nodes, jobs, u64::MAX);
        let tx = match format {
            Format::Legacy => legacy_tx(&self.payer, &self.updater, ix, Hash::default()),
            Format::V0Alt => {
                let alt = lookup_table(self.alt_key, nodes);
                v0_tx(&self.payer, &self.updater, ix, &alt, Hash::default())
            }
        };
        (tx_size(&tx), tx_accounts(&tx))
    }

    /// The largest `n` in `lo..=hi` whose `f(n)` transaction fits the packet (sizes grow
    /// with `n`); `None` if even `lo` does not fit.
    fn max_by_size(
        &self,
        lo: usize,
        hi: usize,
        f: impl Fn(usize) -> (usize, usize),
    ) -> Option<usize> {
        let mut best = None;
        for n in lo..=hi {
            if f(n).0 > PACKET_DATA_SIZE {
                break;
            }
            best = Some(n);
        }
        best
    }
}

/// One line of the report.
struct Row {
    case: String,
    format: Format,
    nodes: usize,
    jobs: usize,
    bytes: usize,
    accounts: usize,
    binding: &'static str,
}

fn row(
    s: &Sizer,
    case: &str,
    format: Format,
    nodes: usize,
    jobs: usize,
    binding: &'static str,
) -> Row {
    let (bytes, accounts) = s.measure(format, nodes, jobs);
    Row {
        case: case.to_string(),
        format,
        nodes,
        jobs,
        bytes,
        accounts,
        binding,
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| case | message | distinct nodes | updates (jobs) | tx bytes | locked accounts | binding limit |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
    for r in rows {
        let msg = match r.format {
            Format::Legacy => "legacy",
            Format::V0Alt => "v0 + 1 ALT",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.case, msg, r.nodes, r.jobs, r.bytes, r.accounts, r.binding
        );
    }
    println!();
}

/// Sends one batch for real and checks every node's `jobs_completed` rose by its share.
fn send_and_check(
    f: &mut EscrowEnv,
    owners: &[Pubkey],
    jobs: usize,
    batch_id: u64,
    alt: Option<Pubkey>,
    expected_bytes: usize,
    counts: &mut HashMap<Pubkey, u32>,
) {
    let pdas: Vec<Pubkey> = owners.iter().map(deploy::node_reputation).collect();
    let hash = f.env.chain.svm.latest_blockhash();
    let ix = batch_ix(&f.coordinator.pubkey(), &pdas, jobs, batch_id);
    let tx = match alt {
        None => legacy_tx(&f.env.chain.payer, &f.coordinator, ix, hash),
        Some(key) => v0_tx(
            &f.env.chain.payer,
            &f.coordinator,
            ix,
            &lookup_table(key, &pdas),
            hash,
        ),
    };
    assert_eq!(
        tx_size(&tx),
        expected_bytes,
        "real tx has the measured size"
    );
    if let Err(e) = f.env.chain.svm.send_transaction(tx) {
        panic!(
            "batch of {jobs} over {} nodes failed: {:?}\n{}",
            owners.len(),
            e.err,
            e.meta.logs.join("\n")
        );
    }
    f.env.chain.svm.expire_blockhash();
    for j in 0..jobs {
        *counts.entry(owners[j % owners.len()]).or_default() += 1;
    }
    for o in owners {
        assert_eq!(
            f.reputation(o).jobs_completed,
            counts[o],
            "jobs_completed of {o}"
        );
    }
}

/// Installs a lookup table at a fresh address holding the config and `pdas`, active now.
fn install_alt(f: &mut EscrowEnv, pdas: &[Pubkey]) -> Pubkey {
    let key = Pubkey::new_unique();
    let table = lookup_table(key, pdas);
    let data = AddressLookupTable {
        meta: LookupTableMeta {
            last_extended_slot_start_index: u8::try_from(table.addresses.len()).expect("≤ 255"),
            authority: None,
            ..LookupTableMeta::default()
        },
        addresses: Cow::Owned(table.addresses),
    }
    .serialize_for_tests()
    .expect("serialize lookup table");
    // Reuse an existing account value as the template (its type lives in a crate this
    // test does not name), replacing every field.
    let mut account = f
        .env
        .chain
        .account(&deploy::reputation_config())
        .expect("config account");
    account.lamports = f
        .env
        .chain
        .svm
        .minimum_balance_for_rent_exemption(data.len());
    account.data = data;
    account.owner = ALT_PROGRAM.parse().expect("ALT program id");
    account.executable = false;
    f.env
        .chain
        .svm
        .set_account(key, account)
        .expect("install lookup table");
    key
}

#[test]
fn batch_update_transaction_capacity() {
    let s = Sizer::new();
    let cap = usize::from(default_params().max_batch_updates);
    assert_eq!(cap, 128, "default max_batch_updates");
    let mut rows = Vec::new();

    // (a) legacy, N distinct nodes with one update each.
    let legacy_n = s
        .max_by_size(1, 255, |n| s.measure(Format::Legacy, n, n))
        .expect("one update fits");
    let (_, legacy_n_accounts) = s.measure(Format::Legacy, legacy_n, legacy_n);
    assert!(legacy_n_accounts <= LOCKS_MAINNET && legacy_n <= cap);
    assert!(s.measure(Format::Legacy, legacy_n + 1, legacy_n + 1).0 > PACKET_DATA_SIZE);
    rows.push(row(
        &s,
        "(a) N nodes × 1 update",
        Format::Legacy,
        legacy_n,
        legacy_n,
        "1232 B",
    ));

    // (b) legacy, as many jobs as fit over K nodes.
    let mut legacy_jobs = Vec::new();
    for k in [1, 5, 10, 20] {
        let by_size = s
            .max_by_size(k, 255, |j| s.measure(Format::Legacy, k, j))
            .expect("one update per node fits");
        let jobs = by_size.min(cap);
        let binding = if by_size > cap {
            "max_batch_updates 128"
        } else {
            "1232 B"
        };
        legacy_jobs.push(jobs);
        rows.push(row(
            &s,
            &format!("(b) jobs over K={k}"),
            Format::Legacy,
            k,
            jobs,
            binding,
        ));
    }

    // (c) v0 with one lookup table holding the config and the node PDAs.
    let v0_n_size = s
        .max_by_size(1, 254, |n| s.measure(Format::V0Alt, n, n))
        .expect("one update fits");
    assert!(s.measure(Format::V0Alt, v0_n_size + 1, v0_n_size + 1).0 > PACKET_DATA_SIZE);
    // Static keys: payer, updater, program; loaded: config + N nodes.
    let fixed_accounts = s.measure(Format::V0Alt, 1, 1).1 - 1;
    let v0_n_64 = v0_n_size.min(LOCKS_MAINNET - fixed_accounts).min(cap);
    let v0_n_128 = v0_n_size.min(LOCKS_RAISED - fixed_accounts).min(cap);
    rows.push(row(
        &s,
        "(c) N nodes × 1 update, 64 locks",
        Format::V0Alt,
        v0_n_64,
        v0_n_64,
        "64 locks",
    ));
    let binding = if v0_n_128 == v0_n_size {
        "1232 B"
    } else {
        "128 locks"
    };
    rows.push(row(
        &s,
        "(c) N nodes × 1 update, 128 locks",
        Format::V0Alt,
        v0_n_128,
        v0_n_128,
        binding,
    ));
    let mut v0_jobs = Vec::new();
    for k in [1, 20, 64] {
        let by_size = s
            .max_by_size(k, 255, |j| s.measure(Format::V0Alt, k, j))
            .expect("one update per node fits");
        let jobs = by_size.min(cap);
        let accounts = s.measure(Format::V0Alt, k, jobs).1;
        let binding = match (by_size > cap, accounts > LOCKS_MAINNET) {
            (true, _) => "max_batch_updates 128",
            (false, false) => "1232 B",
            (false, true) => "1232 B (needs 128 locks)",
        };
        v0_jobs.push(jobs);
        rows.push(row(
            &s,
            &format!("(c) jobs over K={k}"),
            Format::V0Alt,
            k,
            jobs,
            binding,
        ));
    }
    print_table(&rows);

    // The measured maxima: a change in the instruction or message encoding fails here.
    assert_eq!(legacy_n, 21, "legacy distinct nodes");
    assert_eq!(
        legacy_jobs,
        [87, 74, 58, 25],
        "legacy jobs for K = 1, 5, 10, 20"
    );
    assert_eq!(v0_n_size, 75, "v0 distinct nodes by size");
    assert_eq!(v0_n_64, 60, "v0 distinct nodes under 64 locks");
    assert_eq!(v0_n_128, 75, "v0 distinct nodes under 128 locks");
    assert_eq!(v0_jobs, [90, 86, 77], "v0 jobs for K = 1, 20, 64");
    assert!(
        legacy_jobs.iter().chain(&v0_jobs).all(|&j| j < 100),
        "100 jobs never fit one transaction"
    );

    // Send the largest cases for real.
    let mut f = EscrowEnv::new(insecure_test_proof);
    let total = v0_n_128.max(64).max(legacy_n);
    let owners: Vec<Pubkey> = (0..total).map(|_| f.node(STAKE).key()).collect();
    let mut counts = HashMap::new();
    for o in &owners {
        assert_eq!(f.reputation(o).jobs_completed, 0);
        counts.insert(*o, 0);
    }
    let pdas: Vec<Pubkey> = owners.iter().map(deploy::node_reputation).collect();

    // (a) the legacy maximum, one Completed update per node.
    let bytes = s.measure(Format::Legacy, legacy_n, legacy_n).0;
    send_and_check(
        &mut f,
        &owners[..legacy_n],
        legacy_n,
        1,
        None,
        bytes,
        &mut counts,
    );
    assert!(owners[..legacy_n].iter().all(|o| counts[o] == 1));
    // (b) the legacy maximum over one node and over 20 nodes.
    let bytes = s.measure(Format::Legacy, 1, legacy_jobs[0]).0;
    send_and_check(
        &mut f,
        &owners[..1],
        legacy_jobs[0],
        2,
        None,
        bytes,
        &mut counts,
    );
    let bytes = s.measure(Format::Legacy, 20, legacy_jobs[3]).0;
    send_and_check(
        &mut f,
        &owners[..20],
        legacy_jobs[3],
        3,
        None,
        bytes,
        &mut counts,
    );

    // (c) v0 through an installed lookup table: 64-lock maximum and 20 nodes first.
    let alt = install_alt(&mut f, &pdas[..v0_n_64]);
    let bytes = s.measure(Format::V0Alt, v0_n_64, v0_n_64).0;
    send_and_check(
        &mut f,
        &owners[..v0_n_64],
        v0_n_64,
        4,
        Some(alt),
        bytes,
        &mut counts,
    );
    let alt = install_alt(&mut f, &pdas[..20]);
    let bytes = s.measure(Format::V0Alt, 20, v0_jobs[1]).0;
    send_and_check(
        &mut f,
        &owners[..20],
        v0_jobs[1],
        5,
        Some(alt),
        bytes,
        &mut counts,
    );
    let alt = install_alt(&mut f, &pdas[..1]);
    let bytes = s.measure(Format::V0Alt, 1, v0_jobs[0]).0;
    send_and_check(
        &mut f,
        &owners[..1],
        v0_jobs[0],
        8,
        Some(alt),
        bytes,
        &mut counts,
    );

    // Beyond 64 accounts only works where LiteSVM has the raised lock limit: probe it
    // with the 128-lock maximum of distinct nodes.
    let alt = install_alt(&mut f, &pdas[..v0_n_128]);
    let hash = f.env.chain.svm.latest_blockhash();
    let probe = v0_tx(
        &f.env.chain.payer,
        &f.coordinator,
        batch_ix(&f.coordinator.pubkey(), &pdas[..v0_n_128], v0_n_128, 6),
        &lookup_table(alt, &pdas[..v0_n_128]),
        hash,
    );
    assert!(tx_accounts(&probe) > LOCKS_MAINNET);
    let raised = match f.env.chain.svm.send_transaction(probe) {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(
                e.err,
                TransactionError::TooManyAccountLocks,
                "{:?}",
                e.meta.logs
            );
            false
        }
    };
    f.env.chain.svm.expire_blockhash();
    if raised {
        for o in &owners[..v0_n_128] {
            *counts.get_mut(o).expect("node") += 1;
            assert_eq!(f.reputation(o).jobs_completed, counts[o]);
        }
        let alt = install_alt(&mut f, &pdas[..64]);
        let bytes = s.measure(Format::V0Alt, 64, v0_jobs[2]).0;
        send_and_check(
            &mut f,
            &owners[..64],
            v0_jobs[2],
            7,
            Some(alt),
            bytes,
            &mut counts,
        );
    }
    println!(
        "LiteSVM accepts > 64 account locks: {raised}. Sent for real: legacy {legacy_n} nodes × 1, \
         legacy 1 node × {}, legacy 20 nodes × {}, v0 {v0_n_64} nodes × 1, v0 20 nodes × {}, \
         v0 1 node × {}{}",
        legacy_jobs[0],
        legacy_jobs[3],
        v0_jobs[1],
        v0_jobs[0],
        if raised {
            format!(", v0 {v0_n_128} nodes × 1, v0 64 nodes × {}", v0_jobs[2])
        } else {
            String::new()
        }
    );
}
