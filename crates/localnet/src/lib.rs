//! An embedded local Solana chain for CyxWiz: real JSON-RPC and WebSocket on 127.0.0.1,
//! served by surfpool from an in-process LiteSVM, with the four programs registered as
//! native builtins (no SBF toolchain needed) and SPL Token from its `.so`.
//!
//! [`Localnet::start`] brings one up on free (or given) ports, deploys the initial state
//! through the same plan a real cluster uses (`cyxwiz_deploy::network`, sent over RPC):
//! the CYXWIZ mint and its distribution, treasuries, insurance vault and program configs,
//! plus a funded faucet. Dropping the [`Localnet`] (or [`Localnet::stop`]) shuts it down.
//!
//! Each program's IDL is published where Anchor clients look for it (`Program.fetchIdl`):
//! the canonical Program Metadata account and the legacy `IdlAccount`
//! (`cyxwiz_deploy::idl`).
//!
//! The chain runs offline (no remote datasource) with the spec's parameters; the clock
//! advances with real time at `slot_time` per slot, and [`Localnet::time_travel`] jumps it
//! forward for tests of day-long windows.
//!
//! Program logs are a real validator's: every `msg!`, Anchor's `Instruction: X` and its
//! `AnchorError …` lines appear as `Program log: …` in the transaction's logs
//! (sendTransaction's preflight error, simulateTransaction, getTransaction), through the
//! native SVM adapter's log hook; nothing is printed to stdout. What a native build cannot
//! give is compute units: the programs run as builtins, so their logs have no
//! `Program <id> consumed N of M compute units` line and simulateTransaction's
//! `unitsConsumed` is not what the SBF build would use (docs/deploy.md).

use std::{
    net::TcpListener,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use cyxwiz_chain::{ChainError, Pubkey, client::ChainClient, ids, token};
use cyxwiz_deploy::{
    idl,
    network::{Network, Params, Roles},
    rpc as deploy_rpc,
};
use cyxwiz_native_svm::native_program;
use solana_account::Account;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;
use surfpool_core::surfnet::svm::SurfnetSvm;
use surfpool_types::{
    BlockProductionMode, RpcConfig, SimnetCommand, SimnetConfig, SimnetEvent, SurfpoolConfig,
};

/// SPL Token (classic), which LiteSVM ships as a `.so`.
pub const TOKEN_PROGRAM: Pubkey =
    Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");

/// Lamports each localnet key starts with (LiteSVM's airdrop source holds 1,000,000 SOL
/// in all, so five keys get 10,000 SOL each).
pub const FAUCET_LAMPORTS: u64 = 10_000 * 1_000_000_000;

/// How a localnet is started.
#[derive(Debug, Clone)]
pub struct LocalnetConfig {
    pub bind_host: String,
    /// JSON-RPC port; 0 picks a free one.
    pub rpc_port: u16,
    /// WebSocket port; 0 picks a free one.
    pub ws_port: u16,
    /// Milliseconds per slot. Short slots make blockhashes expire quickly, which keeps
    /// the client's safe-resend path (wait for expiry, then re-sign) fast in tests.
    pub slot_time_ms: u64,
    /// Program parameters (the spec's defaults).
    pub params: Params,
    /// How long to wait for the RPC server to come up.
    pub start_timeout: Duration,
}

impl Default for LocalnetConfig {
    fn default() -> Self {
        LocalnetConfig {
            bind_host: "127.0.0.1".into(),
            rpc_port: 0,
            ws_port: 0,
            slot_time_ms: 100,
            params: Params::default(),
            start_timeout: Duration::from_secs(30),
        }
    }
}

/// Errors starting a localnet.
#[derive(Debug, thiserror::Error)]
pub enum LocalnetError {
    #[error("no free port on {0}: {1}")]
    Port(String, std::io::Error),
    #[error("surfpool: {0}")]
    Surfpool(String),
    #[error("the RPC server did not come up within {0:?}")]
    NotReady(Duration),
    #[error("deploying the initial state: {0}")]
    Deploy(Box<deploy_rpc::RunError>),
    #[error(transparent)]
    Chain(Box<ChainError>),
}

impl From<deploy_rpc::RunError> for LocalnetError {
    fn from(e: deploy_rpc::RunError) -> Self {
        LocalnetError::Deploy(Box::new(e))
    }
}

impl From<ChainError> for LocalnetError {
    fn from(e: ChainError) -> Self {
        LocalnetError::Chain(Box::new(e))
    }
}

/// The keys that control a localnet. Generated fresh for every start; the CLI writes
/// them to its state directory so other processes (coordinator, nodes) can use them.
#[derive(Debug)]
pub struct LocalKeys {
    /// Holds SOL and every CYXWIZ distribution bucket: hands out both.
    pub faucet: Keypair,
    /// Admin of all four programs; also owns the treasuries and the insurance vault.
    pub admin: Keypair,
    /// JobEscrow's coordinator key.
    pub coordinator: Keypair,
    /// ReputationManager's batch updater key.
    pub updater: Keypair,
}

/// A running localnet. Stops on drop.
pub struct Localnet {
    rpc_url: String,
    ws_url: String,
    keys: LocalKeys,
    network: Network,
    runloop: Runloop,
}

/// The surfpool runloop thread and its event drain. Dropping it stops the chain, so a
/// start that fails half-way leaves nothing running.
struct Runloop {
    commands: crossbeam_channel::Sender<SimnetCommand>,
    thread: Option<JoinHandle<()>>,
    drain: Option<JoinHandle<()>>,
}

impl Runloop {
    fn stop(&mut self) {
        let _ = self.commands.send(SimnetCommand::Terminate(None));
        // Bounded: a runloop that never reached its command loop would never see the
        // Terminate, and a stop must not hang the caller.
        let deadline = Instant::now() + Duration::from_secs(10);
        if let Some(t) = self.thread.take() {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                eprintln!("localnet: runloop did not stop within 10 s; leaving it detached");
            }
        }
        // The event drain ends when the runloop drops its sender.
        if let Some(t) = self.drain.take()
            && t.is_finished()
        {
            let _ = t.join();
        }
    }
}

impl Drop for Runloop {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Localnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localnet")
            .field("rpc_url", &self.rpc_url)
            .field("ws_url", &self.ws_url)
            .field("mint", &self.network.addresses.mint)
            .finish()
    }
}

fn free_port(host: &str) -> Result<u16, LocalnetError> {
    let listener =
        TcpListener::bind((host, 0)).map_err(|e| LocalnetError::Port(host.to_string(), e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| LocalnetError::Port(host.to_string(), e))
}

impl Localnet {
    /// Starts a localnet and deploys the initial state. Returns once the RPC answers and
    /// every config is initialised.
    pub async fn start(config: LocalnetConfig) -> Result<Localnet, LocalnetError> {
        cyxwiz_native_svm::adapter::install_syscall_stubs();
        let rpc_port = match config.rpc_port {
            0 => free_port(&config.bind_host)?,
            p => p,
        };
        let ws_port = match config.ws_port {
            0 => loop {
                let p = free_port(&config.bind_host)?;
                if p != rpc_port {
                    break p;
                }
            },
            p => p,
        };

        let (mut svm, events_rx, geyser_rx) =
            SurfnetSvm::new(surfpool_core::surfnet::svm::SurfnetSvmConfig {
                slot_time: config.slot_time_ms,
                ..Default::default()
            })
            .map_err(|e| LocalnetError::Surfpool(e.to_string()))?;
        let lite = &mut svm.inner.svm;
        lite.add_builtin(ids::NODE_REGISTRY, native_program!(node_registry::entry));
        lite.add_builtin(ids::JOB_ESCROW, native_program!(job_escrow::entry));
        lite.add_builtin(ids::REPUTATION, native_program!(reputation_manager::entry));
        lite.add_builtin(ids::DISPUTE_DAO, native_program!(dispute_dao::entry));
        publish_idls(&mut svm)?;

        let keys = LocalKeys {
            faucet: Keypair::new(),
            admin: Keypair::new(),
            coordinator: Keypair::new(),
            updater: Keypair::new(),
        };
        let deployer = cyxwiz_chain::keys::localnet_deployer();
        let funded: Vec<Pubkey> = [
            &keys.faucet,
            &keys.admin,
            &keys.coordinator,
            &keys.updater,
            &deployer,
        ]
        .iter()
        .map(|k| k.pubkey())
        .collect();

        let surfpool_config = SurfpoolConfig {
            simnets: vec![SimnetConfig {
                offline_mode: true,
                remote_rpc_url: None,
                slot_time: config.slot_time_ms,
                block_production_mode: BlockProductionMode::Clock,
                airdrop_addresses: funded,
                airdrop_token_amount: FAUCET_LAMPORTS,
                // Our events and errors must reach the logs whole.
                log_bytes_limit: None,
                ..SimnetConfig::default()
            }],
            rpc: RpcConfig {
                bind_host: config.bind_host.clone(),
                bind_port: rpc_port,
                ws_port,
                ..RpcConfig::default()
            },
            ..SurfpoolConfig::default()
        };
        let (commands_tx, commands_rx) = crossbeam_channel::unbounded();
        let runloop_commands = commands_tx.clone();
        let thread = std::thread::Builder::new()
            .name("cyxwiz-localnet".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("localnet: cannot build runtime: {e}");
                        return;
                    }
                };
                let result = runtime.block_on(surfpool_core::start_local_surfnet(
                    svm,
                    surfpool_config,
                    runloop_commands,
                    commands_rx,
                    geyser_rx,
                ));
                if let Err(e) = result {
                    eprintln!("localnet stopped with an error: {e}");
                }
                // The RPC servers and the clock keep blocking threads of their own that
                // a plain drop would wait for forever.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(|e| LocalnetError::Surfpool(e.to_string()))?;
        // From here on, a failure drops `runloop`, which stops the chain.
        let mut runloop = Runloop {
            commands: commands_tx,
            thread: Some(thread),
            drain: None,
        };

        // Wait for the core, then keep draining events so the bounded channel never
        // fills (errors are printed: they are the localnet's own failures). The wait
        // polls instead of blocking the thread, so a caller that drops this future (the
        // CLI on Ctrl-C) stops the start-up at once, and `runloop` with it.
        let deadline = Instant::now() + config.start_timeout;
        loop {
            match events_rx.try_recv() {
                Ok(SimnetEvent::CoreStarted(_)) => break,
                Ok(SimnetEvent::Aborted(reason)) => return Err(LocalnetError::Surfpool(reason)),
                Ok(_) => continue,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    return Err(LocalnetError::Surfpool(
                        "the runloop ended before the core started".into(),
                    ));
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {}
            }
            if Instant::now() >= deadline {
                return Err(LocalnetError::NotReady(config.start_timeout));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        runloop.drain = Some(
            std::thread::Builder::new()
                .name("cyxwiz-localnet-events".into())
                .spawn(move || {
                    while let Ok(event) = events_rx.recv() {
                        if let SimnetEvent::ErrorLog(_, msg) = event {
                            eprintln!("localnet error: {msg}");
                        }
                    }
                })
                .map_err(|e| LocalnetError::Surfpool(e.to_string()))?,
        );

        let host = &config.bind_host;
        let rpc_url = format!("http://{host}:{rpc_port}");
        let ws_url = format!("ws://{host}:{ws_port}");
        let client = ChainClient::new(
            &rpc_url,
            keys.faucet.insecure_clone(),
            CommitmentConfig::confirmed(),
        )?;
        wait_for_rpc(&client, config.start_timeout).await?;
        let mint_authority = Keypair::new();
        let network = deploy_rpc::deploy_network(
            &client,
            &deployer,
            &mint_authority,
            &TOKEN_PROGRAM,
            roles(&keys),
            config.params.clone(),
        )
        .await?;
        Ok(Localnet {
            rpc_url,
            ws_url,
            keys,
            network,
            runloop,
        })
    }

    /// The JSON-RPC URL (`http://127.0.0.1:<port>`).
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// The WebSocket URL (`ws://127.0.0.1:<port>`).
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The deployed network: mint, distribution, treasuries, insurance vault, roles.
    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn keys(&self) -> &LocalKeys {
        &self.keys
    }

    /// A chain client for this localnet paying with `payer`, at `confirmed`.
    pub fn client(&self, payer: Keypair) -> ChainClient {
        ChainClient::new(&self.rpc_url, payer, CommitmentConfig::confirmed())
            .expect("localnet URL is a valid http URL")
    }

    /// A new wallet with `lamports` of SOL and `tokens` CYXWIZ (base units) in a fresh
    /// token account, paid by the faucet. Returns the wallet and its token account.
    pub async fn fund_wallet(
        &self,
        lamports: u64,
        tokens: u64,
    ) -> Result<(Keypair, Pubkey), ChainError> {
        let wallet = Keypair::new();
        let token = self
            .fund_existing(&wallet.pubkey(), lamports, tokens)
            .await?;
        Ok((wallet, token))
    }

    /// Gives `wallet` `lamports` and a new token account holding `tokens` CYXWIZ.
    pub async fn fund_existing(
        &self,
        wallet: &Pubkey,
        lamports: u64,
        tokens: u64,
    ) -> Result<Pubkey, ChainError> {
        let faucet = self.client(self.keys.faucet.insecure_clone());
        let token = Keypair::new();
        let rent = faucet.rent_exempt(token::ACCOUNT_LEN).await?;
        let mut ixs = vec![token::transfer_lamports(
            &self.keys.faucet.pubkey(),
            wallet,
            lamports,
        )];
        ixs.extend(token::create_token_account(
            &self.keys.faucet.pubkey(),
            &token.pubkey(),
            &self.network.addresses.mint,
            &self.network.addresses.token_program,
            wallet,
            rent,
        )?);
        if tokens > 0 {
            ixs.push(token::transfer(
                &self.network.addresses,
                &self.faucet_token(),
                &token.pubkey(),
                &self.keys.faucet.pubkey(),
                tokens,
            )?);
        }
        faucet.send(&ixs, &[&token]).await?;
        Ok(token.pubkey())
    }

    /// Jumps the chain clock forward by `seconds` (surfpool's `surfnet_timeTravel`).
    pub async fn time_travel(&self, seconds: i64) -> Result<(), ChainError> {
        let client = self.client(Keypair::new());
        let clock = current_unix_time(&client).await?;
        let target_ms = (clock + seconds).max(0) as u64 * 1_000;
        client
            .rpc()
            .send::<serde_json::Value>(
                solana_rpc_client_api::request::RpcRequest::Custom {
                    method: "surfnet_timeTravel",
                },
                serde_json::json!([{ "absoluteTimestamp": target_ms }]),
            )
            .await
            .map_err(|e| cyxwiz_chain::client::classify_client_error(&self.rpc_url, e, &[]))?;
        Ok(())
    }

    /// The faucet's token account holding the community bucket (the largest).
    fn faucet_token(&self) -> Pubkey {
        self.network
            .token
            .distribution
            .first()
            .map(|(_, _, account, _)| *account)
            .unwrap_or_default()
    }

    /// Stops the chain and waits (bounded) for its threads.
    pub fn stop(mut self) {
        self.runloop.stop();
    }
}

/// Writes each program's committed IDL where Anchor clients look for it: the canonical
/// Program Metadata account (`Program.fetchIdl` in `@anchor-lang/core` 1.x, `anchor idl
/// fetch`) and the legacy `IdlAccount` (0.2x/0.3x clients), both zlib-compressed JSON.
/// On a real cluster `cyxwiz-deploy idl` sends the Program Metadata transactions that
/// produce the same account; here neither the Program Metadata program nor an IDL
/// instruction can run natively, so the deployment writes the accounts' final state.
fn publish_idls(svm: &mut SurfnetSvm) -> Result<(), LocalnetError> {
    let deployer = cyxwiz_chain::keys::localnet_deployer().pubkey();
    for (_, program, json) in idl::committed() {
        let compressed = idl::compress(json);
        for (address, owner, data) in [
            (
                idl::metadata_address(&program),
                idl::PROGRAM_METADATA_ID,
                idl::metadata_account_data(&program, &compressed),
            ),
            (
                idl::legacy_address(&program),
                program,
                idl::legacy_account_data(&deployer, &compressed),
            ),
        ] {
            let account = Account {
                lamports: svm.inner.minimum_balance_for_rent_exemption(data.len()),
                data,
                owner,
                executable: false,
                rent_epoch: 0,
            };
            svm.set_account(&address, account).map_err(|e| {
                LocalnetError::Surfpool(format!("writing the IDL of {program}: {e}"))
            })?;
        }
    }
    Ok(())
}

fn roles(keys: &LocalKeys) -> Roles {
    Roles {
        admin: keys.admin.pubkey(),
        coordinator: keys.coordinator.pubkey(),
        reputation_updater: keys.updater.pubkey(),
        distribution_owners: [keys.faucet.pubkey(); 5],
        treasury_owner: keys.admin.pubkey(),
        insurance_owner: keys.admin.pubkey(),
    }
}

/// The chain's `Clock::unix_timestamp`.
pub async fn current_unix_time(client: &ChainClient) -> Result<i64, ChainError> {
    client.unix_time().await
}

async fn wait_for_rpc(client: &ChainClient, timeout: Duration) -> Result<(), LocalnetError> {
    let deadline = Instant::now() + timeout;
    loop {
        match client.check().await {
            Ok(_) => return Ok(()),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => return Err(LocalnetError::NotReady(timeout)),
        }
    }
}
