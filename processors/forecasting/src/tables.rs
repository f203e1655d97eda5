//! [`Zones`]: each location's IANA time zone, from the location master data, shared by every
//! partition. Demand is bucketed by the location's local day.

use chrono_tz::Tz;
use composerp_events::{Codec, DecodeError, catalog::Location};
use composerp_runtime::processor::Tables;

type ById<V> = foldhash::HashMap<String, V>;

/// Time zones of the locations, per tenant.
#[derive(Debug, Default)]
pub struct Zones {
    tenants: ById<ById<Tz>>,
}

impl Zones {
    /// The zone of a location; UTC while the location is unknown or its zone is not an IANA name
    /// (the location master data is checked where it is written, so this is the exception).
    pub fn zone(&self, tenant: &str, location: &str) -> Tz {
        self.tenants
            .get(tenant)
            .and_then(|t| t.get(location))
            .copied()
            .unwrap_or(Tz::UTC)
    }

    /// Records a location's zone.
    pub fn set(&mut self, tenant: &str, location: &str, zone: Tz) {
        self.tenants
            .entry(tenant.to_owned())
            .or_default()
            .insert(location.to_owned(), zone);
    }
}

impl Tables for Zones {
    const TOPICS: &'static [&'static str] = &["catalog.locations"];

    fn update(&mut self, _: usize, codec: &Codec, bytes: &[u8]) -> Result<(), DecodeError> {
        let l: Location = codec.decode(bytes)?;
        if let Some(zone) = crate::zone::parse(&l.timezone) {
            self.set(&l.tenant_id, &l.location_id, zone);
        }
        Ok(())
    }
}
