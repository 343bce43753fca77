//! `cyxwiz-deploy`: initialise a CyxWiz network on a cluster whose programs are already
//! deployed (`anchor deploy`), and verify a deployment by reading it back.
//!
//! ```text
//! cyxwiz-deploy init   --url https://api.devnet.solana.com --payer ~/.config/solana/id.json \
//!                      --deployer deploy/keys/devnet/deployer-keypair.json \
//!                      --admin <MULTISIG> --coordinator <KEY> --updater <KEY> \
//!                      --treasury-owner <MULTISIG> --insurance-owner <MULTISIG> \
//!                      --distribution-owner <MULTISIG> --out deployment.json
//! cyxwiz-deploy verify --url ... --admin ... --coordinator ... --updater ... --mint <MINT>
//! cyxwiz-deploy idl    --url ... --payer ~/.config/solana/id.json \
//!                      --authority <UPGRADE_AUTHORITY_KEYPAIR>
//! ```
//! `idl` publishes `deploy/idl/*.json` in each program's canonical Program Metadata
//! account (what `anchor idl init` does and `Program.fetchIdl` reads); it needs the
//! programs' upgrade authority, so run it before moving that authority to the multisig.

use std::{path::PathBuf, str::FromStr};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use cyxwiz_chain::{Pubkey, client::ChainClient, keys};
use cyxwiz_deploy::{
    network::{Params, Roles},
    rpc,
};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;

const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const TOKEN_2022_PROGRAM: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";

#[derive(Parser)]
#[command(about = "Initialise and verify CyxWiz deployments")]
struct Cli {
    /// JSON-RPC URL of the cluster.
    #[arg(long, env = "CYXWIZ_RPC_URL", default_value = "http://127.0.0.1:8899")]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct RoleArgs {
    /// Admin of all four programs (a multisig in production).
    #[arg(long)]
    admin: String,
    /// The coordinator's key (assigns nodes to jobs).
    #[arg(long)]
    coordinator: String,
    /// The coordinator's reputation batch key.
    #[arg(long)]
    updater: String,
}

#[derive(Subcommand)]
enum Command {
    /// Create the CYXWIZ token and distribution, treasuries, and initialise the programs.
    Init {
        #[command(flatten)]
        roles: RoleArgs,
        /// Fee payer keypair (Solana CLI JSON).
        #[arg(long)]
        payer: PathBuf,
        /// The deployer keypair whose address the programs were built with.
        #[arg(long)]
        deployer: PathBuf,
        /// Owner of the fee treasury token accounts.
        #[arg(long)]
        treasury_owner: String,
        /// Owner of NodeRegistry's insurance vault.
        #[arg(long)]
        insurance_owner: String,
        /// Owner of each distribution bucket (give once for all five, or five times).
        #[arg(long, num_args = 1..=5)]
        distribution_owner: Vec<String>,
        /// Create the mint under Token-2022 instead of classic SPL Token.
        #[arg(long)]
        token_2022: bool,
        /// Where to write the resulting addresses (JSON).
        #[arg(long, default_value = "deployment.json")]
        out: PathBuf,
    },
    /// Publish the committed IDLs on chain (Program Metadata canonical accounts).
    Idl {
        /// Fee payer keypair (Solana CLI JSON); pays the accounts' rent.
        #[arg(long)]
        payer: PathBuf,
        /// The programs' upgrade authority keypair (defaults to the payer).
        #[arg(long)]
        authority: Option<PathBuf>,
    },
    /// Read back every config and compare with the expected roles, mint and defaults.
    Verify {
        #[command(flatten)]
        roles: RoleArgs,
        #[arg(long)]
        mint: String,
    },
}

fn key(s: &str, what: &str) -> anyhow::Result<Pubkey> {
    Pubkey::from_str(s).with_context(|| format!("--{what}: not a base58 address: {s}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Init {
            roles,
            payer,
            deployer,
            treasury_owner,
            insurance_owner,
            distribution_owner,
            token_2022,
            out,
        } => {
            let payer = keys::read_keypair(&payer)?;
            let deployer = keys::read_keypair(&deployer)?;
            if deployer.pubkey() != cyxwiz_chain::ids::DEPLOYER {
                bail!(
                    "deployer {} is not the key this build's programs accept ({}); build with the right cluster feature",
                    deployer.pubkey(),
                    cyxwiz_chain::ids::DEPLOYER
                );
            }
            let owners: Vec<Pubkey> = distribution_owner
                .iter()
                .map(|o| key(o, "distribution-owner"))
                .collect::<Result<_, _>>()?;
            let distribution_owners: [Pubkey; 5] = match owners.len() {
                1 => [owners[0]; 5],
                5 => [owners[0], owners[1], owners[2], owners[3], owners[4]],
                n => bail!("--distribution-owner: give 1 or 5 owners, not {n}"),
            };
            let roles = Roles {
                admin: key(&roles.admin, "admin")?,
                coordinator: key(&roles.coordinator, "coordinator")?,
                reputation_updater: key(&roles.updater, "updater")?,
                distribution_owners,
                treasury_owner: key(&treasury_owner, "treasury-owner")?,
                insurance_owner: key(&insurance_owner, "insurance-owner")?,
            };
            let token_program = Pubkey::from_str(if token_2022 {
                TOKEN_2022_PROGRAM
            } else {
                TOKEN_PROGRAM
            })?;
            let client = ChainClient::new(&cli.url, payer, CommitmentConfig::confirmed())?;
            client.check().await?;
            // The mint authority only lives for this run: it mints the fixed supply
            // and is revoked in the plan's last token step.
            let mint_authority = Keypair::new();
            let params = Params::default();
            let network = rpc::deploy_network(
                &client,
                &deployer,
                &mint_authority,
                &token_program,
                roles.clone(),
                params.clone(),
            )
            .await?;
            let report = rpc::verify(
                &client,
                &rpc::Expected {
                    admin: roles.admin,
                    coordinator: roles.coordinator,
                    reputation_updater: roles.reputation_updater,
                    mint: network.token.mint,
                    params,
                },
            )
            .await?;
            print!("{report}");
            let json = serde_json::json!({
                "rpc_url": cli.url,
                "mint": network.token.mint.to_string(),
                "token_program": token_program.to_string(),
                "treasury": {
                    "staking": network.addresses.treasury.staking.to_string(),
                    "development": network.addresses.treasury.development.to_string(),
                    "liquidity": network.addresses.treasury.liquidity.to_string(),
                },
                "insurance_vault": network.addresses.insurance_vault.to_string(),
                "distribution": network.token.distribution.iter().map(|(name, owner, account, amount)| {
                    serde_json::json!({"bucket": name, "owner": owner.to_string(), "account": account.to_string(), "amount": amount})
                }).collect::<Vec<_>>(),
            });
            std::fs::write(&out, serde_json::to_string_pretty(&json)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("deployment written to {}", out.display());
        }
        Command::Idl { payer, authority } => {
            let authority = match &authority {
                Some(path) => keys::read_keypair(path)?,
                None => keys::read_keypair(&payer)?,
            };
            let payer = keys::read_keypair(&payer)?;
            let client = ChainClient::new(&cli.url, payer, CommitmentConfig::confirmed())?;
            client.check().await?;
            for (name, outcome) in rpc::publish_idls(&client, &authority).await? {
                match outcome {
                    rpc::IdlPublished::Created(at) => println!("{name}: IDL published at {at}"),
                    rpc::IdlPublished::UpToDate(at) => println!("{name}: IDL at {at} is current"),
                }
            }
        }
        Command::Verify { roles, mint } => {
            // Verification only reads; any key can be the (unused) payer.
            let client = ChainClient::new(&cli.url, Keypair::new(), CommitmentConfig::confirmed())?;
            let report = rpc::verify(
                &client,
                &rpc::Expected {
                    admin: key(&roles.admin, "admin")?,
                    coordinator: key(&roles.coordinator, "coordinator")?,
                    reputation_updater: key(&roles.updater, "updater")?,
                    mint: key(&mint, "mint")?,
                    params: Params::default(),
                },
            )
            .await?;
            print!("{report}");
        }
    }
    Ok(())
}
