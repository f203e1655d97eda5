//! Rate limits per caller (token subject or API key) and per tenant, and of failed
//! authentications per client address; over any, 429 with Retry-After.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::{auth::Principal, problem::Problem};

/// Requests per second and burst of each limit.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Per caller: sustained requests per second.
    pub per_caller: u32,
    /// Per tenant, all its callers together: sustained requests per second.
    pub per_tenant: u32,
    /// Per client address: failed authentications per second before it is refused outright.
    pub failures_per_address: u32,
}

impl Default for RateLimits {
    /// 100 requests/s per caller, 1,000 per tenant and 5 failed authentications/s per address,
    /// each with a burst of twice that.
    fn default() -> Self {
        RateLimits {
            per_caller: 100,
            per_tenant: 1_000,
            failures_per_address: 5,
        }
    }
}

/// The limiters; keys of callers idle for a while are forgotten now and then.
pub struct Limiter {
    callers: DefaultKeyedRateLimiter<String>,
    tenants: DefaultKeyedRateLimiter<String>,
    failures: DefaultKeyedRateLimiter<String>,
    /// Addresses over their failure budget, and until when (seconds on the limiter clock).
    blocked: Mutex<HashMap<String, Instant>>,
    checks: AtomicU64,
}

fn quota(per_second: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_second.max(1).saturating_mul(2)).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limiter {
    /// Limiters with `limits`.
    pub fn new(limits: RateLimits) -> Self {
        Limiter {
            callers: RateLimiter::keyed(quota(limits.per_caller)),
            tenants: RateLimiter::keyed(quota(limits.per_tenant)),
            failures: RateLimiter::keyed(quota(limits.failures_per_address)),
            blocked: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
        }
    }

    /// Admits one request of `p`, or says when to retry.
    pub fn check(&self, p: &Principal) -> Result<(), Problem> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            self.callers.retain_recent();
            self.tenants.retain_recent();
            self.failures.retain_recent();
            let now = Instant::now();
            self.blocked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, until| *until > now);
        }
        // The limiter's own clock: a new one per call would calibrate itself every time.
        let now = self.callers.clock().now();
        let refused = self
            .callers
            .check_key(&format!("{}\u{0}{}", p.tenant, p.subject))
            .err()
            .or_else(|| self.tenants.check_key(&p.tenant).err());
        match refused {
            None => Ok(()),
            Some(not_until) => {
                let wait = not_until.wait_time_from(now);
                Err(Problem::too_many_requests(wait.as_secs() + 1))
            }
        }
    }
}

impl Limiter {
    /// Refuses an address that failed authentication too often, before its credentials are
    /// even looked at (guessing API keys or tokens gets nowhere).
    pub fn check_address(&self, address: &str) -> Result<(), Problem> {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(address) {
            Some(until) if *until > Instant::now() => Err(Problem::too_many_requests(
                until.saturating_duration_since(Instant::now()).as_secs() + 1,
            )),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication of `address`; over the budget, the address is refused
    /// for as long as the budget needs to refill.
    pub fn failed(&self, address: &str) {
        let now = self.failures.clock().now();
        if let Err(not_until) = self.failures.check_key(&address.to_owned()) {
            let wait = not_until.wait_time_from(now).max(Duration::from_secs(1));
            self.blocked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(address.to_owned(), Instant::now() + wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn caller(tenant: &str, subject: &str) -> Principal {
        Principal {
            tenant: tenant.into(),
            subject: subject.into(),
            role: Role::Viewer,
        }
    }

    #[test]
    fn a_caller_over_its_burst_is_told_when_to_retry_and_others_are_not() {
        let l = Limiter::new(RateLimits {
            per_caller: 5,
            ..Default::default()
        });
        let ann = caller("acme", "ann");
        let admitted = (0..20).filter(|_| l.check(&ann).is_ok()).count();
        assert_eq!(admitted, 10, "the burst is twice the rate");
        let refused = l.check(&ann).expect_err("over the limit");
        assert_eq!(refused.status, 429);
        assert!(refused.retry_after.is_some_and(|s| s >= 1));
        assert!(l.check(&caller("acme", "bob")).is_ok());
        assert!(l.check(&caller("globex", "ann")).is_ok());
    }

    #[test]
    fn a_tenant_limit_covers_all_its_callers() {
        let l = Limiter::new(RateLimits {
            per_caller: 1_000,
            per_tenant: 3,
            ..Default::default()
        });
        let admitted = (0..20)
            .filter(|n| l.check(&caller("acme", &format!("u{n}"))).is_ok())
            .count();
        assert_eq!(admitted, 6);
        assert!(l.check(&caller("globex", "u1")).is_ok());
    }

    #[test]
    fn an_address_failing_too_often_is_refused_before_its_credentials_are_checked() {
        let l = Limiter::new(RateLimits {
            failures_per_address: 2,
            ..Default::default()
        });
        for _ in 0..4 {
            assert!(l.check_address("10.0.0.1").is_ok());
            l.failed("10.0.0.1");
        }
        l.failed("10.0.0.1");
        let refused = l.check_address("10.0.0.1").expect_err("blocked");
        assert_eq!(refused.status, 429);
        assert!(l.check_address("10.0.0.2").is_ok());
    }
}
