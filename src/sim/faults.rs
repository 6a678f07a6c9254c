//! The faults every simulator can inject into a provider request that may move money (a withdraw,
//! a user creation), as `POST /sim/<p>/faults` names them.

/// A fault for the next request of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum RequestFault {
    /// Answer HTTP 500 without recording anything.
    #[serde(rename = "error_500")]
    Error500,
    /// Record the request, then answer HTTP 500.
    #[serde(rename = "accept_then_500")]
    AcceptThen500,
    /// Record the request, then hold the reply for the simulator's stall time (past the client's
    /// timeout) before sending it.
    #[serde(rename = "accept_then_stall")]
    AcceptThenStall,
}
