//! Exact money. Amounts travel as decimal strings and live as `rust_decimal::Decimal`; never floats.

use rust_decimal::Decimal;

/// The largest number of decimals an asset may have (`Decimal` holds 28).
pub const MAX_DECIMALS: u32 = 28;

/// A strictly positive amount with no more decimals than its asset allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount must be a decimal string such as \"12.5\"")]
    NotADecimal,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount has more than {max} decimals")]
    TooPrecise { max: u32 },
    #[error("amount is too large")]
    TooLarge,
}

impl Amount {
    /// Parses a merchant's decimal string: digits with an optional fraction, nothing else (no sign,
    /// exponent or spaces). Trailing zeros of the fraction do not count towards precision.
    pub fn parse(text: &str, max_decimals: u32) -> Result<Amount, AmountError> {
        let value = parse_plain_decimal(text)?;
        if value.is_zero() {
            return Err(AmountError::NotPositive);
        }
        if value.scale() > max_decimals {
            return Err(AmountError::TooPrecise { max: max_decimals });
        }
        Ok(Amount(value))
    }

    /// Wraps a decimal already known to be valid (read back from the database).
    pub fn from_decimal(value: Decimal) -> Result<Amount, AmountError> {
        if value <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        Ok(Amount(value.normalize()))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Digits, optionally one '.' followed by digits; returns the value normalized (no trailing zeros).
fn parse_plain_decimal(text: &str) -> Result<Decimal, AmountError> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(whole) || fraction.is_some_and(|f| !digits_only(f)) {
        return Err(AmountError::NotADecimal);
    }
    let fraction = fraction.unwrap_or("").trim_end_matches('0');
    if fraction.len() > MAX_DECIMALS as usize {
        return Err(AmountError::TooPrecise { max: MAX_DECIMALS });
    }
    let mantissa: i128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| AmountError::TooLarge)?;
    Decimal::try_from_i128_with_scale(mantissa, fraction.len() as u32)
        .map(|d| d.normalize())
        .map_err(|_| AmountError::TooLarge)
}

/// How a provider writes an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderUnits {
    /// Whole units as a decimal, e.g. ChainUp's `"0.75"`.
    Whole,
    /// An integer count of the smallest unit, `decimals` of which make one whole unit, e.g.
    /// Udun's `"750000"` with decimals 6.
    Smallest { decimals: u32 },
}

/// The one reader of every amount a provider reports: a plain decimal (digits, optionally a '.'
/// and digits; no sign, exponent or spaces), read exactly, with at most `max_decimals` decimals
/// once in whole units. Nothing is rounded. Zero is allowed (a fee); callers check positivity.
pub fn provider_amount(
    text: &str,
    units: ProviderUnits,
    max_decimals: u32,
) -> Result<Decimal, AmountError> {
    let value = match units {
        ProviderUnits::Whole => parse_plain_decimal(text)?,
        ProviderUnits::Smallest { decimals } => from_smallest_units(text, decimals)?,
    };
    if value.scale() > max_decimals {
        return Err(AmountError::TooPrecise { max: max_decimals });
    }
    Ok(value)
}

/// Converts an integer count of the smallest unit to whole units: `units / 10^decimals`, exactly.
fn from_smallest_units(units: &str, decimals: u32) -> Result<Decimal, AmountError> {
    if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::NotADecimal);
    }
    if decimals > MAX_DECIMALS {
        return Err(AmountError::TooPrecise { max: MAX_DECIMALS });
    }
    let mantissa: i128 = units.parse().map_err(|_| AmountError::TooLarge)?;
    Decimal::try_from_i128_with_scale(mantissa, decimals)
        .map(|d| d.normalize())
        .map_err(|_| AmountError::TooLarge)
}

/// Formats a decimal for the wire: a plain string without exponent or trailing zeros.
pub fn to_wire(value: Decimal) -> String {
    value.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn parses_plain_decimals_exactly() {
        assert_eq!(
            Amount::parse("0.12345678", 8).unwrap().to_string(),
            "0.12345678"
        );
        assert_eq!(Amount::parse("1.50", 1).unwrap().to_string(), "1.5");
        assert_eq!(Amount::parse("10", 0).unwrap().to_string(), "10");
        assert_eq!(
            Amount::parse("123456789.123456789012345678", 18)
                .unwrap()
                .to_string(),
            "123456789.123456789012345678"
        );
    }

    #[test]
    fn refuses_what_is_not_a_positive_plain_decimal() {
        for bad in [
            "", "abc", "-1", "+1", "1e5", " 1", "1.", ".5", "1.2.3", "0x10", "NaN",
        ] {
            assert_eq!(
                Amount::parse(bad, 8),
                Err(AmountError::NotADecimal),
                "{bad:?}"
            );
        }
        assert_eq!(Amount::parse("0", 8), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("0.000", 8), Err(AmountError::NotPositive));
        assert_eq!(
            Amount::parse("0.123456789", 8),
            Err(AmountError::TooPrecise { max: 8 })
        );
        assert_eq!(
            Amount::parse("99999999999999999999999999999999", 8),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn provider_amounts_are_plain_exact_and_within_the_asset_decimals() {
        let whole = |text| provider_amount(text, ProviderUnits::Whole, 18);
        assert_eq!(whole("0.75").unwrap().to_string(), "0.75");
        assert_eq!(whole("1.50").unwrap().to_string(), "1.5");
        assert_eq!(whole("0").unwrap(), Decimal::ZERO);
        assert_eq!(
            whole("0.123456789012345678").unwrap().to_string(),
            "0.123456789012345678"
        );
        for bad in [
            "1e5", "1E5", "-1", "+1", " 1", "1.", ".5", "0x10", "NaN", "1,5", "",
        ] {
            assert_eq!(whole(bad), Err(AmountError::NotADecimal), "{bad:?}");
        }
        assert_eq!(
            whole("1.0000000000000000001"),
            Err(AmountError::TooPrecise { max: 18 })
        );
        assert_eq!(
            whole("0.1234567890123456789012345678901234567890"),
            Err(AmountError::TooPrecise { max: MAX_DECIMALS })
        );
        let smallest =
            |text, decimals, max| provider_amount(text, ProviderUnits::Smallest { decimals }, max);
        assert_eq!(smallest("750000", 6, 6).unwrap().to_string(), "0.75");
        assert_eq!(
            smallest("1", 18, 6),
            Err(AmountError::TooPrecise { max: 6 })
        );
        assert_eq!(smallest("1e5", 6, 6), Err(AmountError::NotADecimal));
        assert_eq!(smallest("1.5", 6, 6), Err(AmountError::NotADecimal));
    }

    #[test]
    fn converts_smallest_units_at_full_precision() {
        assert_eq!(
            from_smallest_units("12345678", 8).unwrap().to_string(),
            "0.12345678"
        );
        assert_eq!(
            from_smallest_units("10000000", 6).unwrap().to_string(),
            "10"
        );
        assert_eq!(
            from_smallest_units("1234567890123456789012", 18).unwrap(),
            Decimal::from_str("1234.567890123456789012").unwrap()
        );
        assert_eq!(
            from_smallest_units("1", 18).unwrap().to_string(),
            "0.000000000000000001"
        );
        assert_eq!(from_smallest_units("0", 8).unwrap(), Decimal::ZERO);
        assert!(from_smallest_units("1.5", 8).is_err());
        assert!(from_smallest_units("-1", 8).is_err());
    }
}
