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

    /// Checks a stream name (and the other members of its shape: shard ids, consumer
    /// names): 1 to 128 of `[a-zA-Z0-9_.-]`. AWS checks the pattern before the length, so
    /// an empty name breaks both, listed in that order.
    pub fn stream_name(&mut self, value: &str, field: &str) {
        if value.is_empty() || !is_valid_stream_name_chars(value) {
            self.push(
                Some(value),
                field,
                &format!("satisfy regular expression pattern: {STREAM_NAME_PATTERN}"),
            );
        }
        self.length(value, field, 1, 128);
    }

    /// Checks the length of every string in a list, as AWS reports it: once for the list,
    /// `Value '[a, b]' at 'tagKeys' failed to satisfy constraint: Member must satisfy
    /// constraint: [Member must have length less than or equal to 128, Member must have
    /// length greater than or equal to 1]`.
    pub fn member_lengths(&mut self, values: &[String], field: &str, min: usize, max: usize) {
        if values
            .iter()
            .all(|v| (min..=max).contains(&v.chars().count()))
        {
            return;
        }
        self.push(
            Some(&format!("[{}]", values.join(", "))),
            field,
            &format!("satisfy constraint: {}", length_pair(min, max)),
        );
    }

    /// Checks the lengths of a map's keys and values, as AWS reports them: `Value '{k=v}'
    /// at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [...]`
    /// (and `Map value must ...` for the values).
    pub fn map_lengths<'a>(
        &mut self,
        entries: impl Iterator<Item = (&'a String, &'a String)> + Clone,
        field: &str,
        keys: (usize, usize),
        values: (usize, usize),
    ) {
        let fits = |s: &str, (min, max): (usize, usize)| (min..=max).contains(&s.chars().count());
        let shown = || {
            let pairs: Vec<String> = entries.clone().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{{{}}}", pairs.join(", "))
        };
        if !entries.clone().all(|(k, _)| fits(k, keys)) {
            let text = format!(
                "Map keys must satisfy constraint: {}",
                length_pair(keys.0, keys.1)
            );
            self.push_raw(Some(&shown()), field, &text);
        }
        if !entries.clone().all(|(_, v)| fits(v, values)) {
            let text = format!(
                "Map value must satisfy constraint: {}",
                length_pair(values.0, values.1)
            );
            self.push_raw(Some(&shown()), field, &text);
        }
    }

    /// Records a violation whose constraint text does not start with "Member must".
    fn push_raw(&mut self, value: Option<&str>, field: &str, constraint: &str) {
        let value = match value {
            Some(v) => format!("Value '{v}'"),
            None => "Value null".to_string(),
        };
        self.0.push(format!(
            "{value} at '{field}' failed to satisfy constraint: {constraint}"
        ));
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

    /// The full message as AWS prints it: Kinesis stops at ten violations and counts only
    /// those it lists ("10 validation errors detected: ..." for a 501-record PutRecords
    /// whose every record is also bad, as kinesalite recorded).
    pub fn message(&self) -> String {
        let listed: Vec<&str> = self.0.iter().take(10).map(String::as_str).collect();
        let count = listed.len();
        let noun = if count == 1 { "error" } else { "errors" };
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

/// AWS's bracketed pair of length constraints on a collection's members.
fn length_pair(min: usize, max: usize) -> String {
    format!(
        "[Member must have length less than or equal to {max}, Member must have length \
         greater than or equal to {min}]"
    )
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
    fn only_the_first_ten_violations_are_listed_and_counted() {
        let mut v = Violations::new();
        for i in 1..=12 {
            v.length("", &format!("records.{i}.member.partitionKey"), 1, 256);
        }
        let message = v.message();
        assert!(
            message.starts_with("10 validation errors detected: Value '' at 'records.1.member"),
            "{message}"
        );
        assert_eq!(message.matches("; ").count(), 9, "{message}");
        assert!(message.ends_with("'records.10.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{message}");
        assert_eq!(v.items().len(), 12);
    }

    #[test]
    fn an_empty_name_breaks_the_pattern_then_the_length() {
        let mut v = Violations::new();
        v.stream_name("", "streamName");
        assert_eq!(
            v.message(),
            "2 validation errors detected: Value '' at 'streamName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: Member must have length \
             greater than or equal to 1"
        );
    }

    #[test]
    fn list_and_map_member_lengths() {
        let mut v = Violations::new();
        v.member_lengths(&["a".into(), "bb".into()], "tagKeys", 1, 1);
        let tags: std::collections::BTreeMap<String, String> = [
            ("a".to_string(), "1".to_string()),
            ("bb".to_string(), "22".to_string()),
        ]
        .into();
        v.map_lengths(tags.iter(), "tags", (1, 1), (0, 1));
        assert_eq!(
            v.items(),
            [
                "Value '[a, bb]' at 'tagKeys' failed to satisfy constraint: Member must satisfy \
                 constraint: [Member must have length less than or equal to 1, Member must have \
                 length greater than or equal to 1]",
                "Value '{a=1, bb=22}' at 'tags' failed to satisfy constraint: Map keys must \
                 satisfy constraint: [Member must have length less than or equal to 1, Member \
                 must have length greater than or equal to 1]",
                "Value '{a=1, bb=22}' at 'tags' failed to satisfy constraint: Map value must \
                 satisfy constraint: [Member must have length less than or equal to 1, Member \
                 must have length greater than or equal to 0]",
            ]
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
