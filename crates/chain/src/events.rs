//! Program events decoded from transaction logs.
//!
//! Anchor events are `Program data: <base64>` log lines: an 8-byte discriminator and the
//! borsh-encoded event. Any program can write such a line, so the decoder follows the
//! invoke stack in the logs and only accepts an event from the program that declares it:
//! a malicious program called in the same transaction cannot forge `PaymentReleased`.

use anchor_lang::{AnchorDeserialize, Discriminator, prelude::Pubkey};
use base64::{Engine, prelude::BASE64_STANDARD};
use cyxwiz_common::ids;

macro_rules! program_events {
    ($( $program_id:path => { $( $variant:ident : $ty:path ),* $(,)? } ),* $(,)?) => {
        /// Every event of the four programs.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ProgramEvent {
            $( $( $variant($ty), )* )*
        }

        impl ProgramEvent {
            /// The event's name as the program declares it.
            pub fn name(&self) -> &'static str {
                match self {
                    $( $( ProgramEvent::$variant(_) => stringify!($variant), )* )*
                }
            }

            /// The program that emits this event.
            pub fn program(&self) -> Pubkey {
                match self {
                    $( $( ProgramEvent::$variant(_) => $program_id, )* )*
                }
            }

            /// Decodes one `Program data` payload emitted by `program`; `None` if the
            /// program does not declare an event with that discriminator, or the payload
            /// is malformed.
            pub fn decode(program: &Pubkey, data: &[u8]) -> Option<ProgramEvent> {
                if data.len() < 8 {
                    return None;
                }
                let (disc, mut body) = data.split_at(8);
                $(
                    if *program == $program_id {
                        $(
                            if disc == <$ty as Discriminator>::DISCRIMINATOR {
                                return <$ty as AnchorDeserialize>::deserialize(&mut body)
                                    .ok()
                                    .map(ProgramEvent::$variant);
                            }
                        )*
                        return None;
                    }
                )*
                None
            }
        }
    };
}

program_events! {
    ids::JOB_ESCROW => {
        EscrowConfigUpdated: job_escrow::events::EscrowConfigUpdated,
        EscrowCreated: job_escrow::events::EscrowCreated,
        NodeAssigned: job_escrow::events::NodeAssigned,
        JobAccepted: job_escrow::events::JobAccepted,
        CheckpointAnchored: job_escrow::events::CheckpointAnchored,
        PaymentReleased: job_escrow::events::PaymentReleased,
        EscrowCancelled: job_escrow::events::EscrowCancelled,
        EscrowRefunded: job_escrow::events::EscrowRefunded,
        TimeoutRefunded: job_escrow::events::TimeoutRefunded,
        EscrowFrozen: job_escrow::events::EscrowFrozen,
        EscrowClosed: job_escrow::events::EscrowClosed,
        DisputeSettled: job_escrow::events::DisputeSettled,
        NodeRatedByUser: job_escrow::events::NodeRatedByUser,
    },
    ids::NODE_REGISTRY => {
        RegistryInitialized: node_registry::events::RegistryInitialized,
        RegistryParamsUpdated: node_registry::events::RegistryParamsUpdated,
        NodeRegistered: node_registry::events::NodeRegistered,
        StakeChanged: node_registry::events::StakeChanged,
        UnstakeRequested: node_registry::events::UnstakeRequested,
        StakeWithdrawn: node_registry::events::StakeWithdrawn,
        NodeSlashed: node_registry::events::NodeSlashed,
        NodeSuspended: node_registry::events::NodeSuspended,
        NodeBanned: node_registry::events::NodeBanned,
        JobLocked: node_registry::events::JobLocked,
        JobReleased: node_registry::events::JobReleased,
        DisputeSlashed: node_registry::events::DisputeSlashed,
    },
    ids::REPUTATION => {
        ReputationInitialized: reputation_manager::events::ReputationInitialized,
        ReputationParamsUpdated: reputation_manager::events::ReputationParamsUpdated,
        NodeReputationCreated: reputation_manager::events::NodeReputationCreated,
        BatchApplied: reputation_manager::events::BatchApplied,
        TierChanged: reputation_manager::events::TierChanged,
        NodeRated: reputation_manager::events::NodeRated,
        VerdictApplied: reputation_manager::events::VerdictApplied,
    },
    ids::DISPUTE_DAO => {
        DaoInitialized: dispute_dao::events::DaoInitialized,
        DaoParamsUpdated: dispute_dao::events::DaoParamsUpdated,
        Deposited: dispute_dao::events::Deposited,
        Withdrawn: dispute_dao::events::Withdrawn,
        DisputeCreated: dispute_dao::events::DisputeCreated,
        EvidenceSubmitted: dispute_dao::events::EvidenceSubmitted,
        VoteCast: dispute_dao::events::VoteCast,
        DisputeTallied: dispute_dao::events::DisputeTallied,
        DisputeAppealed: dispute_dao::events::DisputeAppealed,
        DisputeExecuted: dispute_dao::events::DisputeExecuted,
        RewardClaimed: dispute_dao::events::RewardClaimed,
        ProposalCreated: dispute_dao::events::ProposalCreated,
        ProposalExecuted: dispute_dao::events::ProposalExecuted,
    },
}

/// Decodes every CyxWiz event in a transaction's logs, in emission order, attributing
/// each `Program data` line to the program executing at that point.
pub fn decode_logs(logs: &[String]) -> Vec<ProgramEvent> {
    let mut stack: Vec<Pubkey> = Vec::new();
    let mut events = Vec::new();
    for line in logs {
        if let Some(data) = line.strip_prefix("Program data: ") {
            let (Some(program), Ok(bytes)) = (stack.last(), BASE64_STANDARD.decode(data.trim()))
            else {
                continue;
            };
            if let Some(event) = ProgramEvent::decode(program, &bytes) {
                events.push(event);
            }
        } else if let Some(rest) = line.strip_prefix("Program ") {
            let mut words = rest.split_whitespace();
            let (Some(id), Some(verb)) = (words.next(), words.next()) else {
                continue;
            };
            match verb {
                "invoke" => {
                    if let Ok(id) = id.parse() {
                        stack.push(id);
                    }
                }
                "success" | "failed:" | "failed" => {
                    stack.pop();
                }
                _ => {}
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::Event;

    fn data_line(event: &impl Event) -> String {
        format!("Program data: {}", BASE64_STANDARD.encode(event.data()))
    }

    fn assigned() -> job_escrow::events::NodeAssigned {
        job_escrow::events::NodeAssigned {
            job_id: [7; 16],
            node: Pubkey::new_unique(),
        }
    }

    #[test]
    fn events_are_decoded_from_the_emitting_program() {
        let e = assigned();
        let logs = vec![
            format!("Program {} invoke [1]", ids::JOB_ESCROW),
            "Program log: Instruction: AssignNode".to_string(),
            data_line(&e),
            format!(
                "Program {} consumed 1 of 200000 compute units",
                ids::JOB_ESCROW
            ),
            format!("Program {} success", ids::JOB_ESCROW),
        ];
        assert_eq!(decode_logs(&logs), vec![ProgramEvent::NodeAssigned(e)]);
    }

    #[test]
    fn an_event_forged_by_another_program_is_ignored() {
        let forger = Pubkey::new_unique();
        let logs = vec![
            format!("Program {} invoke [1]", ids::JOB_ESCROW),
            format!("Program {forger} invoke [2]"),
            data_line(&assigned()),
            format!("Program {forger} success"),
            format!("Program {} success", ids::JOB_ESCROW),
        ];
        assert!(decode_logs(&logs).is_empty());
    }

    #[test]
    fn events_of_nested_cpis_are_attributed_to_the_inner_program() {
        let locked = node_registry::events::JobLocked {
            node: Pubkey::new_unique(),
            active_jobs: 1,
            locked_until: 1_800_000_000,
        };
        let e = assigned();
        let logs = vec![
            format!("Program {} invoke [1]", ids::JOB_ESCROW),
            format!("Program {} invoke [2]", ids::NODE_REGISTRY),
            data_line(&locked),
            format!("Program {} success", ids::NODE_REGISTRY),
            data_line(&e),
            format!("Program {} success", ids::JOB_ESCROW),
        ];
        let events = decode_logs(&logs);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].name(), "JobLocked");
        assert_eq!(events[0].program(), ids::NODE_REGISTRY);
        assert_eq!(events[1], ProgramEvent::NodeAssigned(e));
    }

    #[test]
    fn malformed_payloads_are_skipped() {
        let logs = vec![
            format!("Program {} invoke [1]", ids::JOB_ESCROW),
            "Program data: !!!not base64".to_string(),
            "Program data: AAAA".to_string(),
            format!("Program {} success", ids::JOB_ESCROW),
        ];
        assert!(decode_logs(&logs).is_empty());
    }
}
