//! [`Forecasting`]: at each location's local end of day, a forecast for every active
//! item-location (`ForecastGenerated`), its rolling accuracy next to seasonal naive
//! (`ForecastAccuracyUpdated`), and a revision (`ForecastUpdated`) when a late sale moves the
//! next seven days' total by more than the configured share.
//!
//! The model is chosen per item-location by `auto` (see [`Settings::selection`]) among
//! [`registry`]: adding a model is one module in the models crate and one line there. Ids are
//! derived from the item-location and the day, so a replay publishes the same forecast under
//! the same id.

use composerp_events::{
    Date, EventId, Timestamp,
    forecasting::{
        ForecastAccuracyUpdated, ForecastGenerated, ForecastModel as Symbol, ForecastPoint,
        ForecastUpdated,
    },
};
use composerp_forecast_models::{
    daily::Daily,
    model::{ForecastModel, ModelKind, Prediction, registry},
    select::{Selection, choose},
};
use composerp_runtime::{
    processor::{Processor, Reject},
    timer::Timer,
};
use serde::{Deserialize, Serialize};

use crate::{
    accuracy::{Scores, scaled},
    features::{ALLOWED_LATENESS, class_symbol},
    intake::{self, Closer, Ctx, DemandInput, Place, Slot, Tracked},
    settings::Settings,
    tables::Zones,
};

/// Forecasts per item-location at each local end of day, with accuracy and revisions.
#[derive(Debug)]
pub struct Forecasting {
    settings: Settings,
    models: Vec<Box<dyn ForecastModel>>,
}

impl Default for Forecasting {
    fn default() -> Self {
        Self::new(Settings::from_env_or_exit())
    }
}

/// What is remembered of an item-location's newest forecast.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memo {
    /// The newest run: (as-of day, revision, next-7-day total).
    run: Option<(i32, i32, f64)>,
    /// One-day-ahead forecasts being scored.
    scores: Scores,
}

/// The event's model symbol.
pub fn model_symbol(k: ModelKind) -> Symbol {
    match k {
        ModelKind::MovingAverage => Symbol::MOVING_AVERAGE,
        ModelKind::Ses => Symbol::SES,
        ModelKind::SeasonalNaive => Symbol::SEASONAL_NAIVE,
        ModelKind::HoltWinters => Symbol::HOLT_WINTERS,
        ModelKind::Croston => Symbol::CROSTON,
        ModelKind::Sba => Symbol::SBA,
        ModelKind::Tsb => Symbol::TSB,
    }
}

/// One forecast run of an item-location, ready to publish.
struct Run {
    model: Symbol,
    params: String,
    class: composerp_events::forecasting::DemandClass,
    points: Vec<ForecastPoint>,
    next7: f64,
    tomorrow: f64,
    /// The series it was fitted on (`History::series`), which accuracy scores against.
    first: i32,
    demand: Vec<f64>,
    censored: Vec<bool>,
}

impl Forecasting {
    /// With these settings and every registered model as a candidate.
    pub fn new(settings: Settings) -> Self {
        Forecasting {
            settings,
            models: registry(),
        }
    }

    /// The forecast of `tracked` as of `day`.
    fn run(&self, tracked: &Tracked<Memo>, day: i32) -> Option<Run> {
        let (first, demand, censored) = tracked.history.series(day);
        let series = Daily::new(&demand, &censored);
        let level = f64::from(self.settings.level);
        // A short history keeps two thirds of itself for fitting, so young item-locations are
        // chosen by holdout too rather than all falling back to their class.
        let selection = match self.settings.selection {
            Selection::Holdout { days } => Selection::Holdout {
                days: days.min(series.uncensored_len() / 3),
            },
            by_class => by_class,
        };
        let choice = choose(
            &self.models,
            selection,
            &series,
            self.settings.horizon,
            Some(level),
        )
        .ok()?;
        let Prediction { mean, interval, .. } = &choice.prediction;
        let points = mean
            .iter()
            .enumerate()
            .map(|(h, &m)| ForecastPoint {
                date: Date(day + 1 + h as i32),
                mean: m.max(0.0),
                lower: interval.as_ref().map(|i| i.lower[h].max(0.0)),
                upper: interval.as_ref().map(|i| i.upper[h].max(0.0)),
            })
            .collect::<Vec<_>>();
        Some(Run {
            model: model_symbol(choice.model.kind()),
            params: choice.model.params(),
            class: class_symbol(choice.class.class),
            next7: points.iter().take(7).map(|p| p.mean).sum(),
            tomorrow: points.first().map_or(0.0, |p| p.mean),
            points,
            first,
            demand,
            censored,
        })
    }

    /// Publishes the rolling accuracy as of `day`, when a day has been scored.
    fn accuracy(
        &self,
        place: &Place<'_>,
        tracked: &Tracked<Memo>,
        day: i32,
        end: Timestamp,
        run: &Run,
        ctx: Ctx<'_, '_, Memo>,
    ) {
        let scores = &tracked.extra.scores;
        let Some(s) = scores.score_series(run.first, &run.demand, &run.censored) else {
            return;
        };
        let rmsse = |rmse: Option<f64>| scaled(rmse, s.rmsse_scale.map(f64::sqrt));
        ctx.emit(&ForecastAccuracyUpdated {
            event_id: EventId::from_name(&format!(
                "forecast-accuracy|{}|{}|{}|{day}",
                place.tenant, place.location, place.item
            )),
            tenant_id: place.tenant.to_owned(),
            occurred_at: end,
            produced_at: ctx.now(),
            source: "composerp:forecasting".into(),
            location_id: place.location.to_owned(),
            item_id: place.item.to_owned(),
            as_of_date: Date(day),
            model: run.model,
            demand_class: run.class,
            window_days: self.settings.accuracy_days as i32,
            days: s.model.days as i32,
            actual: s.actual,
            mae: s.model.mae,
            rmse: s.model.rmse,
            bias: s.model.bias,
            wape: s.model.wape,
            mase: scaled(s.model.mae, s.mase_scale),
            rmsse: rmsse(s.model.rmse),
            baseline_mae: s.baseline.mae,
            baseline_rmse: s.baseline.rmse,
            baseline_bias: s.baseline.bias,
            baseline_wape: s.baseline.wape,
            baseline_mase: scaled(s.baseline.mae, s.mase_scale),
            baseline_rmsse: rmsse(s.baseline.rmse),
            mase_m: s.mase_m as i32,
            mase_scale: s.mase_scale,
            rmsse_scale: s.rmsse_scale,
        });
    }
}

fn run_ids(place: &Place<'_>, day: i32) -> String {
    format!("{}|{}|{}|{day}", place.tenant, place.location, place.item)
}

impl Closer for Forecasting {
    type Extra = Memo;

    fn closed(
        &self,
        place: &Place<'_>,
        tracked: &mut Tracked<Memo>,
        day: i32,
        end: Timestamp,
        ctx: Ctx<'_, '_, Memo>,
    ) {
        tracked.extra.scores.close(day, self.settings.accuracy_days);
        let Some(run) = self.run(tracked, day) else {
            return;
        };
        self.accuracy(place, tracked, day, end, &run, ctx);
        let ids = run_ids(place, day);
        ctx.emit(&ForecastGenerated {
            event_id: EventId::from_name(&format!("forecast|{ids}")),
            tenant_id: place.tenant.to_owned(),
            occurred_at: end,
            produced_at: ctx.now(),
            source: "composerp:forecasting".into(),
            location_id: place.location.to_owned(),
            item_id: place.item.to_owned(),
            forecast_id: EventId::from_name(&format!("forecast-run|{ids}")),
            as_of_date: Date(day),
            model: run.model,
            model_params: run.params,
            demand_class: run.class,
            interval_level: Some(i32::from(self.settings.level)),
            points: run.points,
            attributes: None,
        });
        tracked.extra.run = Some((day, 0, run.next7));
        tracked.extra.scores.expect(day + 1, run.tomorrow);
    }

    fn late(
        &self,
        place: &Place<'_>,
        tracked: &mut Tracked<Memo>,
        _day: i32,
        ctx: Ctx<'_, '_, Memo>,
    ) {
        let Some((as_of, revision, next7)) = tracked.extra.run else {
            return;
        };
        let Some(run) = self.run(tracked, as_of) else {
            return;
        };
        let moved = (run.next7 - next7).abs();
        if moved <= self.settings.update_share * next7.abs() || moved == 0.0 {
            return;
        }
        let revision = revision + 1;
        let ids = run_ids(place, as_of);
        let end = crate::zone::end_of_day(place.zone, as_of);
        ctx.emit(&ForecastUpdated {
            event_id: EventId::from_name(&format!("forecast-update|{ids}|{revision}")),
            tenant_id: place.tenant.to_owned(),
            occurred_at: end,
            produced_at: ctx.now(),
            source: "composerp:forecasting".into(),
            location_id: place.location.to_owned(),
            item_id: place.item.to_owned(),
            forecast_id: EventId::from_name(&format!("forecast-run|{ids}")),
            as_of_date: Date(as_of),
            model: run.model,
            model_params: run.params,
            demand_class: run.class,
            interval_level: Some(i32::from(self.settings.level)),
            points: run.points,
            revision,
            reason: "NEW_ACTUALS".into(),
            attributes: None,
        });
        tracked.extra.run = Some((as_of, revision, run.next7));
        tracked.extra.scores.expect(as_of + 1, run.tomorrow);
    }
}

impl Processor for Forecasting {
    const NAME: &'static str = "forecasting";
    type Input = DemandInput;
    type State = Slot<Memo>;
    type Tables = Zones;
    const ALLOWED_LATENESS_MICROS: i64 = ALLOWED_LATENESS;
    const DEDUPE_WINDOW_MICROS: i64 = crate::DEDUPE_WINDOW;

    fn max_future_skew_micros(&self) -> Option<i64> {
        Some(self.settings.max_future_skew_secs * 1_000_000)
    }

    fn process(&self, input: &DemandInput, ctx: Ctx<'_, '_, Memo>) -> Result<(), Reject> {
        intake::process(self, Self::NAME, input, ctx)
    }

    fn on_timer(&self, timer: &Timer, ctx: Ctx<'_, '_, Memo>) {
        intake::close_day(self, timer, ctx);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use composerp_events::forecasting::DemandClass;
    use composerp_runtime::driver::TestDriver;

    use super::*;
    use crate::testkit::{DAY, HOUR, daily, driver, sale};

    fn forecasting() -> TestDriver<Forecasting> {
        driver(Forecasting::new(Settings::default()), &[])
    }

    /// Weekly pattern: busy weekends.
    fn weekly(days: usize) -> Vec<i64> {
        (0..days).map(|i| [4, 3, 3, 4, 6, 9, 8][i % 7]).collect()
    }

    #[test]
    fn every_active_item_location_gets_a_forecast_when_its_day_closes() {
        let mut d = forecasting();
        d.pipe([sale(
            1,
            "s1",
            Timestamp(100 * DAY + 9 * HOUR),
            &[("i1", 2), ("i2", 1)],
        )]);
        d.pipe([sale(2, "s1", Timestamp(101 * DAY + 2 * HOUR), &[("i3", 1)])]);
        let f = d.outputs::<ForecastGenerated>();
        let items: Vec<&str> = f.iter().map(|f| f.item_id.as_str()).collect();
        assert_eq!(items, ["i1", "i2"], "i3's first day is still open");
        for f in &f {
            assert_eq!(f.as_of_date, Date(100));
            assert_eq!(f.points.len(), 28);
            assert_eq!(f.points[0].date, Date(101));
            assert_eq!(f.interval_level, Some(95));
            assert!(f.points.iter().all(|p| p.mean >= 0.0));
        }
        // A single sale ever is forecast too.
        assert_eq!(f[0].points[0].mean, 2.0);
    }

    #[test]
    fn weekly_demand_is_forecast_with_its_weekly_shape_and_accuracy_follows() {
        let mut d = forecasting();
        d.pipe(daily(100, "i1", &weekly(70), 1));
        let f = d.outputs::<ForecastGenerated>();
        let last = f.last().expect("forecasts");
        assert_eq!(last.as_of_date, Date(168));
        let week: Vec<f64> = last.points[..7].iter().map(|p| p.mean.round()).collect();
        // Day 169 is index 69 of the pattern's cycle plus one.
        let expect: Vec<f64> = (69..76)
            .map(|i| f64::from([4, 3, 3, 4, 6, 9, 8][i % 7]))
            .collect();
        assert_eq!(week, expect, "{:?}", last.model);
        let a = d.outputs::<ForecastAccuracyUpdated>();
        let a = a.last().expect("accuracy");
        assert_eq!(a.as_of_date, Date(168));
        assert_eq!(a.window_days, 28);
        assert_eq!(a.days, 28);
        assert_eq!(
            a.baseline_mae,
            Some(0.0),
            "seasonal naive is exact on a fixed week"
        );
        assert_eq!(a.mase_m, 7);
    }

    #[test]
    fn intermittent_demand_is_classified_and_forecast() {
        let mut d = forecasting();
        let units: Vec<i64> = (0..120)
            .map(|i| if i % 5 == 2 { 1 + i % 3 } else { 0 })
            .collect();
        d.pipe(daily(100, "i1", &units, 1));
        d.pipe([sale(
            999,
            "s1",
            Timestamp(221 * DAY + 2 * HOUR),
            &[("i2", 1)],
        )]);
        let last = d.outputs::<ForecastGenerated>().pop().expect("forecast");
        assert!(
            matches!(
                last.demand_class,
                DemandClass::INTERMITTENT | DemandClass::LUMPY
            ),
            "{:?}",
            last.demand_class
        );
        let total: f64 = last.points.iter().map(|p| p.mean).sum();
        assert!(total > 0.0 && total < 28.0, "{total}");
    }

    #[test]
    fn a_late_sale_that_moves_the_next_week_publishes_a_revision() {
        let mut d = forecasting();
        d.pipe(daily(100, "i1", &[2; 30], 1));
        let before = d.outputs::<ForecastGenerated>().pop().expect("forecast");
        // A big order of the last closed day arrives late.
        d.pipe([sale(
            77,
            "s1",
            Timestamp(128 * DAY + 15 * HOUR),
            &[("i1", 200)],
        )]);
        let u = d.outputs::<ForecastUpdated>();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].forecast_id, before.forecast_id);
        assert_eq!((u[0].revision, u[0].reason.as_str()), (1, "NEW_ACTUALS"));
        assert!(u[0].points[0].mean > before.points[0].mean);
        // A small late line moves nothing enough.
        d.pipe([sale(
            78,
            "s1",
            Timestamp(128 * DAY + 16 * HOUR),
            &[("i1", 1)],
        )]);
        assert_eq!(d.outputs::<ForecastUpdated>().len(), 1);
    }

    /// Every output by event id (as JSON, produced_at aside), checking that repeats of an id
    /// carry the same content.
    fn by_id(d: &TestDriver<Forecasting>) -> BTreeMap<String, String> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut check = |id: String, json: String| {
            if let Some(old) = seen.insert(id.clone(), json.clone()) {
                assert_eq!(old, json, "event {id} published with two contents");
            }
        };
        for mut f in d.outputs::<ForecastGenerated>() {
            f.produced_at = Timestamp(0);
            check(f.event_id.to_string(), json(&f));
        }
        for mut a in d.outputs::<ForecastAccuracyUpdated>() {
            a.produced_at = Timestamp(0);
            check(a.event_id.to_string(), json(&a));
        }
        seen
    }

    fn json<T: serde::Serialize>(v: &T) -> String {
        serde_json::to_string(v).expect("serializes")
    }

    /// Asserts two runs published the same ids with the same contents, naming the first
    /// difference rather than printing both runs.
    fn same(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) {
        let only: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
        let extra: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
        assert!(
            only.is_empty() && extra.is_empty(),
            "missing {only:?}, extra {extra:?}"
        );
        for (k, v) in a {
            assert_eq!(Some(v), b.get(k), "event {k}");
        }
    }

    #[test]
    fn a_replay_after_a_crash_publishes_the_same_forecasts_under_the_same_ids() {
        let inputs = daily(100, "i1", &weekly(40), 1);
        let (head, tail) = inputs.split_at(20);
        let mut clean = forecasting();
        clean.pipe(head.to_vec());
        clean.pipe(tail.to_vec());
        let expected = by_id(&clean);

        for crash_after_states in [false, true] {
            let mut d = forecasting();
            d.pipe(head.to_vec());
            d.commit();
            d.pipe(tail[..10].to_vec());
            if crash_after_states {
                d.crash_after_states();
            } else {
                d.crash();
            }
            d.pipe(tail.to_vec());
            same(&expected, &by_id(&d));
        }
    }
}
