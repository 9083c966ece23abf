//! Money: CNY held as an integer number of fen, and the allocation rules of docs/domain.md
//! ("Money rules").
//!
//! Amounts are parsed from and printed as decimals with exactly two places (`"1280.00"`). More
//! than two places, signs, exponents, spaces and values out of range are validation errors,
//! never rounded or wrapped. All arithmetic is checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The largest amount Lvyue accepts or holds in one account: 10^15 fen (ten trillion yuan).
/// Far above any real prepaid balance, and far enough below `i64::MAX` that a sum of a few
/// thousand maximal amounts still cannot overflow unnoticed (sums are checked anyway).
pub const MAX_FEN: i64 = 1_000_000_000_000_000;

/// Basis points in a whole: 10,000 bp = 100%.
pub const BP_WHOLE: u32 = 10_000;

/// Why an amount or a share was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount {input:?} is not a decimal like 1280.00")]
    Malformed { input: String },
    #[error("amount {input:?} has more than two decimal places")]
    TooPrecise { input: String },
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount is out of range (at most {max} yuan)", max = Money(MAX_FEN))]
    OutOfRange,
    #[error("basis points {0} are out of range (0..=10000)")]
    BpOutOfRange(u32),
    #[error("shares sum to {sum} basis points, not 10000")]
    SharesDoNotSumToWhole { sum: u32 },
    #[error("nothing to split among")]
    NoRecipients,
}

/// A non-negative amount of CNY in fen. Construct with [`Money::from_fen`] or by parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// An amount in fen, checked to be within `0..=MAX_FEN`.
    pub fn from_fen(fen: i64) -> Result<Money, MoneyError> {
        if (0..=MAX_FEN).contains(&fen) {
            Ok(Money(fen))
        } else {
            Err(MoneyError::OutOfRange)
        }
    }

    /// An amount in whole yuan (for fixtures and policy constants such as ¥10,000 a day).
    pub fn from_yuan(yuan: i64) -> Result<Money, MoneyError> {
        yuan.checked_mul(100)
            .ok_or(MoneyError::OutOfRange)
            .and_then(Money::from_fen)
    }

    pub fn fen(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses an amount that must be greater than zero (a payment, a release, a refund).
    pub fn parse_positive(input: &str) -> Result<Money, MoneyError> {
        let m: Money = input.parse()?;
        if m.is_zero() {
            Err(MoneyError::NotPositive)
        } else {
            Ok(m)
        }
    }

    /// Checks that the amount is greater than zero.
    pub fn positive(self) -> Result<Money, MoneyError> {
        if self.is_zero() {
            Err(MoneyError::NotPositive)
        } else {
            Ok(self)
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_add(other.0)
            .ok_or(MoneyError::OutOfRange)
            .and_then(Money::from_fen)
    }

    /// `self - other`, refusing to go below zero.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_sub(other.0)
            .ok_or(MoneyError::OutOfRange)
            .and_then(Money::from_fen)
    }

    /// `self - other`, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Money) -> Money {
        Money((self.0 - other.0).max(0))
    }

    pub fn min(self, other: Money) -> Money {
        Money(self.0.min(other.0))
    }

    /// Sum of amounts, checked.
    pub fn sum<I: IntoIterator<Item = Money>>(items: I) -> Result<Money, MoneyError> {
        items.into_iter().try_fold(Money::ZERO, Money::checked_add)
    }

    /// floor(self × bp / 10000): a release share (docs/domain.md: releases round down).
    pub fn share_floor(self, bp: Bp) -> Money {
        // i128: self ≤ 10^15 and bp ≤ 10^4, so the product fits with room to spare.
        Money((i128::from(self.0) * i128::from(bp.0) / i128::from(BP_WHOLE)) as i64)
    }

    /// ceil(self × bp / 10000): a required custody amount (docs/domain.md: custody rounds up, so
    /// the bank never under-reserves).
    pub fn share_ceil(self, bp: Bp) -> Money {
        let num = i128::from(self.0) * i128::from(bp.0);
        let whole = i128::from(BP_WHOLE);
        Money(((num + whole - 1) / whole) as i64)
    }

    /// Splits by basis-point shares summing to exactly 10,000: each stage gets
    /// floor(total × bp / 10000) and the last takes the remainder (docs/domain.md "Money rules").
    pub fn split_by_bp(self, shares: &[Bp]) -> Result<Vec<Money>, MoneyError> {
        let sum = Bp::total(shares)?;
        if sum != BP_WHOLE {
            return Err(MoneyError::SharesDoNotSumToWhole { sum });
        }
        let (last, earlier) = shares.split_last().ok_or(MoneyError::NoRecipients)?;
        let _ = last;
        let mut parts: Vec<Money> = earlier.iter().map(|bp| self.share_floor(*bp)).collect();
        let given = Money::sum(parts.iter().copied())?;
        parts.push(self.checked_sub(given)?);
        Ok(parts)
    }

    /// Even split into `n` parts; the remainder fen go one each to the first parts.
    pub fn split_even(self, n: usize) -> Result<Vec<Money>, MoneyError> {
        if n == 0 {
            return Err(MoneyError::NoRecipients);
        }
        let n_i64 = i64::try_from(n).map_err(|_| MoneyError::OutOfRange)?;
        let (base, rem) = (self.0 / n_i64, self.0 % n_i64);
        Ok((0..n_i64)
            .map(|i| Money(base + i64::from(i < rem)))
            .collect())
    }

    /// Ratio split by weights with the largest-remainder (Hamilton) method: every part gets the
    /// floor of its exact share, the leftover fen go to the largest fractional parts, ties to
    /// the lower index. Zero weights get nothing; all-zero weights are refused.
    pub fn split_by_ratio(self, weights: &[u64]) -> Result<Vec<Money>, MoneyError> {
        if weights.is_empty() {
            return Err(MoneyError::NoRecipients);
        }
        let total_weight: u128 = weights.iter().map(|w| u128::from(*w)).sum();
        if total_weight == 0 {
            return Err(MoneyError::NoRecipients);
        }
        let amount = self.0 as u128;
        let mut parts = Vec::with_capacity(weights.len());
        let mut remainders = Vec::with_capacity(weights.len());
        for (i, w) in weights.iter().enumerate() {
            let exact = amount * u128::from(*w);
            parts.push((exact / total_weight) as i64);
            remainders.push((exact % total_weight, i));
        }
        let given: i64 = parts.iter().sum();
        let mut leftover = self.0 - given;
        // Largest remainder first; ties go to the lower index.
        remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, i) in remainders {
            if leftover == 0 {
                break;
            }
            parts[i] += 1;
            leftover -= 1;
        }
        Ok(parts.into_iter().map(Money).collect())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Accepts `0`, `12`, `12.3`, `12.30`; refuses signs, exponents, spaces, leading zeros
    /// (`01.00`), a bare or trailing point, more than two places and values above [`MAX_FEN`].
    fn from_str(input: &str) -> Result<Money, MoneyError> {
        let malformed = || MoneyError::Malformed {
            input: truncate(input),
        };
        let (int_part, frac_part) = match input.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (input, None),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        if int_part.len() > 1 && int_part.starts_with('0') {
            return Err(malformed());
        }
        let frac_fen = match frac_part {
            None => 0,
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(malformed());
            }
            Some(f) if f.len() > 2 => {
                return Err(MoneyError::TooPrecise {
                    input: truncate(input),
                });
            }
            Some(f) => {
                let digits: i64 = f.parse().map_err(|_| malformed())?;
                if f.len() == 1 { digits * 10 } else { digits }
            }
        };
        // 17 digits of yuan already exceed MAX_FEN; refuse before parsing can overflow.
        if int_part.len() > 16 {
            return Err(MoneyError::OutOfRange);
        }
        let yuan: i64 = int_part.parse().map_err(|_| malformed())?;
        yuan.checked_mul(100)
            .and_then(|f| f.checked_add(frac_fen))
            .ok_or(MoneyError::OutOfRange)
            .and_then(Money::from_fen)
    }
}

/// Keeps error messages bounded when someone sends a megabyte of digits.
fn truncate(input: &str) -> String {
    input.chars().take(40).collect()
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A share in basis points, 0..=10000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Bp(u32);

impl Bp {
    /// 100%.
    pub const WHOLE: Bp = Bp(BP_WHOLE);

    pub fn new(bp: u32) -> Result<Bp, MoneyError> {
        if bp <= BP_WHOLE {
            Ok(Bp(bp))
        } else {
            Err(MoneyError::BpOutOfRange(bp))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The sum of shares (each ≤ 10,000, so a `u32` sum of any realistic list cannot overflow;
    /// checked anyway).
    pub fn total(shares: &[Bp]) -> Result<u32, MoneyError> {
        shares
            .iter()
            .try_fold(0u32, |acc, bp| acc.checked_add(bp.0))
            .ok_or(MoneyError::BpOutOfRange(u32::MAX))
    }
}

impl TryFrom<u32> for Bp {
    type Error = MoneyError;
    fn try_from(v: u32) -> Result<Bp, MoneyError> {
        Bp::new(v)
    }
}

impl From<Bp> for u32 {
    fn from(bp: Bp) -> u32 {
        bp.0
    }
}

impl fmt::Display for Bp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}%", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn bps(v: &[u32]) -> Vec<Bp> {
        v.iter().map(|b| Bp::new(*b).unwrap()).collect()
    }

    #[test]
    fn amounts_print_with_exactly_two_places() {
        assert_eq!(m("1280").to_string(), "1280.00");
        assert_eq!(m("1280.5").to_string(), "1280.50");
        assert_eq!(m("0.01").to_string(), "0.01");
        assert_eq!(m("0").to_string(), "0.00");
        assert_eq!(
            Money::from_fen(MAX_FEN).unwrap().to_string(),
            "10000000000000.00"
        );
    }

    #[test]
    fn malformed_amounts_are_refused_not_rounded() {
        for bad in [
            "", ".", "1.", ".5", "1e10", "-0.00", "-1", "+1", "NaN", " 1.00", "1.00 ", "01.00",
            "1,00", "１.00", "0x10", "1.0.0", "inf",
        ] {
            assert!(
                matches!(bad.parse::<Money>(), Err(MoneyError::Malformed { .. })),
                "{bad:?} should be malformed"
            );
        }
        assert_eq!(
            "1.001".parse::<Money>(),
            Err(MoneyError::TooPrecise {
                input: "1.001".into()
            })
        );
        assert_eq!(
            "0.000".parse::<Money>(),
            Err(MoneyError::TooPrecise {
                input: "0.000".into()
            })
        );
    }

    #[test]
    fn out_of_range_amounts_are_refused_not_wrapped() {
        assert_eq!(
            "10000000000000.01".parse::<Money>(),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(
            "99999999999999999999999.00".parse::<Money>(),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(Money::from_fen(-1), Err(MoneyError::OutOfRange));
        let max = Money::from_fen(MAX_FEN).unwrap();
        assert_eq!(
            max.checked_add(Money::from_fen(1).unwrap()),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(
            Money::ZERO.checked_sub(Money::from_fen(1).unwrap()),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn positive_amounts_refuse_zero() {
        assert_eq!(Money::parse_positive("0.00"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse_positive("0.01").unwrap().fen(), 1);
    }

    #[test]
    fn shenzhen_schedule_last_stage_takes_the_remainder() {
        let parts = m("4999.99")
            .split_by_bp(&bps(&[2500, 1500, 3000, 3000]))
            .unwrap();
        let printed: Vec<String> = parts.iter().map(Money::to_string).collect();
        assert_eq!(printed, ["1249.99", "749.99", "1499.99", "1500.02"]);
    }

    #[test]
    fn fuzhou_schedule_last_stage_takes_the_remainder() {
        let parts = m("3333.33")
            .split_by_bp(&bps(&[1000, 3000, 3000, 3000]))
            .unwrap();
        let printed: Vec<String> = parts.iter().map(Money::to_string).collect();
        assert_eq!(printed, ["333.33", "999.99", "999.99", "1000.02"]);
    }

    #[test]
    fn shares_must_sum_to_exactly_ten_thousand() {
        assert_eq!(
            m("100").split_by_bp(&bps(&[2500, 2500])),
            Err(MoneyError::SharesDoNotSumToWhole { sum: 5000 })
        );
        assert_eq!(Bp::new(10_001), Err(MoneyError::BpOutOfRange(10_001)));
    }

    #[test]
    fn even_split_spreads_the_remainder_a_fen_at_a_time() {
        let parts = m("100.00").split_even(3).unwrap();
        assert_eq!(
            parts.iter().map(Money::to_string).collect::<Vec<_>>(),
            ["33.34", "33.33", "33.33"]
        );
        assert_eq!(
            m("0.02")
                .split_even(3)
                .unwrap()
                .iter()
                .map(|p| p.fen())
                .collect::<Vec<_>>(),
            [1, 1, 0]
        );
        assert_eq!(m("1").split_even(0), Err(MoneyError::NoRecipients));
    }

    #[test]
    fn ratio_split_gives_leftover_fen_to_the_largest_remainders() {
        // 100.00 by 1:1:1 → 33.34, 33.33, 33.33 (ties go to the lower index).
        let parts = m("100.00").split_by_ratio(&[1, 1, 1]).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.fen()).collect::<Vec<_>>(),
            [3334, 3333, 3333]
        );
        // 0.05 by 3:7 → 0.015/0.035 → floors 1, 3; remainders .5/.5 → first gets the fen.
        let parts = m("0.05").split_by_ratio(&[3, 7]).unwrap();
        assert_eq!(parts.iter().map(|p| p.fen()).collect::<Vec<_>>(), [2, 3]);
        // Largest-remainder on the Shenzhen example differs from the staged rule.
        let parts = m("4999.99")
            .split_by_ratio(&[2500, 1500, 3000, 3000])
            .unwrap();
        assert_eq!(
            parts.iter().map(Money::to_string).collect::<Vec<_>>(),
            ["1250.00", "750.00", "1500.00", "1499.99"]
        );
        assert_eq!(
            m("1").split_by_ratio(&[0, 0]),
            Err(MoneyError::NoRecipients)
        );
    }

    #[test]
    fn custody_rounds_up_and_releases_round_down() {
        let balance = m("1234567.89");
        assert_eq!(
            balance.share_ceil(Bp::new(2000).unwrap()).to_string(),
            "246913.58"
        );
        assert_eq!(m("0.01").share_ceil(Bp::new(1).unwrap()).fen(), 1);
        assert_eq!(m("0.01").share_floor(Bp::new(9999).unwrap()).fen(), 0);
    }

    fn arb_money() -> impl Strategy<Value = Money> {
        (0..=MAX_FEN).prop_map(|f| Money::from_fen(f).unwrap())
    }

    fn arb_shares() -> impl Strategy<Value = Vec<Bp>> {
        // Random cut points of 0..10000 give shares that sum to exactly 10,000.
        proptest::collection::vec(0u32..=BP_WHOLE, 0..12).prop_map(|mut cuts| {
            cuts.sort_unstable();
            let mut prev = 0;
            let mut out = Vec::new();
            for c in cuts.into_iter().chain([BP_WHOLE]) {
                out.push(Bp::new(c - prev).unwrap());
                prev = c;
            }
            out
        })
    }

    proptest! {
        #[test]
        fn printing_and_parsing_round_trip(a in arb_money()) {
            prop_assert_eq!(a.to_string().parse::<Money>().unwrap(), a);
        }

        #[test]
        fn bp_split_never_creates_or_loses_a_fen(a in arb_money(), shares in arb_shares()) {
            let parts = a.split_by_bp(&shares).unwrap();
            prop_assert_eq!(parts.len(), shares.len());
            prop_assert_eq!(Money::sum(parts.iter().copied()).unwrap(), a);
            // Every stage but the last is exactly the floor of its share.
            for (p, bp) in parts.iter().zip(&shares).take(shares.len() - 1) {
                prop_assert_eq!(*p, a.share_floor(*bp));
            }
        }

        #[test]
        fn even_split_never_creates_or_loses_a_fen(a in arb_money(), n in 1usize..500) {
            let parts = a.split_even(n).unwrap();
            prop_assert_eq!(Money::sum(parts.iter().copied()).unwrap(), a);
            let max = parts.iter().max().unwrap().fen();
            let min = parts.iter().min().unwrap().fen();
            prop_assert!(max - min <= 1);
        }

        #[test]
        fn ratio_split_never_creates_or_loses_a_fen(a in arb_money(), weights in proptest::collection::vec(0u64..1_000_000, 1..50)) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let parts = a.split_by_ratio(&weights).unwrap();
            prop_assert_eq!(Money::sum(parts.iter().copied()).unwrap(), a);
            let total: u128 = weights.iter().map(|w| u128::from(*w)).sum();
            for (p, w) in parts.iter().zip(&weights) {
                // Each part is within one fen of its exact share.
                let exact_floor = (a.fen() as u128 * u128::from(*w) / total) as i64;
                prop_assert!(p.fen() == exact_floor || p.fen() == exact_floor + 1);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic_the_parser(s in "\\PC{0,40}") {
            let _ = s.parse::<Money>();
        }
    }
}
