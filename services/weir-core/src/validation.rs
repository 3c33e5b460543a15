//! AWS-style validation messages.
//!
//! Kinesis answers constraint violations with a ValidationException whose message lists up
//! to ten violations, e.g. `1 validation error detected: Value 'a b' at 'streamName' failed
//! to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+`.
//! Clients and their users match on this wording, so it is produced in one place.

/// An accumulating list of constraint violations for one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<String>);

/// Pattern text Kinesis quotes for stream names.
pub const STREAM_NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";

impl Violations {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation of `constraint` by `value` at `field` (camelCase member path).
    pub fn push(&mut self, value: Option<&str>, field: &str, constraint: &str) {
        let value = match value {
            Some(v) => format!("Value '{v}'"),
            None => "Value null".to_string(),
        };
        self.0.push(format!(
            "{value} at '{field}' failed to satisfy constraint: Member must {constraint}"
        ));
    }

    /// Checks that a required member is present.
    pub fn required<T>(&mut self, value: &Option<T>, field: &str) {
        if value.is_none() {
            self.push(None, field, "not be null");
        }
    }

    /// Checks a string's length in characters.
    pub fn length(&mut self, value: &str, field: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            self.push(
                Some(value),
                field,
                &format!("have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.push(
                Some(value),
                field,
                &format!("have length less than or equal to {max}"),
            );
        }
    }

    /// Checks a stream name: 1 to 128 of `[a-zA-Z0-9_.-]`.
    pub fn stream_name(&mut self, value: &str, field: &str) {
        self.length(value, field, 1, 128);
        if !value.is_empty() && !is_valid_stream_name_chars(value) {
            self.push(
                Some(value),
                field,
                &format!("satisfy regular expression pattern: {STREAM_NAME_PATTERN}"),
            );
        }
    }

    /// Checks an integer against inclusive bounds.
    pub fn range(&mut self, value: i64, field: &str, min: Option<i64>, max: Option<i64>) {
        let shown = value.to_string();
        if let Some(min) = min.filter(|m| value < *m) {
            self.push(
                Some(&shown),
                field,
                &format!("have value greater than or equal to {min}"),
            );
        } else if let Some(max) = max.filter(|m| value > *m) {
            self.push(
                Some(&shown),
                field,
                &format!("have value less than or equal to {max}"),
            );
        }
    }

    /// Checks a string against a pattern described by `pattern`, given the verdict.
    pub fn pattern(&mut self, value: &str, field: &str, matches: bool, pattern: &str) {
        if !matches {
            self.push(
                Some(value),
                field,
                &format!("satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// Whether nothing was violated.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The individual violation texts.
    pub fn items(&self) -> &[String] {
        &self.0
    }

    /// The full message as AWS prints it (at most ten violations listed).
    pub fn message(&self) -> String {
        let count = self.0.len();
        let noun = if count == 1 { "error" } else { "errors" };
        let listed: Vec<&str> = self.0.iter().take(10).map(String::as_str).collect();
        format!("{count} validation {noun} detected: {}", listed.join("; "))
    }

    /// `Err(self)` when something was violated, for `?` chaining.
    pub fn into_result(self) -> Result<(), Violations> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

/// Whether every character is one Kinesis allows in a stream name.
pub fn is_valid_stream_name_chars(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws() {
        let mut v = Violations::new();
        v.stream_name("a b", "streamName");
        v.range(0, "shardCount", Some(1), None);
        assert_eq!(
            v.message(),
            "2 validation errors detected: Value 'a b' at 'streamName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '0' at 'shardCount' failed to satisfy constraint: Member must have value \
             greater than or equal to 1"
        );
    }

    #[test]
    fn null_members() {
        let mut v = Violations::new();
        v.required::<String>(&None, "partitionKey");
        assert_eq!(
            v.message(),
            "1 validation error detected: Value null at 'partitionKey' failed to satisfy \
             constraint: Member must not be null"
        );
    }
}
