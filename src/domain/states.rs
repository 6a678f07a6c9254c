//! Order state machines. States only move forward; a late or repeated status is recorded, not applied.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Deposit,
    Withdrawal,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Deposit => "deposit",
            OrderKind::Withdrawal => "withdrawal",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepositState {
    Detected,
    Confirmed,
    Failed,
}

impl DepositState {
    pub fn as_str(self) -> &'static str {
        match self {
            DepositState::Detected => "detected",
            DepositState::Confirmed => "confirmed",
            DepositState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DepositState> {
        Some(match text {
            "detected" => DepositState::Detected,
            "confirmed" => DepositState::Confirmed,
            "failed" => DepositState::Failed,
            _ => return None,
        })
    }

    fn rank(self) -> u8 {
        match self {
            DepositState::Detected => 0,
            DepositState::Confirmed | DepositState::Failed => 1,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 1
    }

    /// Whether `self → next` moves forward.
    pub fn can_move_to(self, next: DepositState) -> bool {
        next.rank() > self.rank()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalState {
    /// Stored, not yet sent to the provider.
    Accepted,
    /// Sending it had an unknown outcome (timeout, 5xx); resolved by status queries or callbacks.
    Unknown,
    Submitted,
    Approved,
    Broadcast,
    Completed,
    Rejected,
    Failed,
}

impl WithdrawalState {
    pub const ALL: [WithdrawalState; 8] = [
        WithdrawalState::Accepted,
        WithdrawalState::Unknown,
        WithdrawalState::Submitted,
        WithdrawalState::Approved,
        WithdrawalState::Broadcast,
        WithdrawalState::Completed,
        WithdrawalState::Rejected,
        WithdrawalState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalState::Accepted => "accepted",
            WithdrawalState::Unknown => "unknown",
            WithdrawalState::Submitted => "submitted",
            WithdrawalState::Approved => "approved",
            WithdrawalState::Broadcast => "broadcast",
            WithdrawalState::Completed => "completed",
            WithdrawalState::Rejected => "rejected",
            WithdrawalState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<WithdrawalState> {
        WithdrawalState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    fn rank(self) -> u8 {
        match self {
            WithdrawalState::Accepted => 0,
            WithdrawalState::Unknown => 1,
            WithdrawalState::Submitted => 2,
            WithdrawalState::Approved => 3,
            WithdrawalState::Broadcast => 4,
            WithdrawalState::Completed | WithdrawalState::Rejected | WithdrawalState::Failed => 5,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 5
    }

    /// Whether `self → next` moves forward. Terminal states never move.
    pub fn can_move_to(self, next: WithdrawalState) -> bool {
        next.rank() > self.rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdrawal_states_only_move_forward() {
        use WithdrawalState::*;
        assert!(Accepted.can_move_to(Submitted));
        assert!(Unknown.can_move_to(Submitted));
        assert!(Submitted.can_move_to(Approved));
        assert!(Approved.can_move_to(Completed));
        assert!(Submitted.can_move_to(Rejected));
        assert!(!Completed.can_move_to(Approved));
        assert!(!Completed.can_move_to(Failed));
        assert!(!Rejected.can_move_to(Completed));
        assert!(!Approved.can_move_to(Submitted));
        assert!(!Submitted.can_move_to(Submitted));
        for state in WithdrawalState::ALL {
            assert_eq!(WithdrawalState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn deposit_states_only_move_forward() {
        use DepositState::*;
        assert!(Detected.can_move_to(Confirmed));
        assert!(Detected.can_move_to(Failed));
        assert!(!Confirmed.can_move_to(Detected));
        assert!(!Confirmed.can_move_to(Failed));
    }
}
