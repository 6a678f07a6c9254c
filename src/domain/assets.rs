//! Chain and asset identifiers as merchants name them (`ETH`/`USDT`), normalized to upper case.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ChainAsset {
    pub chain: String,
    pub asset: String,
}

impl ChainAsset {
    /// Builds a pair from user input; `None` when either part is not a plausible symbol.
    pub fn parse(chain: &str, asset: &str) -> Option<ChainAsset> {
        Some(ChainAsset {
            chain: normalize_symbol(chain)?,
            asset: normalize_symbol(asset)?,
        })
    }
}

impl fmt::Display for ChainAsset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.chain, self.asset)
    }
}

fn normalize_symbol(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    ok.then(|| text.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_refuses_junk() {
        let pair = ChainAsset::parse("eth", "usdt").unwrap();
        assert_eq!(pair.to_string(), "ETH/USDT");
        assert!(ChainAsset::parse("", "BTC").is_none());
        assert!(ChainAsset::parse("ETH", "US DT").is_none());
    }
}
