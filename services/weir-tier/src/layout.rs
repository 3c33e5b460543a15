//! Object keys of the cold tier.
//!
//! `streams/<stream uid>/<shard ordinal>/<base offset:020>-g<generation:010>.log` and the
//! same with `.idx`. The stream's uid (not its name) keeps a recreated stream apart from
//! a deleted one whose objects are still being removed; the generation keeps a fenced
//! node's late upload apart from its successor's segment at the same offset.

/// Prefix of every object of one stream.
pub fn stream_prefix(stream_uid: i64) -> String {
    format!("streams/{stream_uid}/")
}

/// Key of a segment's `.log` object.
pub fn segment_key(stream_uid: i64, ordinal: u64, generation: u64, base_offset: u64) -> String {
    format!("streams/{stream_uid}/{ordinal}/{base_offset:020}-g{generation:010}.log")
}

/// Key of the `.idx` object belonging to a segment key.
pub fn index_key(segment_key: &str) -> String {
    match segment_key.strip_suffix(".log") {
        Some(stem) => format!("{stem}.idx"),
        None => format!("{segment_key}.idx"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_offset_and_carry_the_generation() {
        let a = segment_key(7, 3, 2, 99);
        let b = segment_key(7, 3, 1, 1000);
        assert_eq!(a, "streams/7/3/00000000000000000099-g0000000002.log");
        assert!(a < b, "lexical order is offset order");
        assert!(a.starts_with(&stream_prefix(7)));
        assert_eq!(
            index_key(&a),
            "streams/7/3/00000000000000000099-g0000000002.idx"
        );
    }
}
