//! Spelling of shard ids, stream ARNs and account ids.

/// The account id Weir reports when none is configured; AWS clients only need it to be
/// twelve digits.
pub const ACCOUNT_ID_DEFAULT: &str = "000000000000";

/// Formats a shard id as Kinesis does: `shardId-` plus twelve zero-padded digits.
pub fn shard_id(ordinal: u64) -> String {
    format!("shardId-{ordinal:012}")
}

/// Parses a shard id back to its ordinal the way Kinesis does: the part after the first
/// `-` (the whole id when there is none) must be digits, so `shardId-000000000005`,
/// `shardId-5`, `anything-5` and `5` all name shard 5, and the ordinal is at most
/// 2147483647. Messages then name the normalised id ([`shard_id`]).
pub fn shard_ordinal(id: &str) -> Option<u64> {
    let digits = id.split('-').nth(1).unwrap_or(id);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n <= MAX_SHARD_ORDINAL)
}

/// The highest shard number Kinesis accepts in a shard id.
pub const MAX_SHARD_ORDINAL: u64 = 2_147_483_647;

/// Builds the ARN of a stream.
pub fn stream_arn(region: &str, account: &str, stream: &str) -> String {
    format!("arn:aws:kinesis:{region}:{account}:stream/{stream}")
}

/// Extracts the stream name from an ARN of the form
/// `arn:aws*:kinesis:<region>:<12 digits>:stream/<name>`; `None` when it is not one.
pub fn stream_name_from_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_lit, partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn_lit != "arn" || !partition.starts_with("aws") || service != "kinesis" {
        return None;
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = resource.strip_prefix("stream/")?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids_round_trip() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        assert_eq!(shard_ordinal("shardId-000000000007"), Some(7));
        assert_eq!(shard_ordinal("7"), Some(7));
        assert_eq!(shard_ordinal("shardId-"), None);
        assert_eq!(
            shard_ordinal("shard-1"),
            Some(1),
            "any prefix, as Kinesis reads it"
        );
        assert_eq!(
            shard_ordinal("a-b-1"),
            None,
            "the part after the first dash"
        );
        assert_eq!(
            shard_ordinal("shardId-2147483648"),
            None,
            "past the largest"
        );
    }

    #[test]
    fn arns_round_trip() {
        let arn = stream_arn("us-east-1", ACCOUNT_ID_DEFAULT, "orders");
        assert_eq!(stream_name_from_arn(&arn), Some("orders"));
        assert_eq!(stream_name_from_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(
            stream_name_from_arn("arn:aws:kinesis:us-east-1:12:stream/x"),
            None
        );
    }
}
