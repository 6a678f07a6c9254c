//! A count per minute: how many unauthenticated callbacks an account takes as prompts to ask Pay
//! Protocol, so that forged ones cannot make us flood it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct PerMinute {
    limit: u32,
    window: Mutex<(Instant, u32)>,
}

impl PerMinute {
    pub fn new(limit: u32) -> PerMinute {
        PerMinute {
            limit,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Takes one from this minute's allowance; `false` when it is spent.
    pub fn take(&self) -> bool {
        let mut window = self.window.lock().unwrap();
        if window.0.elapsed() >= Duration::from_secs(60) {
            *window = (Instant::now(), 0);
        }
        if window.1 >= self.limit {
            return false;
        }
        window.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_and_no_more_in_a_minute() {
        let limiter = PerMinute::new(2);
        assert!(limiter.take());
        assert!(limiter.take());
        assert!(!limiter.take());
        assert!(!PerMinute::new(0).take());
    }
}
