//! Local address format rules, used when a provider offers no address check (seed 001, "Coin address
//! verification rules", extended with the common forms of each chain).

/// Whether `address` has a plausible form for `chain`. Unknown chains only need a clean token.
pub fn looks_valid(chain: &str, address: &str) -> bool {
    let clean = !address.is_empty()
        && address.len() <= 128
        && address.bytes().all(|b| b.is_ascii_alphanumeric());
    if !clean && !address.starts_with("0x") {
        return false;
    }
    let len = address.len();
    match chain {
        "ETH" | "ETC" | "BSC" | "POLYGON" | "ARBITRUM" | "OPTIMISM" | "AVAX" => {
            len == 42
                && address.starts_with("0x")
                && address[2..].bytes().all(|b| b.is_ascii_hexdigit())
        }
        "BTC" => {
            ((address.starts_with('1') || address.starts_with('3')) && (26..=36).contains(&len))
                || (address.starts_with("bc1") && (14..=74).contains(&len))
        }
        "BCH" => address.starts_with('1') && (26..=36).contains(&len),
        "LTC" => {
            ((address.starts_with('L') || address.starts_with('M')) && (26..=36).contains(&len))
                || (address.starts_with("ltc1") && (14..=74).contains(&len))
        }
        "TRX" | "TRON" => address.starts_with('T') && len == 34,
        "XRP" => address.starts_with('r') && (25..=35).contains(&len),
        "DASH" => address.starts_with('X') && (26..=36).contains(&len),
        "DOGE" => address.starts_with('D') && (26..=36).contains(&len),
        _ => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::looks_valid;

    #[test]
    fn applies_each_chains_form() {
        assert!(looks_valid(
            "ETH",
            "0x5edc9177997bf6b4db559a5c184051858b3b3704"
        ));
        assert!(!looks_valid(
            "ETH",
            "0x5edc9177997bf6b4db559a5c184051858b3b370"
        ));
        assert!(!looks_valid(
            "ETH",
            "5edc9177997bf6b4db559a5c184051858b3b3704ab"
        ));
        assert!(looks_valid("TRX", "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF"));
        assert!(looks_valid("BTC", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"));
        assert!(!looks_valid(
            "BTC",
            "0x5edc9177997bf6b4db559a5c184051858b3b3704"
        ));
        assert!(looks_valid("XRP", "raadSxrUhG5EQVCY75CSGaVLWCeXd6yH6s"));
        assert!(!looks_valid("XRP", "raad Sxr"));
    }
}
