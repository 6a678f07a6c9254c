//! ChainUp Custody MPC adapter (shared/providers/chainup_mpc.md, part A; seed 000).

pub mod sign;
pub mod transport;
