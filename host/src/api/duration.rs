//! Durations in request fields and queries: a whole number and one unit
//! (`90s`, `15m`, `24h`, `7d`), within bounds. One [`DurationRule`] gives
//! both the handler's check and the schema's `pattern`, generated from the
//! same bounds, so `/openapi.json` states exactly what the API accepts.

use super::error::ApiError;
use serde_json::{json, Value};
use std::time::Duration;

/// The units a duration may be written in, with their length in seconds.
const UNITS: [(char, u64); 4] = [('s', 1), ('m', 60), ('h', 3600), ('d', 86_400)];

/// A project's `retention` (API and `[[projects]]`): at least a second,
/// like `storage.retention` (tests and soak runs use seconds; a deployment
/// keeps days), at most a year.
pub(crate) const PROJECT_RETENTION: DurationRule = DurationRule {
    min_secs: 1,
    max_secs: 365 * 86_400,
    units: "smhd",
    meaning: "how long the project's finished events, deliveries, attempts and statistics are kept; null: the server's `storage.retention`",
};

/// The bounds of one duration field, in seconds, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct DurationRule {
    /// Shortest accepted, in seconds (`0` lets `0s` through).
    pub min_secs: u64,
    /// Longest accepted, in seconds.
    pub max_secs: u64,
    /// The unit letters it may be written in, of `smhd`.
    pub units: &'static str,
    /// What the field is, for the schema's description.
    pub meaning: &'static str,
}

impl DurationRule {
    /// Reads `text` given as `field`, or `400` naming the field, the form
    /// and the bounds.
    pub fn read(&self, field: &str, text: &str) -> Result<Duration, ApiError> {
        self.check(text)
            .map_err(|message| ApiError::bad(field, message))
    }

    /// Reads `text`, or says what is wrong with it (the config's check,
    /// worded as the API's `400`).
    pub fn check(&self, text: &str) -> Result<Duration, String> {
        let secs = parse(text, self.units).ok_or_else(|| {
            format!(
                "`{text}` is not a duration: write a whole number and one unit \
                 of `{}`, as in `90s`, `15m`, `24h`, `7d`",
                self.units
            )
        })?;
        if secs < self.min_secs || secs > self.max_secs {
            return Err(format!("must be {}", self.bounds()));
        }
        Ok(Duration::from_secs(secs))
    }

    /// The bounds in words: "between 1s and 7d".
    fn bounds(&self) -> String {
        format!(
            "between {} and {}",
            spelled(self.min_secs),
            spelled(self.max_secs)
        )
    }

    /// The schema of a string this rule accepts.
    pub fn schema(&self) -> Value {
        json!({
            "type": "string",
            "pattern": self.pattern(),
            "description": format!("{}: a whole number and one unit of `{}`, {}", self.meaning, self.units, self.bounds()),
        })
    }

    /// A regular expression matching exactly the texts [`Self::read`] takes.
    pub fn pattern(&self) -> String {
        let per_unit: Vec<String> = UNITS
            .iter()
            .filter(|(unit, _)| self.units.contains(*unit))
            .filter_map(|&(unit, secs)| {
                let low = self.min_secs.div_ceil(secs);
                let high = self.max_secs / secs;
                (low <= high).then(|| format!("({}){unit}", number_range(low, high).join("|")))
            })
            .collect();
        format!("^({})$", per_unit.join("|"))
    }
}

/// Seconds in `text` (`<digits><unit>`, a unit of `units`, no sign, no
/// leading zero), or `None` when it is not in that form or overflows.
fn parse(text: &str, units: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let (_, unit_secs) = UNITS
        .iter()
        .find(|(u, _)| *u == unit && units.contains(unit))?;
    let digits = &text[..text.len() - 1];
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !well_formed {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(*unit_secs)
}

/// `secs` in the largest unit that divides it: `86400` → `1d`.
fn spelled(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let (unit, length) = UNITS
        .iter()
        .rev()
        .find(|(_, length)| secs % length == 0)
        .copied()
        .unwrap_or(('s', 1));
    format!("{}{unit}", secs / length)
}

/// Alternatives matching exactly the decimal numbers `low..=high`, written
/// without leading zeros.
fn number_range(mut low: u64, high: u64) -> Vec<String> {
    let mut alternatives = Vec::new();
    if low == 0 {
        alternatives.push("0".to_string());
        low = 1;
    }
    let mut start = low;
    while start <= high {
        let width = start.to_string().len() as u32;
        let end = high.min(10u64.pow(width) - 1);
        alternatives.extend(same_width(
            start.to_string().as_bytes(),
            end.to_string().as_bytes(),
        ));
        start = end + 1;
    }
    alternatives
}

/// Alternatives matching the numbers from `low` to `high`, both written
/// with the same number of digits.
fn same_width(low: &[u8], high: &[u8]) -> Vec<String> {
    let (Some((&first_low, rest_low)), Some((&first_high, rest_high))) =
        (low.split_first(), high.split_first())
    else {
        return vec![String::new()];
    };
    if first_low == first_high {
        return same_width(rest_low, rest_high)
            .into_iter()
            .map(|tail| format!("{}{tail}", first_low as char))
            .collect();
    }
    let any_tail = any_digits(rest_low.len());
    let mut alternatives = Vec::new();
    let mut middle_low = first_low;
    if !rest_low.iter().all(|&b| b == b'0') {
        let nines = vec![b'9'; rest_low.len()];
        alternatives.extend(
            same_width(rest_low, &nines)
                .into_iter()
                .map(|tail| format!("{}{tail}", first_low as char)),
        );
        middle_low += 1;
    }
    let mut middle_high = first_high;
    let high_alternatives = if rest_high.iter().all(|&b| b == b'9') {
        Vec::new()
    } else {
        middle_high -= 1;
        let zeros = vec![b'0'; rest_high.len()];
        same_width(&zeros, rest_high)
            .into_iter()
            .map(|tail| format!("{}{tail}", first_high as char))
            .collect()
    };
    if middle_low <= middle_high {
        alternatives.push(format!(
            "{}{any_tail}",
            digit_class(middle_low, middle_high)
        ));
    }
    alternatives.extend(high_alternatives);
    alternatives
}

/// `[a-b]`, or the digit itself when `a == b`.
fn digit_class(low: u8, high: u8) -> String {
    if low == high {
        (low as char).to_string()
    } else {
        format!("[{}-{}]", low as char, high as char)
    }
}

/// Any `count` digits.
fn any_digits(count: usize) -> String {
    match count {
        0 => String::new(),
        1 => "[0-9]".to_string(),
        n => format!("[0-9]{{{n}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(rule: &DurationRule) -> regex_lite::Regex {
        regex_lite::Regex::new(&rule.pattern()).unwrap()
    }

    #[test]
    fn number_ranges_match_exactly_their_numbers() {
        let ranges = [
            (0, 0),
            (0, 9),
            (1, 1),
            (1, 30),
            (3, 7),
            (7, 123),
            (30, 43_200),
            (10, 99),
            (100, 100),
            (199, 2_001),
            (0, 2_592_000),
        ];
        for (low, high) in ranges {
            let pattern = format!("^({})$", number_range(low, high).join("|"));
            let re = regex_lite::Regex::new(&pattern).unwrap();
            let top = (high * 3).clamp(50, 3_000_000);
            for n in 0..=top {
                assert_eq!(
                    re.is_match(&n.to_string()),
                    (low..=high).contains(&n),
                    "{n} against {low}..={high}: {pattern}"
                );
            }
            assert!(!re.is_match(&format!("0{low}")), "leading zero: {pattern}");
        }
    }

    #[test]
    fn the_pattern_and_the_reader_agree() {
        let rule = DurationRule {
            min_secs: 60,
            max_secs: 30 * 86_400,
            units: "smhd",
            meaning: "window",
        };
        let re = matcher(&rule);
        let samples = [
            "1m",
            "59s",
            "60s",
            "90s",
            "0m",
            "720h",
            "721h",
            "30d",
            "31d",
            "43200m",
            "43201m",
            "01m",
            "1h30m",
            "1 h",
            "+1h",
            "1H",
            "",
            "h",
            "-1d",
            "1.5h",
            "2592000s",
            "2592001s",
            "99999999999999999999999d",
        ];
        for text in samples {
            assert_eq!(
                re.is_match(text),
                rule.read("window", text).is_ok(),
                "{text}: {}",
                rule.pattern()
            );
        }
    }

    #[test]
    fn errors_name_the_field_the_form_and_the_bounds() {
        let rule = DurationRule {
            min_secs: 0,
            max_secs: 7 * 86_400,
            units: "smhd",
            meaning: "grace",
        };
        assert_eq!(rule.read("grace", "0s").unwrap(), Duration::ZERO);
        assert_eq!(
            rule.read("grace", "7d").unwrap(),
            Duration::from_secs(604_800)
        );
        let form = rule.read("grace", "soon").unwrap_err().to_string();
        assert!(
            form.contains("grace") && form.contains("`soon`") && form.contains("90s"),
            "{form}"
        );
        let bounds = rule.read("grace", "8d").unwrap_err().to_string();
        assert!(bounds.contains("between 0s and 7d"), "{bounds}");
    }

    #[test]
    fn units_outside_the_rule_are_refused_by_both() {
        let rule = DurationRule {
            min_secs: 60,
            max_secs: 86_400,
            units: "mhd",
            meaning: "interval",
        };
        let re = matcher(&rule);
        for text in ["120s", "60s", "2m", "1d", "25h"] {
            assert_eq!(
                re.is_match(text),
                rule.read("interval", text).is_ok(),
                "{text}"
            );
        }
        assert!(rule.read("interval", "120s").is_err());
    }
}
