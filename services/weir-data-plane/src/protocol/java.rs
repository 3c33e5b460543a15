//! The texts of AWS's SerializationException, which come from Kinesis's Java (Coral)
//! request reader rather than from the model.
//!
//! AWS reads a JSON body member by member and names what it found against what the
//! member's shape wanted, e.g. `class java.lang.Boolean can not be converted to an
//! String` for `true` where a string belongs. kinesalite records these texts as measured
//! against the live service (`mhart/kinesalite`, `validations/index.js` and
//! `test/helpers.js`). serde reports the same mismatch as `invalid type: boolean `true`,
//! expected a string`; [`serialization_message`] translates one into the other. A body
//! that is not JSON at all gets no message: `{"__type": "SerializationException"}`.

/// What a request member's shape wants, as serde's `expected ...` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    String,
    Integer,
    Double,
    Boolean,
    Blob,
    Timestamp,
    List,
    Map,
    Structure,
}

/// What the body held instead, as serde's `invalid type: ...` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Boolean,
    Number,
    /// A string, with its text (serde quotes it in Rust's escaped form).
    String(String),
    List,
    Map,
}

/// The `expecting` text of [`super::Blob`]'s visitor.
pub(super) const BLOB_EXPECTING: &str = "a blob (base64 string or byte string)";
/// The `expecting` text of [`super::Timestamp`]'s visitor.
pub(super) const TIMESTAMP_EXPECTING: &str = "a timestamp number";

/// serde_json names the visitor's expectation; ciborium names the CBOR type it wanted
/// (`string`, `integer`, `array`, ...), so both spellings are read.
fn wanted(expected: &str) -> Option<Wanted> {
    Some(match expected {
        "a string" | "a borrowed string" | "a character" | "string" | "str" | "char" => {
            Wanted::String
        }
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize"
        | "isize" | "integer" => Wanted::Integer,
        "f32" | "f64" | "float" => Wanted::Double,
        "a boolean" => Wanted::Boolean,
        BLOB_EXPECTING | "bytes" | "str or bytes" | "byte buffer" => Wanted::Blob,
        TIMESTAMP_EXPECTING => Wanted::Timestamp,
        "a sequence" | "array" => Wanted::List,
        "a map" | "map" => Wanted::Map,
        other if other.starts_with("struct ") => Wanted::Structure,
        _ => return None,
    })
}

fn found(unexpected: &str) -> Option<Found> {
    if unexpected.starts_with("boolean") {
        return Some(Found::Boolean);
    }
    if unexpected.starts_with("integer") || unexpected.starts_with("floating point") {
        return Some(Found::Number);
    }
    if unexpected == "string" {
        // ciborium does not quote the text.
        return Some(Found::String(String::new()));
    }
    if let Some(quoted) = unexpected.strip_prefix("string ") {
        let text = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(quoted);
        return Some(Found::String(
            text.replace("\\\"", "\"").replace("\\\\", "\\"),
        ));
    }
    match unexpected {
        "sequence" => Some(Found::List),
        "map" => Some(Found::Map),
        _ => None,
    }
}

/// Java's name for a JSON number: Coral reads every number as one of these.
const BIG_NUMBER: &str = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
const START_OF_LIST: &str = "Start of list found where not expected";
const START_OF_MAP: &str = "Start of structure or map found where not expected.";

/// AWS's text for `found` where the shape wanted `wanted`, if AWS refuses it.
fn java_text(wanted: Wanted, found: &Found) -> Option<String> {
    let class = |found: &Found| match found {
        Found::Boolean => "class java.lang.Boolean",
        Found::Number => BIG_NUMBER,
        _ => "class java.lang.String",
    };
    let text = match (wanted, found) {
        (_, Found::List) if wanted != Wanted::List => START_OF_LIST.to_string(),
        (Wanted::List, Found::Map) => START_OF_MAP.to_string(),
        (Wanted::Map | Wanted::Structure, Found::Map) => return None,
        (_, Found::Map) => START_OF_MAP.to_string(),
        (Wanted::List, _) => "Expected list or null".to_string(),
        (Wanted::Map, _) => "Expected map or null".to_string(),
        (Wanted::Structure, _) => "Expected null".to_string(),
        (Wanted::String, Found::Boolean | Found::Number) => {
            format!("{} can not be converted to an String", class(found))
        }
        (Wanted::Integer, Found::Boolean | Found::String(_)) => {
            format!("{} can not be converted to an Integer", class(found))
        }
        (Wanted::Double, Found::Boolean | Found::String(_)) => {
            format!("{} can not be converted to an Double", class(found))
        }
        (Wanted::Boolean, Found::Number) => {
            format!("{BIG_NUMBER} can not be converted to an Boolean")
        }
        (Wanted::Boolean, Found::String(text)) => {
            format!(
                "'{}' can not be converted to an Boolean",
                text.to_uppercase()
            )
        }
        (Wanted::Blob, Found::Boolean | Found::Number) => {
            format!("{} can not be converted to a Blob", class(found))
        }
        (Wanted::Timestamp, Found::Boolean | Found::String(_)) => format!(
            "{} can not be converted to milliseconds since epoch",
            class(found)
        ),
        _ => return None,
    };
    Some(text)
}

/// Translates serde's message for a member of the wrong type (`invalid type: X,
/// expected Y`, with or without serde_json's ` at line L column C`) into AWS's text.
/// `None` when the message is of another kind, or names a pair AWS accepts.
pub fn serialization_message(serde_message: &str) -> Option<String> {
    let message = match serde_message.rfind(" at line ") {
        Some(at) => &serde_message[..at],
        None => serde_message,
    };
    // Texts the visitors already wrote in AWS's words (a Blob's base64 checks).
    if message.contains(" can not be converted to ") {
        return Some(message.to_string());
    }
    // serde reads a structure from a list too, and then complains about its length.
    if message.starts_with("invalid length ") && message.contains(", expected struct ") {
        return Some(START_OF_LIST.to_string());
    }
    let rest = message.strip_prefix("invalid type: ")?;
    let (unexpected, expected) = rest.rsplit_once(", expected ")?;
    java_text(wanted(expected)?, &found(unexpected)?)
}

/// AWS's text for a string that is not valid base64 where a blob belongs, in the order
/// Coral checks: the length, then each character, then the bits after the last one.
pub fn blob_message(text: &str) -> String {
    let len = text.chars().count();
    if !len.is_multiple_of(4) {
        return format!(
            "'{text}' can not be converted to a Blob: Base64 encoded length is expected a \
             multiple of 4 bytes but found: {len}"
        );
    }
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let valid = c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
        // Padding may only be followed by more padding.
        let misplaced_pad = *c == '=' && chars.get(i + 1).is_some_and(|next| *next != '=');
        if !valid || misplaced_pad {
            return format!(
                "'{text}' can not be converted to a Blob: Invalid Base64 character: '{c}'"
            );
        }
    }
    // AWS's own spelling, "dectected".
    format!(
        "'{text}' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Probe {
        name: Option<String>,
        limit: Option<i64>,
        flag: Option<bool>,
        keys: Option<Vec<String>>,
        tags: Option<std::collections::BTreeMap<String, String>>,
        inner: Option<Inner>,
        data: Option<crate::protocol::Blob>,
        at: Option<crate::protocol::Timestamp>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        x: Option<String>,
    }

    /// AWS's text for one JSON body, through serde_json as the gateway decodes it.
    fn aws(body: &str) -> Option<String> {
        let error = serde_json::from_str::<Probe>(body).err()?;
        serialization_message(&error.to_string())
    }

    #[test]
    fn strings() {
        let text = |v: &str| aws(&format!("{{\"Name\": {v}}}"));
        assert_eq!(
            text("true").as_deref(),
            Some("class java.lang.Boolean can not be converted to an String")
        );
        for number in ["23", "-2147483648", "2147483648", "34.56"] {
            assert_eq!(
                text(number).as_deref(),
                Some(
                    "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be \
                     converted to an String"
                )
            );
        }
        assert_eq!(text("[]").as_deref(), Some(START_OF_LIST));
        assert_eq!(text("{}").as_deref(), Some(START_OF_MAP));
    }

    #[test]
    fn integers_booleans_lists_maps_structures() {
        assert_eq!(
            aws(r#"{"Limit": "23"}"#).as_deref(),
            Some("class java.lang.String can not be converted to an Integer")
        );
        assert_eq!(
            aws(r#"{"Limit": true}"#).as_deref(),
            Some("class java.lang.Boolean can not be converted to an Integer")
        );
        assert_eq!(
            aws(r#"{"Flag": "23"}"#).as_deref(),
            Some("'23' can not be converted to an Boolean")
        );
        assert_eq!(
            aws(r#"{"Flag": 23}"#).as_deref(),
            Some(
                "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be \
                 converted to an Boolean"
            )
        );
        for scalar in ["\"23\"", "true", "23", "34.56"] {
            assert_eq!(
                aws(&format!("{{\"Keys\": {scalar}}}")).as_deref(),
                Some("Expected list or null")
            );
            assert_eq!(
                aws(&format!("{{\"Tags\": {scalar}}}")).as_deref(),
                Some("Expected map or null")
            );
            assert_eq!(
                aws(&format!("{{\"Inner\": {scalar}}}")).as_deref(),
                Some("Expected null")
            );
        }
        assert_eq!(aws(r#"{"Keys": {}}"#).as_deref(), Some(START_OF_MAP));
        assert_eq!(aws(r#"{"Tags": []}"#).as_deref(), Some(START_OF_LIST));
        assert_eq!(aws(r#"{"Inner": []}"#).as_deref(), Some(START_OF_LIST));
        assert_eq!(
            aws(r#"{"Keys": [true]}"#).as_deref(),
            Some("class java.lang.Boolean can not be converted to an String")
        );
        assert_eq!(
            aws(r#"{"Tags": {"a": true}}"#).as_deref(),
            Some("class java.lang.Boolean can not be converted to an String")
        );
    }

    #[test]
    fn blobs_and_timestamps() {
        assert_eq!(
            aws(r#"{"Data": true}"#).as_deref(),
            Some("class java.lang.Boolean can not be converted to a Blob")
        );
        assert_eq!(
            aws(r#"{"Data": 23}"#).as_deref(),
            Some(
                "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be \
                 converted to a Blob"
            )
        );
        assert_eq!(
            aws(r#"{"Data": "23456"}"#).as_deref(),
            Some(
                "'23456' can not be converted to a Blob: Base64 encoded length is expected a \
                 multiple of 4 bytes but found: 5"
            )
        );
        assert_eq!(
            aws(r#"{"Data": "=+/="}"#).as_deref(),
            Some("'=+/=' can not be converted to a Blob: Invalid Base64 character: '='")
        );
        assert_eq!(
            aws(r#"{"Data": "+/+="}"#).as_deref(),
            Some(
                "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character \
                 dectected"
            )
        );
        assert_eq!(
            aws(r#"{"At": "23"}"#).as_deref(),
            Some("class java.lang.String can not be converted to milliseconds since epoch")
        );
        assert_eq!(
            aws(r#"{"At": true}"#).as_deref(),
            Some("class java.lang.Boolean can not be converted to milliseconds since epoch")
        );
        assert_eq!(aws(r#"{"At": {}}"#).as_deref(), Some(START_OF_MAP));
    }

    #[test]
    fn cbor_members_get_the_same_texts() {
        let cbor = |value: ciborium::Value| {
            let mut body = Vec::new();
            ciborium::into_writer(&value, &mut body).unwrap();
            match ciborium::from_reader::<Probe, _>(body.as_slice()) {
                Err(ciborium::de::Error::Semantic(_, text)) => serialization_message(&text),
                other => panic!("not a semantic error: {other:?}"),
            }
        };
        let map = |key: &str, value: ciborium::Value| {
            ciborium::Value::Map(vec![(ciborium::Value::Text(key.into()), value)])
        };
        assert_eq!(
            cbor(map("Name", ciborium::Value::Bool(true))).as_deref(),
            Some("class java.lang.Boolean can not be converted to an String")
        );
        assert_eq!(
            cbor(map("Limit", ciborium::Value::Text("23".into()))).as_deref(),
            Some("class java.lang.String can not be converted to an Integer")
        );
        assert_eq!(
            cbor(map("Keys", ciborium::Value::Integer(23.into()))).as_deref(),
            Some("Expected list or null")
        );
    }

    #[test]
    fn syntax_errors_have_no_translation() {
        assert_eq!(aws(r#"{"Name": "#), None);
        assert_eq!(aws(r#"{"Name": "a"} x"#), None);
    }
}
