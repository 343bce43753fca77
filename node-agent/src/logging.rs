//! The node's log filter.
//!
//! arkworks' constraint-system code opens a tracing span per gadget (target `r1cs`) and, when a
//! subscriber records them, formats the whole constraint trace into span fields; at the
//! `info` level an operator would naturally run with, that turned a 9 s proof into
//! minutes. The filter therefore always caps arkworks' targets at `warn`, whatever level
//! the operator picks for the rest.

use tracing_subscriber::EnvFilter;

/// arkworks targets that must never log below `warn` (see the module docs).
const QUIET: &str = "r1cs=warn,ark_relations=warn,ark_r1cs_std=warn,ark_groth16=warn,ark_crypto_primitives=warn,ark_snark=warn";

/// `RUST_LOG` if set, else `default`, with arkworks' spans capped at `warn`.
pub fn filter(default: &str) -> EnvFilter {
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| default.to_string());
    EnvFilter::try_new(format!("{base},{QUIET}")).unwrap_or_else(|_| EnvFilter::new(QUIET))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arkworks_is_capped_whatever_the_level() {
        let f = filter("trace").to_string();
        assert!(f.contains("ark_relations=warn"), "{f}");
        assert!(f.contains("trace"), "{f}");
    }
}
