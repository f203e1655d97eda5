//! [`Config`]: what to generate.

use chrono::NaiveDate;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Number of tenants.
    pub tenants: u32,
    /// Locations per tenant; with two or more, the first is a DC supplying half the items.
    pub locations: u32,
    /// Items per tenant.
    pub items: u32,
    /// Days of history.
    pub days: u32,
    /// Random seed.
    pub seed: u64,
    /// Tenant ids are this prefix and a two-digit number.
    pub tenant_prefix: String,
    /// First day.
    pub start: NaiveDate,
}
