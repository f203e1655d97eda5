//! Order days: the weekdays on which a periodic-review (R,S) rule may order,
//! and the review period R they imply.
//!
//! R is the number of days from today to the next order day *strictly after*
//! today, so it is defined on any day (a planner looking on a Tuesday still
//! sees the levels of the coming review), and a rule with a single weekly
//! order day has R = 7 on that day.

use std::fmt;

use chrono::Weekday;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A set of weekdays on which orders may be placed (Monday through Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OrderDays(u8);

impl OrderDays {
    /// The empty set: no day is an order day.
    pub const NONE: OrderDays = OrderDays(0);
    /// Every day of the week is an order day.
    pub const EVERY_DAY: OrderDays = OrderDays(0b111_1111);

    /// The set holding exactly the given weekdays (duplicates are harmless).
    pub fn new(days: &[Weekday]) -> Self {
        days.iter().copied().collect()
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & bit(day) != 0
    }

    /// The set with `day` added.
    #[must_use]
    pub fn with(self, day: Weekday) -> Self {
        OrderDays(self.0 | bit(day))
    }

    /// Whether no day is an order day.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many distinct order days there are in a week.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The order days from Monday to Sunday.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        WEEK.into_iter().filter(move |d| self.contains(*d))
    }
}

impl FromIterator<Weekday> for OrderDays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(OrderDays::NONE, OrderDays::with)
    }
}

impl From<&[Weekday]> for OrderDays {
    fn from(days: &[Weekday]) -> Self {
        OrderDays::new(days)
    }
}

/// Monday first, as ISO 8601 and the order-day codes count.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn bit(day: Weekday) -> u8 {
    1 << day.num_days_from_monday()
}

/// The three-letter upper-case code of a weekday ("MON" … "SUN"), as rules store it.
pub fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MON",
        Weekday::Tue => "TUE",
        Weekday::Wed => "WED",
        Weekday::Thu => "THU",
        Weekday::Fri => "FRI",
        Weekday::Sat => "SAT",
        Weekday::Sun => "SUN",
    }
}

/// Parses a weekday code in any case ("MON", "mon", "Monday"); `None` if it is not one.
pub fn parse_weekday(code: &str) -> Option<Weekday> {
    code.parse::<Weekday>().ok()
}

/// Whether `today` is one of the rule's order days.
pub fn is_order_day(days: &OrderDays, today: Weekday) -> bool {
    days.contains(today)
}

/// Days from `today` to the next order day strictly after it (1..=7); `None` when there is none.
pub fn days_to_next_order_day(days: &OrderDays, today: Weekday) -> Option<u32> {
    // Walking forward 1..=7 days wraps round to `today` itself last, which is
    // what makes a single weekly order day give R = 7 rather than 0.
    let from = today.num_days_from_monday();
    (1..=7u32).find(|step| days.contains(WEEK[((from + step) % 7) as usize]))
}

// Order days travel as a list of codes (["MON", "THU"]), as the rule tables
// and the reference cases write them, rather than as chrono's own names.
impl Serialize for OrderDays {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len() as usize))?;
        for day in self.iter() {
            seq.serialize_element(weekday_code(day))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for OrderDays {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Codes;
        impl<'de> Visitor<'de> for Codes {
            type Value = OrderDays;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of weekday codes such as [\"MON\", \"THU\"]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrderDays, A::Error> {
                let mut days = OrderDays::NONE;
                while let Some(code) = seq.next_element::<String>()? {
                    let day = parse_weekday(&code).ok_or_else(|| {
                        de::Error::invalid_value(de::Unexpected::Str(&code), &"a weekday code")
                    })?;
                    days = days.with(day);
                }
                Ok(days)
            }
        }
        deserializer.deserialize_seq(Codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_weekly_gives_three_and_four_day_periods() {
        let days = OrderDays::new(&[Weekday::Mon, Weekday::Thu]);
        assert!(is_order_day(&days, Weekday::Mon));
        assert!(!is_order_day(&days, Weekday::Tue));
        assert_eq!(days_to_next_order_day(&days, Weekday::Mon), Some(3));
        assert_eq!(days_to_next_order_day(&days, Weekday::Thu), Some(4));
        assert_eq!(days_to_next_order_day(&days, Weekday::Tue), Some(2));
        assert_eq!(days_to_next_order_day(&days, Weekday::Sun), Some(1));
    }

    #[test]
    fn single_weekly_day_is_a_seven_day_period() {
        let days = OrderDays::new(&[Weekday::Wed]);
        assert_eq!(days_to_next_order_day(&days, Weekday::Wed), Some(7));
        assert_eq!(days_to_next_order_day(&days, Weekday::Thu), Some(6));
        assert_eq!(days_to_next_order_day(&days, Weekday::Tue), Some(1));
    }

    #[test]
    fn every_day_is_one_day_and_none_is_none() {
        assert_eq!(
            days_to_next_order_day(&OrderDays::EVERY_DAY, Weekday::Sun),
            Some(1)
        );
        assert_eq!(days_to_next_order_day(&OrderDays::NONE, Weekday::Sun), None);
        assert!(OrderDays::NONE.is_empty());
        assert_eq!(OrderDays::EVERY_DAY.len(), 7);
    }

    #[test]
    fn codes_round_trip_through_json() {
        let days: OrderDays =
            serde_json::from_str(r#"["thu", "MON", "Mon"]"#).expect("valid codes");
        assert_eq!(days, OrderDays::new(&[Weekday::Mon, Weekday::Thu]));
        assert_eq!(
            serde_json::to_string(&days).expect("serializes"),
            r#"["MON","THU"]"#
        );
        assert!(serde_json::from_str::<OrderDays>(r#"["XYZ"]"#).is_err());
    }
}
