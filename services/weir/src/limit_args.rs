//! `--shard-limits`: the per-shard throughput limits of streams that set none.

use weir_contracts::ShardLimits;

/// Parses `kinesis`, `off`, or `name=value` pairs separated by commas (`write-bytes`,
/// `write-records`, `read-calls`, `read-bytes`, per second; 0 turns one off; names left
/// out keep Kinesis's value).
pub fn parse_shard_limits(text: &str) -> Result<ShardLimits, String> {
    match text.trim() {
        "kinesis" | "on" => return Ok(ShardLimits::KINESIS),
        "off" | "none" => return Ok(ShardLimits::UNLIMITED),
        _ => {}
    }
    let mut limits = ShardLimits::KINESIS;
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not name=value; {HELP}"))?;
        let value: u64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{value:?} in {pair:?} is not a whole number per second"))?;
        let field = match name.trim() {
            "write-bytes" => &mut limits.write_bytes_per_sec,
            "write-records" => &mut limits.write_records_per_sec,
            "read-calls" => &mut limits.read_calls_per_sec,
            "read-bytes" => &mut limits.read_bytes_per_sec,
            other => return Err(format!("unknown limit {other:?}; {HELP}")),
        };
        *field = value;
    }
    Ok(limits)
}

const HELP: &str = "use kinesis, off, or e.g. write-bytes=1048576,write-records=1000,read-calls=5,read-bytes=2097152";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_values_override_kinesis_defaults_and_the_rest_stay() {
        let limits = parse_shard_limits("write-records=10, read-calls=0").unwrap();
        assert_eq!(limits.write_records_per_sec, 10);
        assert_eq!(limits.read_calls_per_sec, 0);
        assert_eq!(
            limits.write_bytes_per_sec,
            ShardLimits::KINESIS.write_bytes_per_sec
        );
        assert_eq!(parse_shard_limits("off").unwrap(), ShardLimits::UNLIMITED);
        assert_eq!(parse_shard_limits("kinesis").unwrap(), ShardLimits::KINESIS);
    }

    #[test]
    fn mistakes_say_what_is_accepted() {
        assert!(parse_shard_limits("write-recs=1")
            .unwrap_err()
            .contains("unknown limit"));
        assert!(parse_shard_limits("write-records")
            .unwrap_err()
            .contains("name=value"));
        assert!(parse_shard_limits("write-records=-1")
            .unwrap_err()
            .contains("whole number"));
    }
}
