//! Localnet throughput through `RpcClient` on this machine, against an in-process
//! baseline measured in the same run.
//!
//! ```text
//! cargo bench -p cyxwiz-localnet --bench rpc_throughput
//! ```
//! * baseline: the same SOL transfers sent straight into a LiteSVM (no RPC, no network);
//! * `send+confirm`: one client, each transfer sent and confirmed before the next
//!   (the latency a single coordinator task sees);
//! * `pipelined`: N concurrent clients, each sending and confirming in a loop (what the
//!   localnet sustains under load).

use std::time::Instant;

use cyxwiz_chain::{Pubkey, token};
use cyxwiz_localnet::{Localnet, LocalnetConfig};
use solana_keypair::Keypair;
use solana_signer::Signer;

const TRANSFERS: usize = 300;
const CLIENTS: usize = 8;

fn baseline() -> f64 {
    let mut svm = litesvm::LiteSVM::new();
    let payer = Keypair::new();
    svm.airdrop(&payer.pubkey(), 1_000_000_000_000).unwrap();
    let to = Pubkey::new_unique();
    let start = Instant::now();
    for i in 0..TRANSFERS {
        let tx = solana_transaction::Transaction::new_signed_with_payer(
            &[token::transfer_lamports(
                &payer.pubkey(),
                &to,
                1_000_000 + i as u64,
            )],
            Some(&payer.pubkey()),
            &[&payer],
            svm.latest_blockhash(),
        );
        svm.send_transaction(tx).unwrap();
    }
    TRANSFERS as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = baseline();
    let net = Localnet::start(LocalnetConfig {
        slot_time_ms: 50,
        ..LocalnetConfig::default()
    })
    .await
    .expect("localnet");

    // Sequential send + confirm.
    let (wallet, _) = net.fund_wallet(100_000_000_000, 0).await.unwrap();
    let client = net.client(wallet);
    let to = Pubkey::new_unique();
    let n_seq = TRANSFERS / 3;
    let start = Instant::now();
    for i in 0..n_seq {
        client
            .send(
                &[token::transfer_lamports(
                    &client.payer().pubkey(),
                    &to,
                    1_000_000 + i as u64,
                )],
                &[],
            )
            .await
            .unwrap();
    }
    let seq = start.elapsed();
    let seq_tps = n_seq as f64 / seq.as_secs_f64();

    // Concurrent clients.
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (w, _) = net.fund_wallet(100_000_000_000, 0).await.unwrap();
        clients.push(net.client(w));
    }
    let per = TRANSFERS / CLIENTS;
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            tokio::spawn(async move {
                let to = Pubkey::new_unique();
                for i in 0..per {
                    c.send(
                        &[token::transfer_lamports(
                            &c.payer().pubkey(),
                            &to,
                            1_000_000 + i as u64,
                        )],
                        &[],
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let par = start.elapsed();
    let par_tps = (per * CLIENTS) as f64 / par.as_secs_f64();
    net.stop();

    println!("| path | transactions | tx/s | ratio to baseline |");
    println!("|---|---|---|---|");
    println!("| in-process LiteSVM (baseline) | {TRANSFERS} | {base:.0} | 1 |");
    println!(
        "| RpcClient send+confirm, 1 client | {n_seq} | {seq_tps:.1} | {:.4} |",
        seq_tps / base
    );
    println!(
        "| RpcClient send+confirm, {CLIENTS} clients | {} | {par_tps:.1} | {:.4} |",
        per * CLIENTS,
        par_tps / base
    );
    println!("mean confirmed latency, 1 client: {:?}", seq / n_seq as u32);
}
