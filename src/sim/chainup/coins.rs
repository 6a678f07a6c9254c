//! The coins the ChainUp simulator serves, as `coin_list` describes them (A6): ChainUp's unique
//! symbols, the main chain each runs on, decimals and the confirmations ChainUp waits for.

pub struct SimCoin {
    pub symbol: &'static str,
    pub real_symbol: &'static str,
    pub base_symbol: &'static str,
    pub contract_address: &'static str,
    pub decimals: u32,
    pub deposit_confirmation: u32,
}

pub const COINS: &[SimCoin] = &[
    SimCoin {
        symbol: "ETH",
        real_symbol: "ETH",
        base_symbol: "ETH",
        contract_address: "",
        decimals: 18,
        deposit_confirmation: 12,
    },
    SimCoin {
        symbol: "USDTERC20",
        real_symbol: "USDT",
        base_symbol: "ETH",
        contract_address: "0xdac17f958d2ee523a2206206994597c13d831ec7",
        decimals: 6,
        deposit_confirmation: 12,
    },
    SimCoin {
        symbol: "BTC",
        real_symbol: "BTC",
        base_symbol: "BTC",
        contract_address: "",
        decimals: 8,
        deposit_confirmation: 2,
    },
    SimCoin {
        symbol: "TRX",
        real_symbol: "TRX",
        base_symbol: "TRX",
        contract_address: "",
        decimals: 6,
        deposit_confirmation: 20,
    },
    SimCoin {
        symbol: "USDTTRC20",
        real_symbol: "USDT",
        base_symbol: "TRX",
        contract_address: "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        decimals: 6,
        deposit_confirmation: 20,
    },
];

pub fn find(symbol: &str) -> Option<&'static SimCoin> {
    COINS.iter().find(|c| c.symbol.eq_ignore_ascii_case(symbol))
}

/// A fresh address in the main chain's usual form.
pub fn new_address(base_symbol: &str) -> String {
    use rand::Rng;
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let base58: String = (0..33)
        .map(|_| BASE58[rng.random_range(0..BASE58.len())] as char)
        .collect();
    match base_symbol {
        "ETH" => format!("0x{}", hex::encode(rand::random::<[u8; 20]>())),
        "TRX" => format!("T{base58}"),
        _ => format!("1{base58}"),
    }
}

/// The main chain whose address form `address` has (the reverse of [`new_address`]).
pub fn base_symbol_of(address: &str) -> &'static str {
    if address.starts_with("0x") {
        "ETH"
    } else if address.starts_with('T') {
        "TRX"
    } else {
        "BTC"
    }
}
