//! AWS's Integer request members.
//!
//! Kinesis reads a JSON number into a Coral `TruncatingBigNumber` and then into the
//! member's Java `Integer`: a fraction is dropped toward negative infinity and anything
//! above 2^31-1 becomes 2^31-1. So `{"Limit": 1.5}` asks for one record and
//! `{"Limit": 1e12}` for 2147483647, which then fails the member's range check with the
//! usual ValidationException (kinesalite records the same, `validations/index.js`). A
//! string, boolean, list or map keeps its SerializationException.

use std::fmt;

use serde::de::Visitor;
use serde::Deserializer;

/// The largest value a Java `Integer` member holds.
const JAVA_INT_MAX: i64 = i32::MAX as i64;

/// Deserializes an optional Integer member as Kinesis does: fractions floored, values
/// capped at 2^31-1. Use with `#[serde(default, deserialize_with = ...)]`.
pub fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    deserializer.deserialize_option(IntegerVisitor)
}

struct IntegerVisitor;

impl<'de> Visitor<'de> for IntegerVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text serde's own integer visitors use, so java.rs words the refusal.
        f.write_str("integer")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.min(JAVA_INT_MAX)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(
            i64::try_from(v).map_or(JAVA_INT_MAX, |v| v.min(JAVA_INT_MAX)),
        ))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.is_nan() {
            return Err(E::custom("integer is not a number"));
        }
        // `as` saturates, so -1e300 is i64::MIN and fails the member's minimum.
        Ok(Some((v.floor() as i64).min(JAVA_INT_MAX)))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Input {
        #[serde(default, deserialize_with = "super::integer")]
        limit: Option<i64>,
    }

    fn json(body: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<Input>(body)
            .map(|i| i.limit)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn fractions_are_floored_and_large_values_capped() {
        assert_eq!(json(r#"{"limit": 1.5}"#), Ok(Some(1)));
        assert_eq!(json(r#"{"limit": 1.999}"#), Ok(Some(1)));
        assert_eq!(json(r#"{"limit": -0.5}"#), Ok(Some(-1)));
        assert_eq!(json(r#"{"limit": 2147483648}"#), Ok(Some(2147483647)));
        assert_eq!(json(r#"{"limit": 1e12}"#), Ok(Some(2147483647)));
        assert_eq!(
            json(r#"{"limit": 18446744073709551615}"#),
            Ok(Some(2147483647))
        );
        assert_eq!(json(r#"{"limit": 25}"#), Ok(Some(25)));
        assert_eq!(json(r#"{"limit": null}"#), Ok(None));
        assert_eq!(json("{}"), Ok(None));
    }

    #[test]
    fn other_types_keep_awss_serialization_text() {
        for (body, text) in [
            (
                r#"{"limit": "23"}"#,
                "class java.lang.String can not be converted to an Integer",
            ),
            (
                r#"{"limit": true}"#,
                "class java.lang.Boolean can not be converted to an Integer",
            ),
        ] {
            let err = json(body).expect_err(body);
            assert_eq!(
                crate::protocol::serialization_message(&err).as_deref(),
                Some(text),
                "{err}"
            );
        }
    }

    #[test]
    fn cbor_floats_are_floored_too() {
        let mut body = Vec::new();
        let value = ciborium::Value::Map(vec![(
            ciborium::Value::Text("limit".into()),
            ciborium::Value::Float(3.7),
        )]);
        ciborium::into_writer(&value, &mut body).expect("encode");
        let input: Input = ciborium::from_reader(body.as_slice()).expect("decode");
        assert_eq!(input.limit, Some(3));
    }
}
