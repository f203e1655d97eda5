//! [`Settings`]: what an operator may tune, read from the environment when a processor starts.

use composerp_forecast_models::select::Selection;

/// Tuning of the forecasting processors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Days forecast (`COMPOSERP_FORECAST_HORIZON`, default 28).
    pub horizon: usize,
    /// Prediction interval level in percent (`COMPOSERP_FORECAST_LEVEL`, default 95).
    pub level: u8,
    /// How `auto` chooses (`COMPOSERP_FORECAST_SELECTION`: `holdout` (default, the last 28
    /// days) or `class`).
    pub selection: Selection,
    /// Share by which a re-forecast must move the next-7-day total to be published as a
    /// revision (`COMPOSERP_FORECAST_UPDATE_SHARE`, default 0.1).
    pub update_share: f64,
    /// Days in the rolling accuracy window (`COMPOSERP_FORECAST_ACCURACY_DAYS`, default 28).
    pub accuracy_days: usize,
    /// How far a sale's time may run ahead of its topic timestamp, in seconds
    /// (`COMPOSERP_MAX_FUTURE_SKEW_SECONDS`, default 3600).
    pub max_future_skew_secs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            horizon: 28,
            level: 95,
            selection: Selection::Holdout { days: 28 },
            update_share: 0.1,
            accuracy_days: 28,
            max_future_skew_secs: 3_600,
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value}: {expected}")]
pub struct SettingError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What it must be.
    pub expected: &'static str,
}

fn var<T: std::str::FromStr>(
    name: &'static str,
    default: T,
    ok: impl Fn(&T) -> bool,
    expected: &'static str,
) -> Result<T, SettingError> {
    let Ok(value) = std::env::var(name) else {
        return Ok(default);
    };
    match value.trim().parse::<T>() {
        Ok(v) if ok(&v) => Ok(v),
        _ => Err(SettingError {
            name,
            value,
            expected,
        }),
    }
}

impl Settings {
    /// The defaults, overridden by the environment.
    pub fn from_env() -> Result<Self, SettingError> {
        let d = Settings::default();
        let selection = match std::env::var("COMPOSERP_FORECAST_SELECTION").as_deref() {
            Err(_) | Ok("holdout") => d.selection,
            Ok("class") => Selection::ByClass,
            Ok(other) => {
                return Err(SettingError {
                    name: "COMPOSERP_FORECAST_SELECTION",
                    value: other.to_owned(),
                    expected: "holdout or class",
                });
            }
        };
        Ok(Settings {
            horizon: var(
                "COMPOSERP_FORECAST_HORIZON",
                d.horizon,
                |h| (1..=366).contains(h),
                "a number of days from 1 to 366",
            )?,
            level: var(
                "COMPOSERP_FORECAST_LEVEL",
                d.level,
                |l| (1..=99).contains(l),
                "a percentage from 1 to 99",
            )?,
            selection,
            update_share: var(
                "COMPOSERP_FORECAST_UPDATE_SHARE",
                d.update_share,
                |s| (0.0..=10.0).contains(s),
                "a share from 0 to 10",
            )?,
            accuracy_days: var(
                "COMPOSERP_FORECAST_ACCURACY_DAYS",
                d.accuracy_days,
                |n| (1..=91).contains(n),
                "a number of days from 1 to 91",
            )?,
            max_future_skew_secs: var(
                "COMPOSERP_MAX_FUTURE_SKEW_SECONDS",
                d.max_future_skew_secs,
                |s| *s >= 0,
                "a number of seconds, 0 or more",
            )?,
        })
    }

    /// From the environment; a processor cannot start on a setting it cannot use, so this
    /// stops the process with the variable's name and what it must be.
    pub fn from_env_or_exit() -> Self {
        Self::from_env().unwrap_or_else(|e| {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            std::process::exit(2)
        })
    }
}
