//! WaaS (UUWallet) adapter (shared/providers/waas.md part C; seed 004).

pub mod transport;
