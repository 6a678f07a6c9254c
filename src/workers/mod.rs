//! Background work: sending again withdrawals whose first submission did not settle.

pub mod resubmit;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(resubmit::run(state, stop))
}
