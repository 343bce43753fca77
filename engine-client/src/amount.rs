//! CYXWIZ amounts: 9 decimals, so `1.5` tokens are `1_500_000_000` base units.

use cyxwiz_common::units::{DECIMALS, ONE_CYXWIZ};

use crate::{Error, Result};

/// `base` units as tokens, with trailing zeros trimmed: `72_960_000_000` → `"72.96"`,
/// `5_000_000_000` → `"5"`.
pub fn format_tokens(base: u64) -> String {
    let whole = base / ONE_CYXWIZ;
    let frac = base % ONE_CYXWIZ;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = DECIMALS as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// `base` units as `"<tokens> CYXWIZ"`.
pub fn display_tokens(base: u64) -> String {
    format!("{} CYXWIZ", format_tokens(base))
}

/// Parses a token amount (`"1.5"`, `"72"`, `".25"`) into base units. Refuses signs,
/// exponents, more than 9 decimals, empty input and amounts that overflow `u64`.
pub fn parse_tokens(text: &str) -> Result<u64> {
    let bad = |reason: &str| Error::Amount {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let t = text.trim();
    let t = t.strip_suffix("CYXWIZ").map(str::trim_end).unwrap_or(t);
    if t.is_empty() {
        return Err(bad("empty"));
    }
    if t.starts_with('-') {
        return Err(bad("negative amounts are not allowed"));
    }
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(bad("no digits"));
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a decimal number of tokens"));
    }
    if frac.len() > DECIMALS as usize {
        return Err(bad("more than 9 decimals (CYXWIZ has 9)"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad("too large"))?
    };
    let frac_units: u64 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = DECIMALS as usize);
        padded.parse().map_err(|_| bad("not a decimal number"))?
    };
    whole
        .checked_mul(ONE_CYXWIZ)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(|| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(format_tokens(72_960_000_000), "72.96");
        assert_eq!(format_tokens(5 * ONE_CYXWIZ), "5");
        assert_eq!(format_tokens(0), "0");
        assert_eq!(format_tokens(1), "0.000000001");
        assert_eq!(display_tokens(1_500_000_000), "1.5 CYXWIZ");
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_tokens("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_tokens("72").unwrap(), 72 * ONE_CYXWIZ);
        assert_eq!(parse_tokens(".25").unwrap(), 250_000_000);
        assert_eq!(parse_tokens("0.000000001").unwrap(), 1);
        assert_eq!(parse_tokens(" 3 CYXWIZ").unwrap(), 3 * ONE_CYXWIZ);
        for bad in [
            "",
            "-1",
            "1.0000000001",
            "abc",
            "1e9",
            "1.2.3",
            ".",
            "+1",
            "18446744073709551616",
            "18446744074",
        ] {
            assert!(
                matches!(parse_tokens(bad), Err(Error::Amount { .. })),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn round_trip() {
        for v in [0, 1, 999_999_999, ONE_CYXWIZ, 123_456_789_012, u64::MAX] {
            assert_eq!(parse_tokens(&format_tokens(v)).unwrap(), v);
        }
    }
}
