//! Canonical bytes of an event: the JSON Canonicalization Scheme (JCS, RFC 8785).
//!
//! The domain crate builds each event as `{seq, type, at, order_id?, merchant_id?, data}`, calls
//! [`canonical_json`], stores the bytes, and logs `leaf_hash(bytes)`. Anyone holding the event can
//! recompute the same bytes with any RFC 8785 implementation, in any language.
//!
//! RFC 8785 §3.2.2.3 serializes every number as an IEEE 754 double (the ECMAScript rules). An
//! integer beyond ±(2^53 − 1) has no exact double, so JCS would silently change it (a `u64`
//! amount or id would be rounded). [`canonical_json`] refuses such integers instead of rounding
//! them: put large numbers in strings. This is also the I-JSON rule (RFC 7493 §2.2).

use serde_json::Value;

use crate::error::{NotaryError, Result};

/// The largest integer every JSON reader holds exactly: 2^53 − 1 (RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Deepest nesting accepted (serde_json's own parser stops at 128); events are shallow.
pub const MAX_DEPTH: usize = 64;

/// RFC 8785 canonical bytes of `value`: object members sorted by the UTF-16 code units of their
/// names, no insignificant whitespace, numbers in ECMAScript form (`1e+21`, `-0` → `0`,
/// `333333333.3333333`), minimal string escaping.
///
/// # Errors
/// [`NotaryError::NotCanonical`] if an integer lies outside ±(2^53 − 1) (it has no exact JCS
/// form), or if the value nests deeper than [`MAX_DEPTH`].
pub fn canonical_json(value: &Value) -> Result<Vec<u8>> {
    check_representable(value, "$", 0)?;
    serde_json_canonicalizer::to_vec(value).map_err(|e| NotaryError::NotCanonical {
        reason: e.to_string(),
    })
}

fn check_representable(value: &Value, path: &str, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(NotaryError::NotCanonical {
            reason: format!("{path} nests deeper than {MAX_DEPTH} levels"),
        });
    }
    match value {
        Value::Number(number) => {
            let safe = if let Some(i) = number.as_i64() {
                i.unsigned_abs() <= MAX_SAFE_INTEGER
            } else if number.is_u64() {
                // Only reached for integers above i64::MAX.
                false
            } else {
                // A float: JCS prints the double it is, exactly as any reader would parse it.
                true
            };
            if !safe {
                return Err(NotaryError::NotCanonical {
                    reason: format!(
                        "the integer {number} at {path} is beyond ±(2^53 - 1) and would be rounded; \
                         write it as a string"
                    ),
                });
            }
            Ok(())
        }
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            check_representable(item, &format!("{path}[{i}]"), depth + 1)
        }),
        Value::Object(members) => members.iter().try_for_each(|(name, item)| {
            check_representable(item, &format!("{path}.{name}"), depth + 1)
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn jcs(text: &str) -> String {
        let value: Value = serde_json::from_str(text).unwrap();
        String::from_utf8(canonical_json(&value).unwrap()).unwrap()
    }

    #[test]
    fn rfc_8785_section_3_2_2_sample_object() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            jcs(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn rfc_8785_section_3_2_3_sorts_names_by_utf16_code_units() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        // U+1F600 (UTF-16 D83D DE00) sorts before U+FB33 although it is the larger code point.
        assert_eq!(
            jcs(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn rfc_8785_appendix_b_number_formatting() {
        let cases: [(u64, &str); 24] = [
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, want) in cases {
            let value = json!(f64::from_bits(bits));
            let got = String::from_utf8(canonical_json(&value).unwrap()).unwrap();
            assert_eq!(got, want, "double {bits:#018x}");
        }
    }

    #[test]
    fn number_spellings_from_text_are_normalized() {
        assert_eq!(jcs("1e21"), "1e+21");
        assert_eq!(jcs("-0"), "0");
        assert_eq!(jcs("-0.0"), "0");
        assert_eq!(jcs("333333333.3333333"), "333333333.3333333");
        assert_eq!(jcs("[1.0, 12e1, 0.1e1]"), "[1,120,1]");
    }

    #[test]
    fn an_event_object_is_compact_and_sorted() {
        let event = json!({
            "seq": 7,
            "type": "order.collected",
            "at": "2026-11-25T09:30:00Z",
            "order_id": "ord_01",
            "data": {"amount_fen": 128000, "payer": "c0ffee"}
        });
        assert_eq!(
            String::from_utf8(canonical_json(&event).unwrap()).unwrap(),
            r#"{"at":"2026-11-25T09:30:00Z","data":{"amount_fen":128000,"payer":"c0ffee"},"order_id":"ord_01","seq":7,"type":"order.collected"}"#
        );
    }

    #[test]
    fn integers_without_an_exact_double_are_refused() {
        let limit = MAX_SAFE_INTEGER;
        assert!(canonical_json(&json!({ "n": limit })).is_ok());
        assert!(canonical_json(&json!({ "n": -(limit as i64) })).is_ok());
        for bad in [
            json!(limit + 1),
            json!(-(limit as i64) - 1),
            json!(u64::MAX),
            json!(i64::MIN),
        ] {
            let err = canonical_json(&json!({ "data": { "amount_fen": bad } })).unwrap_err();
            assert!(err.to_string().contains("$.data.amount_fen"), "{err}");
        }
    }

    #[test]
    fn absurd_nesting_is_refused() {
        let mut value = json!(0);
        for _ in 0..=MAX_DEPTH {
            value = json!([value]);
        }
        assert!(canonical_json(&value).is_err());
    }
}
