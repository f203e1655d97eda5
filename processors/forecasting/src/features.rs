//! [`DemandFeatures`]: at each location's local end of day, the rolling demand features of
//! every active item-location (docs/domain.md, Demand features), as `DemandFeaturesUpdated`.
//!
//! A sale for a day that has already closed still updates the history and counts in
//! `composerp_demand_late_lines_total`; the next day's features include it. A sale stamped more
//! than the allowed skew ahead of the time it was written is dead-lettered as
//! `future_timestamp` before it can move event time (see [`Settings`]).

use composerp_events::{
    EventId, Timestamp,
    forecasting::{DemandClass, DemandFeaturesUpdated},
};
use composerp_forecast_models::{
    classify::DemandClass as Class,
    daily::Daily,
    features::{Features, features},
};
use composerp_runtime::{
    processor::{Processor, Reject},
    timer::Timer,
};

use crate::{
    history::WINDOW_DAYS,
    intake::{self, Closer, Ctx, DemandInput, Place, Slot, Tracked},
    settings::Settings,
    tables::Zones,
    zone,
};

/// How long after a local day's end its sales are still counted before it closes.
pub const ALLOWED_LATENESS: i64 = 3_600_000_000;

/// Rolling demand features per item-location and local day.
#[derive(Debug, Clone)]
pub struct DemandFeatures {
    settings: Settings,
}

impl Default for DemandFeatures {
    fn default() -> Self {
        Self::new(Settings::from_env_or_exit())
    }
}

impl DemandFeatures {
    /// With these settings.
    pub fn new(settings: Settings) -> Self {
        DemandFeatures { settings }
    }
}

/// The event's demand class.
pub fn class_symbol(c: Class) -> DemandClass {
    match c {
        Class::Smooth => DemandClass::SMOOTH,
        Class::Erratic => DemandClass::ERRATIC,
        Class::Intermittent => DemandClass::INTERMITTENT,
        Class::Lumpy => DemandClass::LUMPY,
        Class::NoDemand => DemandClass::NO_DEMAND,
    }
}

/// The features of `tracked` as of `day`, and how many days of history they read.
pub fn features_as_of(tracked: &Tracked<impl Sized>, day: i32) -> (Features, usize) {
    let (first, demand, censored) = tracked.history.series(day);
    let mut f = features(&Daily::new(&demand, &censored), zone::date(first));
    // The window may have dropped the last sale; the history remembers it.
    f.days_since_last_sale = tracked
        .history
        .last_sale()
        .filter(|&s| s <= day)
        .map(|s| (day - s) as u32);
    (f, demand.len())
}

impl Closer for DemandFeatures {
    type Extra = ();

    fn closed(
        &self,
        place: &Place<'_>,
        tracked: &mut Tracked<()>,
        day: i32,
        end: Timestamp,
        ctx: Ctx<'_, '_, ()>,
    ) {
        let (f, days) = features_as_of(tracked, day);
        let censored_91 = (day - 90..=day)
            .filter(|&d| tracked.history.is_censored(d))
            .count();
        let event = DemandFeaturesUpdated {
            event_id: EventId::from_name(&format!(
                "demand-features|{}|{}|{}|{day}",
                place.tenant, place.location, place.item
            )),
            tenant_id: place.tenant.to_owned(),
            occurred_at: end,
            produced_at: ctx.now(),
            source: "composerp:demand-features".into(),
            location_id: place.location.to_owned(),
            item_id: place.item.to_owned(),
            as_of_date: composerp_events::Date(day),
            timezone: place.zone.name().to_owned(),
            demand: i64::from(tracked.history.demand_on(day)),
            censored: tracked.history.is_censored(day),
            days_7: f.days_7 as i32,
            sum_7: f.sum_7,
            mean_7: f.mean_7,
            std_7: f.std_7,
            days_28: f.days_28 as i32,
            sum_28: f.sum_28,
            mean_28: f.mean_28,
            std_28: f.std_28,
            days_91: f.days_91 as i32,
            sum_91: f.sum_91,
            mean_91: f.mean_91,
            std_91: f.std_91,
            zero_fraction_28: f.zero_fraction_28,
            ewma: f.ewma,
            days_since_last_sale: f.days_since_last_sale.map(|d| d as i32),
            dow_profile: f.dow_profile_91.to_vec(),
            adi: f.classification.adi,
            cv2: f.classification.cv2,
            demand_class: class_symbol(f.classification.class),
            censored_days_91: censored_91 as i32,
            history_days: days.min(WINDOW_DAYS) as i32,
        };
        ctx.emit(&event);
    }
}

impl Processor for DemandFeatures {
    const NAME: &'static str = "demand-features";
    type Input = DemandInput;
    type State = Slot<()>;
    type Tables = Zones;
    const ALLOWED_LATENESS_MICROS: i64 = ALLOWED_LATENESS;
    const DEDUPE_WINDOW_MICROS: i64 = crate::DEDUPE_WINDOW;

    fn max_future_skew_micros(&self) -> Option<i64> {
        Some(self.settings.max_future_skew_secs * 1_000_000)
    }

    fn process(&self, input: &DemandInput, ctx: Ctx<'_, '_, ()>) -> Result<(), Reject> {
        intake::process(self, Self::NAME, input, ctx)
    }

    fn on_timer(&self, timer: &Timer, ctx: Ctx<'_, '_, ()>) {
        intake::close_day(self, timer, ctx);
    }
}

#[cfg(test)]
mod tests {
    use composerp_events::Date;

    use super::*;
    use crate::testkit::{DAY, HOUR, at, daily, driver, sale, stock};

    fn features_driver(
        zones: &[(&str, &str)],
    ) -> composerp_runtime::driver::TestDriver<DemandFeatures> {
        driver(DemandFeatures::new(Settings::default()), zones)
    }

    fn day(s: &str) -> Date {
        Date(crate::zone::day_of(
            chrono_tz::UTC,
            at(&format!("{s}T12:00:00Z")),
        ))
    }

    #[test]
    fn a_sale_at_2330_on_the_berlin_spring_forward_sunday_is_that_sundays_demand() {
        let mut d = features_driver(&[("s1", "Europe/Berlin")]);
        // 23:30 CEST on Sunday 31 March 2024; the day (23 hours long) ends at 22:00 UTC.
        d.pipe([sale(1, "s1", at("2024-03-31T21:30:00Z"), &[("i1", 4)])]);
        assert!(d.outputs::<DemandFeaturesUpdated>().is_empty());
        // Event time one hour past the end: the allowed lateness has passed.
        d.pipe([sale(2, "s1", at("2024-03-31T23:00:00Z"), &[("i1", 1)])]);
        let f = d.outputs::<DemandFeaturesUpdated>();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].as_of_date, day("2024-03-31"));
        assert_eq!(f[0].demand, 4);
        assert_eq!(f[0].occurred_at, at("2024-03-31T22:00:00Z"));
        assert_eq!(f[0].timezone, "Europe/Berlin");
        assert_eq!(f[0].dow_profile.len(), 7);
    }

    #[test]
    fn a_sale_at_0030_after_the_new_york_fall_back_is_the_next_days_demand() {
        let mut d = features_driver(&[("s1", "America/New_York")]);
        d.pipe([
            // 23:30 EST on Sunday 3 November (a 25-hour day), then 00:30 EST on the 4th.
            sale(1, "s1", at("2024-11-04T04:30:00Z"), &[("i1", 2)]),
            sale(2, "s1", at("2024-11-04T05:30:00Z"), &[("i1", 3)]),
            sale(3, "s1", at("2024-11-05T06:00:00Z"), &[("i1", 1)]),
        ]);
        let f = d.outputs::<DemandFeaturesUpdated>();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].as_of_date, f[0].demand), (day("2024-11-03"), 2));
        assert_eq!((f[1].as_of_date, f[1].demand), (day("2024-11-04"), 3));
        assert_eq!(f[1].sum_7, 5.0);
        assert_eq!(f[0].occurred_at, at("2024-11-04T05:00:00Z"));
    }

    #[test]
    fn a_stock_out_day_is_censored_and_left_out_of_every_estimate() {
        let mut d = features_driver(&[]);
        let mut inputs = daily(100, "i1", &[5, 5, 5], 1);
        // Day 101 ends with nothing on hand; restocked early on day 102.
        inputs.insert(
            2,
            stock(
                1,
                "s1",
                "i1",
                composerp_events::Timestamp(101 * DAY + 20 * HOUR),
                0,
            ),
        );
        inputs.push(stock(
            2,
            "s1",
            "i1",
            composerp_events::Timestamp(102 * DAY + 13 * HOUR),
            7,
        ));
        inputs.push(sale(
            9,
            "s1",
            composerp_events::Timestamp(103 * DAY + 2 * HOUR),
            &[("i1", 1)],
        ));
        d.pipe(inputs);
        let f = d.outputs::<DemandFeaturesUpdated>();
        assert_eq!(f.len(), 3);
        assert!(!f[0].censored && f[1].censored && !f[2].censored);
        assert_eq!((f[2].days_7, f[2].sum_7, f[2].mean_7), (2, 10.0, Some(5.0)));
        assert_eq!(f[2].censored_days_91, 1);
    }

    #[test]
    fn a_late_line_updates_history_and_the_next_day_counts_it() {
        let mut d = features_driver(&[]);
        d.pipe(daily(100, "i1", &[5, 5], 1));
        d.pipe([sale(
            3,
            "s1",
            composerp_events::Timestamp(102 * DAY + 2 * HOUR),
            &[("i1", 1)],
        )]);
        assert_eq!(d.outputs::<DemandFeaturesUpdated>().len(), 2);
        // Day 100 closed a day ago; a till sends one more line of it.
        d.pipe([sale(
            4,
            "s1",
            composerp_events::Timestamp(100 * DAY + 18 * HOUR),
            &[("i1", 2)],
        )]);
        assert!(d.dead_letters().is_empty(), "late lines are kept");
        d.pipe([sale(
            5,
            "s1",
            composerp_events::Timestamp(103 * DAY + 2 * HOUR),
            &[("i1", 1)],
        )]);
        let f = d.outputs::<DemandFeaturesUpdated>();
        assert_eq!(
            f.last().map(|f| (f.as_of_date, f.sum_7)),
            Some((Date(102), 13.0))
        );
    }

    #[test]
    fn a_sale_stamped_hours_ahead_of_its_write_is_dead_lettered_and_moves_no_day() {
        let mut d = features_driver(&[]);
        let now = 200 * DAY + 12 * HOUR;
        d.advance_wall_clock(now);
        d.pipe([sale(
            1,
            "s1",
            composerp_events::Timestamp(now - HOUR),
            &[("i1", 2)],
        )]);
        let watermark = d.watermark();
        // A till whose clock is a day ahead: it would close today at once.
        d.pipe([sale(
            2,
            "s1",
            composerp_events::Timestamp(now + DAY),
            &[("i1", 1)],
        )]);
        assert_eq!(d.dead_letters().len(), 1);
        assert_eq!(d.dead_letters()[0].reject.reason, "future_timestamp");
        assert_eq!(d.watermark(), watermark);
        assert!(d.outputs::<DemandFeaturesUpdated>().is_empty());
        // Within the skew (30 minutes ahead) is fine.
        d.pipe([sale(
            3,
            "s1",
            composerp_events::Timestamp(now + HOUR / 2),
            &[("i1", 1)],
        )]);
        assert_eq!(d.dead_letters().len(), 1);
    }

    #[test]
    fn a_single_sale_ever_gets_features_and_the_state_is_dropped_after_the_window() {
        let mut d = features_driver(&[]);
        d.pipe(daily(100, "i1", &[3], 1));
        // Another item keeps the store's days closing for 200 days.
        d.pipe(daily(100, "i2", &[1; 200], 1_000));
        let f: Vec<_> = d
            .outputs::<DemandFeaturesUpdated>()
            .into_iter()
            .filter(|f| f.item_id == "i1")
            .collect();
        assert_eq!(f[0].days_since_last_sale, Some(0));
        assert_eq!(f[0].days_91, 1);
        assert_eq!(f[30].demand_class, DemandClass::INTERMITTENT);
        assert_eq!(
            f.len(),
            WINDOW_DAYS,
            "features while the sale is within the window"
        );
        assert_eq!(f.last().and_then(|f| f.days_since_last_sale), Some(181));
        assert!(d.state("t1|s1|i1").is_none());
    }

    #[test]
    fn state_per_item_location_stays_under_a_kibibyte_with_182_days() {
        let mut d = features_driver(&[]);
        let units: Vec<i64> = (0..400).map(|i| (i * 7 % 23) % 13).collect();
        d.pipe(daily(100, "i1", &units, 1));
        let s = d.state("t1|s1|i1").expect("state");
        let bytes = postcard::to_allocvec(s).expect("serializes").len();
        assert!(bytes <= 1024, "{bytes} bytes");
    }
}
