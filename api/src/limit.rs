//! Rate limits per caller (token subject or API key) and per tenant; over either, 429 with
//! Retry-After.

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
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
}

impl Default for RateLimits {
    /// 100 requests/s per caller and 1,000 per tenant, each with a burst of twice that.
    fn default() -> Self {
        RateLimits {
            per_caller: 100,
            per_tenant: 1_000,
        }
    }
}

/// The limiters; keys of callers idle for a while are forgotten now and then.
pub struct Limiter {
    callers: DefaultKeyedRateLimiter<String>,
    tenants: DefaultKeyedRateLimiter<String>,
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
            checks: AtomicU64::new(0),
        }
    }

    /// Admits one request of `p`, or says when to retry.
    pub fn check(&self, p: &Principal) -> Result<(), Problem> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            self.callers.retain_recent();
            self.tenants.retain_recent();
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
            per_tenant: 1_000,
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
        });
        let admitted = (0..20)
            .filter(|n| l.check(&caller("acme", &format!("u{n}"))).is_ok())
            .count();
        assert_eq!(admitted, 6);
        assert!(l.check(&caller("globex", "u1")).is_ok());
    }
}
