//! Merchant webhooks (DESIGN §6): Standard Webhooks signing, endpoint safety, and sending one
//! notification. Delivery scheduling lives in `workers::outbox`.

pub mod endpoint;
pub mod send;
pub mod signing;
pub mod wake;
