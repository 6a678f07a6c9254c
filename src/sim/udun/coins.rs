//! The coins the Udun simulator serves: seed 001 "Appendix one", plus TRX and the USDT tokens that
//! Udun's SDK demos show (udun.md A3).

pub struct SimCoin {
    pub main_coin_type: &'static str,
    pub coin_type: &'static str,
    pub symbol: &'static str,
    pub name: &'static str,
    pub main_symbol: &'static str,
    pub decimals: u32,
}

const fn coin(
    main_coin_type: &'static str,
    coin_type: &'static str,
    symbol: &'static str,
    name: &'static str,
    main_symbol: &'static str,
    decimals: u32,
) -> SimCoin {
    SimCoin {
        main_coin_type,
        coin_type,
        symbol,
        name,
        main_symbol,
        decimals,
    }
}

pub const COINS: &[SimCoin] = &[
    coin("0", "0", "BTC", "Bitcoin", "BTC", 8),
    coin("60", "60", "ETH", "Ethereum", "ETH", 18),
    coin("0", "31", "USDT", "Tether USD", "BTC", 8),
    coin("520", "520", "CNT", "CNT", "CNT", 18),
    coin("5", "5", "DASH", "DASH", "DASH", 8),
    coin("133", "133", "ZEC", "ZEC", "ZEC", 8),
    coin("145", "145", "BCH", "Bitcoincash", "BCH", 8),
    coin("61", "61", "ETC", "Ethereum Classic", "ETC", 18),
    coin("2", "2", "LTC", "LTC", "LTC", 8),
    coin("2301", "2301", "QTUM", "QTUM", "QTUM", 8),
    coin("502", "502", "GCC", "GalaxyChain", "GCC", 8),
    coin("144", "144", "XRP", "Ripple", "XRP", 6),
    coin("194", "194", "EOS", "EOS", "EOS", 4),
    coin("2304", "2304", "IOTE", "IOTE", "IOTE", 8),
    coin("2303", "2303", "VDS", "Vollar", "VDS", 8),
    coin("195", "195", "TRX", "Tron", "TRX", 6),
    coin(
        "60",
        "0xdac17f958d2ee523a2206206994597c13d831ec7",
        "USDT",
        "Tether USD (ERC20)",
        "ETH",
        6,
    ),
    coin(
        "195",
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "USDT",
        "Tether USD (TRC20)",
        "TRX",
        6,
    ),
];

pub fn find(main_coin_type: &str, coin_type: &str) -> Option<&'static SimCoin> {
    COINS
        .iter()
        .find(|c| c.main_coin_type == main_coin_type && c.coin_type.eq_ignore_ascii_case(coin_type))
}

pub fn main_coin(main_coin_type: &str) -> Option<&'static SimCoin> {
    find(main_coin_type, main_coin_type)
}

/// A fresh address in the main chain's usual form.
pub fn new_address(main_coin_type: &str) -> String {
    use rand::Rng;
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let mut base58 = |n: usize| -> String {
        (0..n)
            .map(|_| BASE58[rng.random_range(0..BASE58.len())] as char)
            .collect()
    };
    match main_coin_type {
        "60" | "61" => {
            let bytes: [u8; 20] = rand::random();
            format!("0x{}", hex::encode(bytes))
        }
        "195" => format!("T{}", base58(33)),
        "144" => format!("r{}", base58(33)),
        "2" => format!("L{}", base58(33)),
        "5" => format!("X{}", base58(33)),
        "2301" => format!("Q{}", base58(33)),
        _ => format!("1{}", base58(33)),
    }
}

/// The main coin whose address form `address` has (the reverse of [`new_address`]).
pub fn main_coin_type_of(address: &str) -> &'static str {
    match address.chars().next() {
        _ if address.starts_with("0x") => "60",
        Some('T') => "195",
        Some('r') => "144",
        Some('L') | Some('M') => "2",
        Some('X') => "5",
        Some('Q') => "2301",
        _ => "0",
    }
}
