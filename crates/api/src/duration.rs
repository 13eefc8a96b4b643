//! Parsing of Go duration strings (`1h`, `2h30m`, `1.5s`, `0`), the format ESO uses for
//! `refreshInterval` and `retryInterval`.

use std::time::Duration;

use crate::error::ApiError;

/// Largest duration Go can represent, in nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration string such as `1h`, `2h30m`, `1.5s` or `0`.
///
/// A leading `+` is accepted; a leading `-` is rejected (except for `-0`, which is zero),
/// since a negative interval has no meaning here.
pub fn parse_duration(input: &str) -> Result<Duration, ApiError> {
    let err_input = || input.to_owned();
    let (negative, mut rest) = match input.as_bytes().first() {
        None => return Err(ApiError::DurationEmpty),
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        Some(_) => (false, input),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(ApiError::DurationMissingNumber(err_input()));
    }

    let mut total: u128 = 0;
    while !rest.is_empty() {
        // Integer part.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after_int) = rest.split_at(int_len);
        // Optional fraction.
        let (frac_digits, after_num) = match after_int.strip_prefix('.') {
            Some(after_dot) => {
                let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(frac_len)
            }
            None => ("", after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(ApiError::DurationMissingNumber(err_input()));
        }
        // Unit: everything up to the next digit or dot.
        let unit_len = after_num
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after_num.len(), |(i, _)| i);
        let (unit, after_unit) = after_num.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "" => return Err(ApiError::DurationMissingUnit(err_input())),
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            other => {
                return Err(ApiError::DurationUnknownUnit {
                    input: err_input(),
                    unit: other.to_owned(),
                });
            }
        };

        let overflow = || ApiError::DurationOverflow(err_input());
        let mut int_value: u128 = 0;
        for d in int_digits.bytes() {
            int_value = int_value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(d - b'0')))
                .filter(|v| *v <= MAX_NANOS)
                .ok_or_else(overflow)?;
        }
        let mut value = int_value.checked_mul(unit_nanos).ok_or_else(overflow)?;
        // Fractional digits beyond nanosecond precision cannot change the result; like Go,
        // truncate rather than round.
        let mut scale: u128 = 1;
        let mut frac_value: u128 = 0;
        for d in frac_digits.bytes().take(20) {
            frac_value = frac_value * 10 + u128::from(d - b'0');
            scale *= 10;
        }
        value += frac_value * unit_nanos / scale;
        total = total
            .checked_add(value)
            .filter(|v| *v <= MAX_NANOS)
            .ok_or_else(overflow)?;
        rest = after_unit;
    }

    if negative && total != 0 {
        return Err(ApiError::DurationNegative(err_input()));
    }
    let secs = u64::try_from(total / 1_000_000_000)
        .map_err(|_| ApiError::DurationOverflow(err_input()))?;
    let nanos = u32::try_from(total % 1_000_000_000)
        .map_err(|_| ApiError::DurationOverflow(err_input()))?;
    Ok(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("1h", Duration::from_secs(3600)),
            ("+1h", Duration::from_secs(3600)),
            ("2h30m", Duration::from_secs(9000)),
            ("10s", Duration::from_secs(10)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("300ms", Duration::from_millis(300)),
            ("1h1m1s1ms1us1ns", Duration::new(3661, 1_001_001)),
            ("2µs", Duration::from_micros(2)),
            ("2μs", Duration::from_micros(2)),
            ("1.0000000019s", Duration::new(1, 1)),
            ("2562047h", Duration::from_secs(2_562_047 * 3600)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_invalid_durations() {
        assert_eq!(parse_duration(""), Err(ApiError::DurationEmpty));
        for input in [
            "1", "h", "1x", "1h30", ".s", "-", "+", "1..5s", "-1h", "3000000h",
        ] {
            assert!(parse_duration(input).is_err(), "{input} should fail");
        }
        assert!(matches!(
            parse_duration("-1s"),
            Err(ApiError::DurationNegative(_))
        ));
        assert!(matches!(
            parse_duration("5d"),
            Err(ApiError::DurationUnknownUnit { unit, .. }) if unit == "d"
        ));
    }
}
