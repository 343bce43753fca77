//! Token units. CYXWIZ has 9 decimals, so one token is `10^9` base units.

/// Decimals of the CYXWIZ mint.
pub const DECIMALS: u8 = 9;
/// Base units in one CYXWIZ.
pub const ONE_CYXWIZ: u64 = 1_000_000_000;
/// Fixed total supply: 1,000,000,000 CYXWIZ.
pub const TOTAL_SUPPLY: u64 = 1_000_000_000 * ONE_CYXWIZ;

/// Seconds in a day, for windows expressed in days by the spec.
pub const DAY: i64 = 86_400;
