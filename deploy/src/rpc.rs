//! Running a deployment plan over RPC, and verifying a deployment by reading it back.
//! The localnet and the `cyxwiz-deploy` CLI both use these.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::program_pack::Pack;
use cyxwiz_chain::{
    ChainError,
    client::ChainClient,
    ids, pda,
    state::{DaoConfig, EscrowConfig, RegistryConfig, ReputationConfig},
};
use solana_keypair::Keypair;
use solana_signer::Signer;
use spl_token_2022_interface::state::{Account as TokenAccountState, Mint as MintState};

use crate::{
    Step,
    network::{self, Network, Params, Roles},
    token,
};

/// Errors running or verifying a deployment.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Plan(#[from] crate::DeployError),
    #[error("step '{label}': {source}")]
    Step {
        label: &'static str,
        #[source]
        source: Box<ChainError>,
    },
    #[error(transparent)]
    Chain(Box<ChainError>),
    #[error("already deployed: {0} exists (use `verify`)")]
    AlreadyDeployed(&'static str),
    #[error("program {name} is not deployed at {id} (or is not executable)")]
    ProgramMissing { name: &'static str, id: Pubkey },
    #[error("deployment check failed:\n{0}")]
    Mismatch(String),
    #[error("program {name} at {id} is not an upgradeable program (owner {owner})")]
    NotUpgradeable {
        name: &'static str,
        id: Pubkey,
        owner: Pubkey,
    },
    #[error("{signer} is not the upgrade authority of {name} ({authority})")]
    NotUpgradeAuthority {
        name: &'static str,
        signer: Pubkey,
        authority: String,
    },
    #[error(
        "the IDL of {name} at {address} differs from deploy/idl/{name}.json; update it with \
         `npx @solana-program/program-metadata write idl {id} deploy/idl/{name}.json` \
         (or `anchor idl upgrade`)"
    )]
    IdlOutdated {
        name: &'static str,
        id: Pubkey,
        address: Pubkey,
    },
    #[error("the IDL account of {name} at {address} is unreadable: {source}")]
    IdlUnreadable {
        name: &'static str,
        address: Pubkey,
        #[source]
        source: crate::idl::IdlError,
    },
}

impl From<ChainError> for RunError {
    fn from(e: ChainError) -> Self {
        RunError::Chain(Box::new(e))
    }
}

/// Sends every step in order, waiting for each to land.
pub async fn execute(client: &ChainClient, steps: &[Step]) -> Result<Vec<String>, RunError> {
    let mut signatures = Vec::with_capacity(steps.len());
    for step in steps {
        let signers: Vec<&Keypair> = step.signers.iter().collect();
        let sent = client
            .send(&step.instructions, &signers)
            .await
            .map_err(|source| RunError::Step {
                label: step.label,
                source: Box::new(source),
            })?;
        signatures.push(sent.signature.to_string());
    }
    Ok(signatures)
}

/// Deploys a whole network through `client` (whose payer pays): checks the programs are
/// deployed and not yet initialised, builds the plan with the cluster's rent, runs it.
pub async fn deploy_network(
    client: &ChainClient,
    deployer: &Keypair,
    mint_authority: &Keypair,
    token_program: &Pubkey,
    roles: Roles,
    params: Params,
) -> Result<Network, RunError> {
    for (name, id) in programs() {
        match client.raw_account(&id).await? {
            Some(acc) if acc.executable => {}
            _ => return Err(RunError::ProgramMissing { name, id }),
        }
    }
    if client.raw_account(&pda::escrow_config()).await?.is_some() {
        return Err(RunError::AlreadyDeployed("the JobEscrow config"));
    }
    let rent = token::Rent {
        mint: client.rent_exempt(MintState::LEN).await?,
        token_account: client.rent_exempt(TokenAccountState::LEN).await?,
    };
    let payer = client.payer().pubkey();
    let (steps, network) = network::plan(
        &payer,
        deployer,
        mint_authority,
        token_program,
        rent,
        roles,
        params,
    )?;
    execute(client, &steps).await?;
    Ok(network)
}

/// What [`publish_idls`] did for one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdlPublished {
    /// The IDL was written to this metadata account.
    Created(Pubkey),
    /// The metadata account already holds exactly this IDL.
    UpToDate(Pubkey),
}

/// Publishes each committed IDL (`deploy/idl/`) in its program's canonical Program
/// Metadata account, where `anchor idl init` puts it and `Program.fetchIdl` finds it.
/// `authority` must be the programs' upgrade authority (so run this before handing the
/// upgrade authority to a multisig); the client's payer pays the rent. An account that
/// already holds the same IDL is left alone; a different one is an error naming the
/// update command (updates go through a buffer and `SetData`, which this tool does not
/// do).
pub async fn publish_idls(
    client: &ChainClient,
    authority: &Keypair,
) -> Result<Vec<(&'static str, IdlPublished)>, RunError> {
    use crate::idl;
    match client.raw_account(&idl::PROGRAM_METADATA_ID).await? {
        Some(acc) if acc.executable => {}
        _ => {
            return Err(RunError::ProgramMissing {
                name: "program-metadata",
                id: idl::PROGRAM_METADATA_ID,
            });
        }
    }
    let mut done = Vec::new();
    for (name, id, json) in idl::committed() {
        let program = client
            .raw_account(&id)
            .await?
            .filter(|a| a.executable)
            .ok_or(RunError::ProgramMissing { name, id })?;
        if program.owner != idl::BPF_LOADER_UPGRADEABLE_ID {
            return Err(RunError::NotUpgradeable {
                name,
                id,
                owner: program.owner,
            });
        }
        let program_data = client
            .raw_account(&idl::program_data_address(&id))
            .await?
            .ok_or(RunError::ProgramMissing { name, id })?;
        // ProgramData: u32 tag, u64 slot, Option<Pubkey> upgrade authority.
        let upgrade_authority = match program_data.data.get(12..45) {
            Some([1, key @ ..]) => Some(Pubkey::try_from(key).expect("32 bytes")),
            _ => None,
        };
        if upgrade_authority != Some(authority.pubkey()) {
            return Err(RunError::NotUpgradeAuthority {
                name,
                signer: authority.pubkey(),
                authority: upgrade_authority
                    .map_or_else(|| "none: immutable".to_string(), |k| k.to_string()),
            });
        }

        let address = idl::metadata_address(&id);
        if let Some(existing) = client.raw_account(&address).await?
            && !existing.data.is_empty()
        {
            let on_chain = idl::decode_metadata_account(&existing.data).map_err(|source| {
                RunError::IdlUnreadable {
                    name,
                    address,
                    source,
                }
            })?;
            if on_chain == json {
                done.push((name, IdlPublished::UpToDate(address)));
                continue;
            }
            return Err(RunError::IdlOutdated { name, id, address });
        }

        let compressed = idl::compress(json);
        let rent = client
            .rent_exempt(idl::METADATA_HEADER_LEN + compressed.len())
            .await?;
        let steps = idl::publish_plan(&client.payer().pubkey(), authority, &id, &compressed, rent);
        execute(client, &steps).await?;
        done.push((name, IdlPublished::Created(address)));
    }
    Ok(done)
}

/// The four programs and their ids on the cluster this build targets.
pub fn programs() -> [(&'static str, Pubkey); 4] {
    [
        ("node_registry", ids::NODE_REGISTRY),
        ("job_escrow", ids::JOB_ESCROW),
        ("reputation_manager", ids::REPUTATION),
        ("dispute_dao", ids::DISPUTE_DAO),
    ]
}

/// What a deployment should look like, for [`verify`].
#[derive(Debug, Clone)]
pub struct Expected {
    pub admin: Pubkey,
    pub coordinator: Pubkey,
    pub reputation_updater: Pubkey,
    pub mint: Pubkey,
    pub params: Params,
}

/// The check list [`verify`] prints: one line per check, and the failed ones kept apart.
#[derive(Default)]
struct Report {
    lines: String,
    bad: Vec<String>,
}

impl Report {
    fn check(&mut self, what: &str, ok: bool, detail: String) {
        let mark = if ok { "ok " } else { "BAD" };
        self.lines.push_str(&format!("{mark} {what}: {detail}\n"));
        if !ok {
            self.bad.push(format!("{what}: {detail}"));
        }
    }

    /// An address that must equal the expected one.
    fn key(&mut self, what: &str, found: &Pubkey, expected: &Pubkey) {
        let detail = if found == expected {
            found.to_string()
        } else {
            format!("found {found}, expected {expected}")
        };
        self.check(what, found == expected, detail);
    }

    /// Parameters that must equal the expected ones (printed as found).
    fn params<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, found: &T, expected: &T) {
        self.check(what, found == expected, format!("{found:?}"));
    }
}

/// Reads back every config and the mint and compares them with `expected`; returns a
/// human report of what was checked. Any difference is an error listing all of them.
pub async fn verify(client: &ChainClient, expected: &Expected) -> Result<String, RunError> {
    // Fails with a clear connection error before any account read.
    client.check().await?;
    let mut r = Report::default();

    for (name, id) in programs() {
        let deployed = client.raw_account(&id).await?.is_some_and(|a| a.executable);
        r.check(name, deployed, format!("program at {id}"));
    }

    let registry: RegistryConfig = client.account(&pda::registry_config()).await?;
    r.key("NodeRegistry admin", &registry.admin, &expected.admin);
    r.key(
        "NodeRegistry stake mint",
        &registry.stake_mint,
        &expected.mint,
    );
    r.params(
        "NodeRegistry params",
        &registry.params,
        &expected.params.registry,
    );

    let escrow: EscrowConfig = client.account(&pda::escrow_config()).await?;
    r.key("JobEscrow admin", &escrow.admin, &expected.admin);
    r.key(
        "JobEscrow coordinator",
        &escrow.coordinator,
        &expected.coordinator,
    );
    r.key("JobEscrow mint", &escrow.mint, &expected.mint);
    r.params("JobEscrow params", &escrow.params, &expected.params.escrow);

    let reputation: ReputationConfig = client.account(&pda::reputation_config()).await?;
    r.key(
        "ReputationManager admin",
        &reputation.admin,
        &expected.admin,
    );
    r.key(
        "ReputationManager updater",
        &reputation.updater,
        &expected.reputation_updater,
    );
    r.params(
        "ReputationManager params",
        &reputation.params,
        &expected.params.reputation,
    );

    let dao: DaoConfig = client.account(&pda::dao_config()).await?;
    r.key("Dispute/DAO admin", &dao.admin, &expected.admin);
    r.key("Dispute/DAO mint", &dao.mint, &expected.mint);
    r.params("Dispute/DAO params", &dao.params, &expected.params.dao);

    // Fixed supply: the mint authority must be revoked.
    let mint = client
        .raw_account(&expected.mint)
        .await?
        .ok_or(ChainError::AccountNotFound(expected.mint))?;
    // COption<Pubkey> tag at offset 0 of the mint layout: 0 = None.
    let revoked = mint.data.get(..4) == Some(&[0, 0, 0, 0]);
    r.check(
        "CYXWIZ mint authority revoked",
        revoked,
        format!("mint {}", expected.mint),
    );

    if r.bad.is_empty() {
        Ok(r.lines)
    } else {
        Err(RunError::Mismatch(r.bad.join("\n")))
    }
}
