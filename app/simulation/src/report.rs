//! The simulation's summary: one row per policy, target and mix, and a chart of the achieved
//! cycle service against its target.

use std::fmt::Write as _;

use composerp_replenishment_policy::Interval;

use crate::Config;

/// One simulation's measures over its replications, each as mean ± t·s/√n.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was simulated.
    pub config: Config,
    /// Share of replenishment cycles without a lost unit.
    pub cycle_service: Interval,
    /// Served units / demanded units.
    pub fill_rate: Interval,
    /// Share of item-days without a lost unit.
    pub in_stock: Interval,
    /// Units on hand at the end of a day, per item-location.
    pub average_inventory: Interval,
    /// Purchase order lines per item-location over the measured days.
    pub orders_per_item: Interval,
    /// Wall time of the whole simulation.
    pub seconds: f64,
}

fn pct(i: &Interval) -> String {
    format!("{:.1} ± {:.1} %", 100.0 * i.mean, 100.0 * i.half_width)
}

impl Report {
    /// Whether the target cycle service is met: its interval is not wholly below it.
    pub fn target_met(&self) -> bool {
        self.cycle_service
            .contains_or_above(self.config.service_level)
    }

    /// The Markdown table's header.
    pub fn header() -> &'static str {
        "| mix | policy | target | cycle service | met | fill rate | in-stock days | avg inventory | orders / item | time |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    }

    /// This simulation's row of the Markdown table.
    pub fn row(&self) -> String {
        let c = &self.config;
        format!(
            "| {} | {} | {:.0} % | {} | {} | {} | {} | {:.1} ± {:.1} | {:.2} ± {:.2} | {:.1} s |",
            c.mix.label(),
            c.policy.label(),
            100.0 * c.service_level,
            pct(&self.cycle_service),
            if self.target_met() { "yes" } else { "**no**" },
            pct(&self.fill_rate),
            pct(&self.in_stock),
            self.average_inventory.mean,
            self.average_inventory.half_width,
            self.orders_per_item.mean,
            self.orders_per_item.half_width,
            self.seconds,
        )
    }
}

/// An SVG chart: per simulation, the achieved cycle service with its interval beside a line
/// at its target.
pub fn chart(reports: &[Report]) -> String {
    let (w, h, left, top, bottom) = (760.0, 360.0, 60.0, 40.0, 90.0);
    let plot_h = h - top - bottom;
    let n = reports.len().max(1) as f64;
    let slot = (w - left - 20.0) / n;
    // The axis runs from 50 % to 100 %: every target lies in it.
    let y = |v: f64| top + plot_h * (1.0 - ((v - 0.5) / 0.5).clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        s,
        r##"<rect width="{w}" height="{h}" fill="#fff"/><text x="{left}" y="20" font-size="14">Achieved cycle service (mean ± 95 % CI) against the target</text>"##
    );
    for tick in [0.5, 0.6, 0.7, 0.8, 0.9, 1.0] {
        let ty = y(tick);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{ty}" y2="{ty}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{:.0} %</text>"##,
            w - 20.0,
            left - 6.0,
            ty + 4.0,
            tick * 100.0
        );
    }
    for (i, r) in reports.iter().enumerate() {
        let cx = left + slot * (i as f64 + 0.5);
        let bar = slot * 0.5;
        let (m, lo, hi) = (
            r.cycle_service.mean,
            r.cycle_service.lower(),
            r.cycle_service.upper(),
        );
        let colour = if r.target_met() { "#3b7dd8" } else { "#d8573b" };
        let _ = write!(
            s,
            r##"<rect x="{}" y="{}" width="{bar}" height="{}" fill="{colour}" opacity="0.8"/>"##,
            cx - bar / 2.0,
            y(m),
            (y(0.5) - y(m)).max(0.0)
        );
        let _ = write!(
            s,
            r##"<line x1="{cx}" x2="{cx}" y1="{}" y2="{}" stroke="#000"/><line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#000"/><line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#000"/>"##,
            y(hi),
            y(lo),
            cx - 5.0,
            cx + 5.0,
            y(hi),
            y(hi),
            cx - 5.0,
            cx + 5.0,
            y(lo),
            y(lo)
        );
        let target = y(r.config.service_level);
        let _ = write!(
            s,
            r##"<line x1="{}" x2="{}" y1="{target}" y2="{target}" stroke="#111" stroke-dasharray="4 3" stroke-width="2"/>"##,
            cx - slot * 0.45,
            cx + slot * 0.45
        );
        let base = h - bottom + 16.0;
        let _ = write!(
            s,
            r#"<text x="{cx}" y="{base}" text-anchor="middle">{}</text><text x="{cx}" y="{}" text-anchor="middle">{}</text><text x="{cx}" y="{}" text-anchor="middle">target {:.0} %</text>"#,
            r.config.policy.label(),
            base + 14.0,
            r.config.mix.label(),
            base + 28.0,
            r.config.service_level * 100.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{left}" y="{}" fill="#555">dashed: target; red: interval wholly below the target</text></svg>"##,
        h - 10.0
    );
    s.push('\n');
    s
}
