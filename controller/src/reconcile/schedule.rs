//! `spec.schedule`: cron in UTC, five fields or `@hourly`-style nicknames.

use croner::{Cron, parser::CronParser};
use jiff::{Timestamp, tz::TimeZone};

/// A parsed `spec.schedule`.
#[derive(Clone, Debug)]
pub struct Schedule(Cron);

/// A schedule that cannot be parsed, with the expression and the reason.
#[derive(Debug, thiserror::Error)]
#[error(
    "spec.schedule {expression:?} is not a valid cron schedule ({reason}): use five fields in UTC \
     such as \"0 2 * * *\", or @hourly, @daily, @weekly, @monthly, @yearly"
)]
pub struct ScheduleError {
    expression: String,
    reason: String,
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, ScheduleError> {
        let error = |reason: String| ScheduleError {
            expression: expression.to_owned(),
            reason,
        };
        // Five fields only: a sixth (seconds) field is not part of the documented format.
        if !expression.trim_start().starts_with('@') && expression.split_whitespace().count() != 5 {
            return Err(error(format!(
                "{} fields instead of 5",
                expression.split_whitespace().count()
            )));
        }
        CronParser::builder()
            .build()
            .parse(expression)
            .map(Self)
            .map_err(|e| error(e.to_string()))
    }

    /// The latest time the schedule fired at or before `now`: the slot a run at `now` belongs to.
    pub fn latest_at_or_before(&self, now: Timestamp) -> Option<Timestamp> {
        let now = now.to_zoned(TimeZone::UTC);
        self.0
            .find_previous_occurrence(&now, true)
            .ok()
            .map(|z| z.timestamp())
    }

    /// The next time the schedule fires after `now`.
    pub fn next_after(&self, now: Timestamp) -> Option<Timestamp> {
        let now = now.to_zoned(TimeZone::UTC);
        self.0
            .find_next_occurrence(&now, false)
            .ok()
            .map(|z| z.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn daily_at_two_finds_its_slots_in_utc() {
        let schedule = Schedule::parse("0 2 * * *").expect("valid");
        let now = at("2026-11-22T13:05:00Z");
        assert_eq!(
            schedule.latest_at_or_before(now),
            Some(at("2026-11-22T02:00:00Z"))
        );
        assert_eq!(schedule.next_after(now), Some(at("2026-11-23T02:00:00Z")));
    }

    #[test]
    fn nicknames_are_accepted() {
        let hourly = Schedule::parse("@hourly").expect("valid");
        assert_eq!(
            hourly.next_after(at("2026-11-22T13:05:00Z")),
            Some(at("2026-11-22T14:00:00Z"))
        );
        Schedule::parse("@daily").expect("valid");
    }

    #[test]
    fn an_exact_slot_belongs_to_itself() {
        let every_minute = Schedule::parse("* * * * *").expect("valid");
        let now = at("2026-11-22T13:05:00Z");
        assert_eq!(every_minute.latest_at_or_before(now), Some(now));
    }

    #[test]
    fn bad_schedules_name_the_field_and_the_forms() {
        for bad in ["", "every day", "0 2 * *", "0 0 2 * * *", "61 * * * *"] {
            let message = Schedule::parse(bad).expect_err(bad).to_string();
            assert!(message.starts_with("spec.schedule"), "{message}");
            assert!(message.contains("@daily"), "{message}");
        }
    }
}
