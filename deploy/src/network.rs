//! The whole initial deployment of a CyxWiz network as one ordered plan: the CYXWIZ
//! token and its distribution, the fee treasuries and insurance vault, and the four
//! program configs. The localnet, the deploy CLI against devnet/mainnet and the tests
//! all run this same plan; only the transport differs.

use anchor_lang::prelude::Pubkey;
use cyxwiz_chain::{Addresses, Treasury, ix};
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::{DeployError, Deployment, Step, token};

/// Who controls what. In production `admin` is a multisig (e.g. a Squads vault), the
/// `coordinator` and `reputation_updater` are the coordinator service's hot keys, and
/// the distribution/treasury/insurance owners are multisigs too.
#[derive(Debug, Clone)]
pub struct Roles {
    /// Admin of all four programs (emergency pause, config until governance takes over).
    pub admin: Pubkey,
    /// JobEscrow's coordinator key (assigns nodes).
    pub coordinator: Pubkey,
    /// ReputationManager's batch updater key.
    pub reputation_updater: Pubkey,
    /// Owners of the five distribution buckets, in the order of
    /// [`token::DISTRIBUTION`].
    pub distribution_owners: [Pubkey; 5],
    /// Owner of the three fee treasury token accounts.
    pub treasury_owner: Pubkey,
    /// Owner of NodeRegistry's insurance vault token account.
    pub insurance_owner: Pubkey,
}

/// Program parameters to initialise with (the spec's defaults unless overridden).
#[derive(Debug, Clone)]
pub struct Params {
    pub registry: node_registry::RegistryParams,
    pub escrow: job_escrow::EscrowParams,
    pub reputation: reputation_manager::ReputationParams,
    pub dao: dispute_dao::DaoParams,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            registry: node_registry::constants::default_params(),
            escrow: job_escrow::constants::default_params(),
            reputation: reputation_manager::constants::default_params(),
            dao: dispute_dao::constants::default_params(),
        }
    }
}

/// What a completed network plan produced.
#[derive(Debug, Clone)]
pub struct Network {
    pub token: Deployment,
    pub addresses: Addresses,
    pub roles: Roles,
}

/// Builds the full deployment plan. `payer` pays rent and fees, `deployer` is the key
/// whose address is compiled into the programs as the only one allowed to initialise
/// them, `mint_authority` mints the supply once and is then revoked.
pub fn plan(
    payer: &Pubkey,
    deployer: &Keypair,
    mint_authority: &Keypair,
    token_program: &Pubkey,
    rent: token::Rent,
    roles: Roles,
    params: Params,
) -> Result<(Vec<Step>, Network), DeployError> {
    let (mut steps, deployment) = token::plan(
        payer,
        mint_authority,
        &roles.distribution_owners,
        token_program,
        rent,
    )?;
    let mint = deployment.mint;

    let new_token_account = |owner: &Pubkey| -> Result<(Keypair, Vec<_>), DeployError> {
        let account = Keypair::new();
        let ixs = cyxwiz_chain::token::create_token_account(
            payer,
            &account.pubkey(),
            &mint,
            token_program,
            owner,
            rent.token_account,
        )?;
        Ok((account, ixs))
    };
    let (staking, mut ixs) = new_token_account(&roles.treasury_owner)?;
    let (development, more) = new_token_account(&roles.treasury_owner)?;
    ixs.extend(more);
    let (liquidity, more) = new_token_account(&roles.treasury_owner)?;
    ixs.extend(more);
    let (insurance, more) = new_token_account(&roles.insurance_owner)?;
    ixs.extend(more);
    let addresses = Addresses {
        mint,
        token_program: *token_program,
        treasury: Treasury {
            staking: staking.pubkey(),
            development: development.pubkey(),
            liquidity: liquidity.pubkey(),
        },
        insurance_vault: insurance.pubkey(),
    };
    steps.push(Step {
        label: "create fee treasuries and insurance vault",
        instructions: ixs,
        signers: vec![staking, development, liquidity, insurance],
    });

    let d = deployer.pubkey();
    steps.push(Step {
        label: "initialise NodeRegistry and JobEscrow",
        instructions: vec![
            ix::registry::initialize(&d, &roles.admin, &addresses, params.registry),
            ix::escrow::initialize(
                &d,
                &roles.admin,
                &roles.coordinator,
                &addresses,
                params.escrow,
            ),
        ],
        signers: vec![deployer.insecure_clone()],
    });
    steps.push(Step {
        label: "initialise ReputationManager and Dispute/DAO",
        instructions: vec![
            ix::reputation::initialize(
                &d,
                &roles.admin,
                &roles.reputation_updater,
                params.reputation,
            ),
            ix::dao::initialize(&d, &roles.admin, &addresses, params.dao),
        ],
        signers: vec![deployer.insecure_clone()],
    });

    Ok((
        steps,
        Network {
            token: deployment,
            addresses,
            roles,
        },
    ))
}
