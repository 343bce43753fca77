//! Basis-point arithmetic (1 bps = 0.01 %) without floating point and without overflow.

/// 100 % in basis points.
pub const MAX_BPS: u16 = 10_000;

/// `amount * bps / 10_000`, rounded down, computed in `u128` so it cannot overflow for
/// any `u64` amount and any `bps <= 10_000`. Returns `None` if `bps > 10_000`.
pub fn share(amount: u64, bps: u16) -> Option<u64> {
    if bps > MAX_BPS {
        return None;
    }
    let v = (amount as u128) * (bps as u128) / (MAX_BPS as u128);
    u64::try_from(v).ok()
}

/// `amount * num / den`, rounded down, in `u128`; `None` if `den == 0` or `num > den`.
pub fn ratio(amount: u64, num: u64, den: u64) -> Option<u64> {
    if den == 0 || num > den {
        return None;
    }
    u64::try_from((amount as u128) * (num as u128) / (den as u128)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_rounds_down_and_never_overflows() {
        assert_eq!(share(100, 1_000), Some(10));
        assert_eq!(share(99, 1_000), Some(9));
        assert_eq!(share(u64::MAX, MAX_BPS), Some(u64::MAX));
        assert_eq!(share(u64::MAX, 5_000), Some(u64::MAX / 2));
        assert_eq!(share(1, 10_001), None);
    }

    #[test]
    fn ratio_rejects_bad_denominators() {
        assert_eq!(ratio(100, 1, 2), Some(50));
        assert_eq!(ratio(100, 0, 10), Some(0));
        assert_eq!(ratio(u64::MAX, 3, 3), Some(u64::MAX));
        assert_eq!(ratio(1, 1, 0), None);
        assert_eq!(ratio(1, 3, 2), None);
    }
}
