//! Provider-independent types: exact money, chain/asset ids, order states, storable text.

pub mod address_rules;
pub mod assets;
pub mod money;
pub mod states;
pub mod text;

pub use assets::ChainAsset;
pub use money::{Amount, AmountError};
pub use states::{DepositState, OrderKind, WithdrawalState};
