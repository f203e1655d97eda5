//! Rate limits per caller (token subject or API key) and per tenant, and of failed
//! authentications per client address and per presented identity; over any, 429 with
//! Retry-After.
//!
//! Credentials are always checked first: the failure limits only decide how a refusal is
//! answered (429 instead of 401, and not audited one by one), so a flood of bad tokens through a
//! load balancer never locks out the valid callers behind the same address.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock,
};

use crate::{auth::Principal, client::TrustedProxies, problem::Problem};

/// Requests per second and burst of each limit.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Per caller: sustained requests per second.
    pub per_caller: u32,
    /// Per tenant, all its callers together: sustained requests per second.
    pub per_tenant: u32,
    /// Per client address: failed authentications per second before refusals become 429s.
    pub failures_per_address: u32,
    /// Per presented key id or token subject: failed authentications per second likewise.
    pub failures_per_identity: u32,
}

impl Default for RateLimits {
    /// 100 requests/s per caller, 1,000 per tenant, 5 failed authentications/s per address and
    /// per identity, each with a burst of twice that.
    fn default() -> Self {
        RateLimits {
            per_caller: 100,
            per_tenant: 1_000,
            failures_per_address: 5,
            failures_per_identity: 5,
        }
    }
}

/// The limiters; a timer forgets idle keys (see [`Limiter::spawn_pruning`]).
pub struct Limiter {
    callers: DefaultKeyedRateLimiter<String>,
    tenants: DefaultKeyedRateLimiter<String>,
    failures: DefaultKeyedRateLimiter<String>,
    identities: DefaultKeyedRateLimiter<String>,
    /// Addresses (`a:…`) and identities (`i:…`) over their failure budget, and until when.
    blocked: Mutex<HashMap<String, Instant>>,
    /// Which peers may name the client in `X-Forwarded-For`.
    proxies: TrustedProxies,
    /// At most one readiness query a second; the others get the last answer.
    readiness: DefaultDirectRateLimiter,
    ready: Mutex<Option<bool>>,
}

impl From<RateLimits> for Limiter {
    fn from(limits: RateLimits) -> Self {
        Limiter::new(limits)
    }
}

fn quota(per_second: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_second.max(1).saturating_mul(2)).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limiter {
    /// Limiters with `limits`, trusting no proxy.
    pub fn new(limits: RateLimits) -> Self {
        Limiter {
            callers: RateLimiter::keyed(quota(limits.per_caller)),
            tenants: RateLimiter::keyed(quota(limits.per_tenant)),
            failures: RateLimiter::keyed(quota(limits.failures_per_address)),
            identities: RateLimiter::keyed(quota(limits.failures_per_identity)),
            blocked: Mutex::new(HashMap::new()),
            proxies: TrustedProxies::default(),
            readiness: RateLimiter::direct(Quota::per_second(NonZeroU32::MIN)),
            ready: Mutex::new(None),
        }
    }

    /// The same, taking the client address from `X-Forwarded-For` when the peer is one of
    /// `proxies`.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Which proxies are trusted.
    pub fn proxies(&self) -> &TrustedProxies {
        &self.proxies
    }

    /// Admits one request of `p`, or says when to retry.
    pub fn check(&self, p: &Principal) -> Result<(), Problem> {
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

    /// Counts a failed authentication from `address` presenting `identity`; when either is over
    /// its budget, the seconds until it may fail again unthrottled (the refusal is then a 429,
    /// and not audited one by one).
    pub fn failed(&self, address: &str, identity: Option<&str>) -> Option<u64> {
        let mut over = self.count(&self.failures, format!("a:{address}"));
        if let Some(id) = identity {
            over = over.max(self.count(&self.identities, format!("i:{id}")));
        }
        over.map(|wait| wait.as_secs() + 1)
    }

    /// Counts one failure of `key` in `limiter`; over budget, how long the key stays blocked.
    fn count(&self, limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Option<Duration> {
        let now = limiter.clock().now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = match limiter.check_key(&key) {
            Ok(()) => blocked.get(&key).copied().filter(|u| *u > Instant::now()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(now).max(Duration::from_secs(1));
                let until = Instant::now() + wait;
                blocked.insert(key, until);
                Some(until)
            }
        };
        until.map(|u| u.saturating_duration_since(Instant::now()))
    }

    /// Forgets keys whose budgets are full again and blocks that ended, so a spray of failures
    /// from ever new addresses or identities cannot grow memory without bound.
    pub fn prune(&self) {
        self.callers.retain_recent();
        self.tenants.retain_recent();
        self.failures.retain_recent();
        self.identities.retain_recent();
        self.callers.shrink_to_fit();
        self.tenants.shrink_to_fit();
        self.failures.shrink_to_fit();
        self.identities.shrink_to_fit();
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        blocked.retain(|_, until| *until > now);
        blocked.shrink_to_fit();
    }

    /// Keys held now (callers, tenants, failing addresses and identities, blocks): what
    /// [`Limiter::prune`] bounds.
    pub fn keys(&self) -> usize {
        self.callers.len()
            + self.tenants.len()
            + self.failures.len()
            + self.identities.len()
            + self.blocked.lock().map_or(0, |b| b.len())
    }

    /// Prunes `limiter` every `every` until it is dropped.
    pub fn spawn_pruning(limiter: &Arc<Limiter>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Limiter> = Arc::downgrade(limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(l) => l.prune(),
                    None => break,
                }
            }
        })
    }

    /// Whether a readiness probe may query the database now (at most once a second); if not,
    /// the last answer stands.
    pub fn readiness_due(&self) -> Option<bool> {
        let last = *self.ready.lock().unwrap_or_else(|p| p.into_inner());
        match (self.readiness.check(), last) {
            (Err(_), Some(ready)) => Some(ready),
            _ => None,
        }
    }

    /// Remembers the answer of a readiness query.
    pub fn record_readiness(&self, ready: bool) {
        *self.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some(ready);
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
    fn failures_over_budget_are_throttled_per_address_and_per_identity() {
        let l = Limiter::new(RateLimits {
            failures_per_address: 2,
            failures_per_identity: 2,
            ..Default::default()
        });
        // A burst of 4 failures passes unthrottled, the fifth is over.
        let over: Vec<bool> = (0..5)
            .map(|_| l.failed("10.0.0.1", None).is_some())
            .collect();
        assert_eq!(over, [false, false, false, false, true]);
        assert!(l.failed("10.0.0.2", None).is_none());
        // One identity guessed at from many addresses is throttled too.
        let spread: Vec<bool> = (0..5)
            .map(|n| l.failed(&format!("10.1.0.{n}"), Some("key:k1")).is_some())
            .collect();
        assert_eq!(spread, [false, false, false, false, true]);
        assert!(l.failed("10.1.0.9", Some("key:k2")).is_none());
    }

    #[test]
    fn valid_callers_are_admitted_whatever_their_address_failed() {
        let l = Limiter::new(RateLimits {
            failures_per_address: 1,
            ..Default::default()
        });
        for _ in 0..50 {
            l.failed("10.0.0.1", None);
        }
        // The failure limiter is no gate: a valid caller is only held to its own rate.
        assert!(l.check(&caller("acme", "ann")).is_ok());
    }

    #[test]
    fn pruning_forgets_a_spray_of_failures() {
        let l = Limiter::new(RateLimits {
            failures_per_address: 1_000,
            failures_per_identity: 1_000,
            ..Default::default()
        });
        for n in 0..2_000 {
            l.failed(
                &format!("10.0.{}.{}", n / 256, n % 256),
                Some(&format!("jwt::u{n}")),
            );
        }
        assert!(l.keys() >= 4_000);
        // Each budget is full again after a few milliseconds at 1,000 a second.
        std::thread::sleep(Duration::from_millis(50));
        l.prune();
        assert_eq!(l.keys(), 0);
    }

    #[tokio::test]
    async fn the_pruning_timer_runs_until_the_limiter_is_gone() {
        let l = Arc::new(Limiter::new(RateLimits {
            failures_per_address: 1_000,
            ..Default::default()
        }));
        let task = Limiter::spawn_pruning(&l, Duration::from_millis(20));
        for n in 0..100 {
            l.failed(&format!("10.0.0.{n}"), None);
        }
        let mut keys = l.keys();
        for _ in 0..100 {
            if keys == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            keys = l.keys();
        }
        assert_eq!(keys, 0);
        drop(l);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the timer stops")
            .expect("no panic");
    }

    #[test]
    fn readiness_is_queried_at_most_once_a_second() {
        let l = Limiter::new(RateLimits::default());
        assert_eq!(l.readiness_due(), None, "the first probe queries");
        l.record_readiness(true);
        assert_eq!(l.readiness_due(), Some(true));
        assert_eq!(l.readiness_due(), Some(true));
    }
}
