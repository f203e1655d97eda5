//! The demo's forecasting part: once the forecasting tables have settled, how many forecasts,
//! which models `auto` chose, and WAPE per demand class against seasonal naive on the same days.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sqlx::Connection;

/// WAPE of the models and of seasonal naive per demand class, sales-weighted: (class,
/// item-locations, units, wape, baseline wape).
type ClassRow = (String, i64, Option<f64>, Option<f64>, Option<f64>);

/// Waits (at most `wait`) until every item-location that sold by `last_day` (the newest day
/// the data closes) has its forecast as of that day in Postgres, prints the report, and tells whether
/// `auto` is at least as accurate as seasonal naive overall.
pub async fn report(url: &str, last_day: NaiveDate, wait: Duration) -> anyhow::Result<bool> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let deadline = Instant::now() + wait;
    let last = loop {
        // (forecast runs, scored item-locations, item-locations, those forecast as of last_day)
        // Owed: every item-location that sold by the end of last_day, in its location's zone.
        let now: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM forecasting.forecasts), \
                    (SELECT count(*) FROM forecasting.accuracy), \
                    (SELECT count(DISTINCT (t.tenant_id, t.location_id, t.item_id)) \
                       FROM inventory.transactions t LEFT JOIN catalog.locations l \
                         ON l.tenant_id = t.tenant_id AND l.location_id = t.location_id \
                      WHERE t.transaction_type = 'SALE' AND t.occurred_at < \
                            (($1::date + 1)::timestamp AT TIME ZONE coalesce(l.timezone, 'UTC'))), \
                    (SELECT count(DISTINCT (tenant_id, location_id, item_id)) \
                       FROM forecasting.forecasts WHERE as_of_date >= $1)",
        )
        .bind(last_day)
        .fetch_one(&mut conn)
        .await?;
        if (now.2 > 0 && now.3 >= now.2) || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let models: Vec<(String, i64)> = sqlx::query_as(
        "SELECT model, count(*) FROM (SELECT DISTINCT ON (tenant_id, location_id, item_id) model \
         FROM forecasting.forecasts ORDER BY tenant_id, location_id, item_id, as_of_date DESC) f \
         GROUP BY model ORDER BY count(*) DESC",
    )
    .fetch_all(&mut conn)
    .await?;
    let chosen: Vec<String> = models.iter().map(|(m, n)| format!("{m} {n}")).collect();
    println!(
        "▸ Forecasting: {} forecast runs, {}/{} item-locations forecast through {last_day}, {} \
         scored; auto chose {}",
        last.0,
        last.3,
        last.2,
        last.1,
        chosen.join(", ")
    );
    let classes: Vec<ClassRow> = sqlx::query_as(
        "SELECT coalesce(demand_class, 'all'), count(*), sum(actual), \
                sum(wape * actual) / nullif(sum(actual), 0), \
                sum(baseline_wape * actual) / nullif(sum(actual), 0) \
         FROM forecasting.accuracy WHERE wape IS NOT NULL AND baseline_wape IS NOT NULL \
         GROUP BY ROLLUP (demand_class) ORDER BY demand_class IS NULL, demand_class",
    )
    .fetch_all(&mut conn)
    .await?;
    println!(
        "  one-day-ahead WAPE over the last 28 days, auto against seasonal naive on the same days:"
    );
    println!(
        "  {:<13} {:>15} {:>10} {:>8} {:>15}",
        "demand class", "item-locations", "units", "auto", "seasonal naive"
    );
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.1} %", v * 100.0));
    let mut better = true;
    for (class, n, units, wape, baseline) in &classes {
        println!(
            "  {class:<13} {n:>15} {:>10.0} {:>8} {:>15}",
            units.unwrap_or_default(),
            pct(*wape),
            pct(*baseline)
        );
        if class == "all" {
            better = wape.zip(*baseline).is_none_or(|(w, b)| w <= b);
        }
    }
    println!(
        "  {}",
        if better {
            "auto is at least as accurate as seasonal naive overall"
        } else {
            "auto is LESS accurate than seasonal naive overall"
        }
    );
    println!(
        "▸ Try: curl … /v1/forecast-accuracy/by-class, or SELECT * FROM bi.forecast_accuracy_by_class"
    );
    Ok(better)
}
