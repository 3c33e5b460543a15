//! What replication relies on in the storage engine: batches copied from a leader's log
//! are appended byte for byte and read back the same; a corrupt or misplaced copy is
//! refused before anything is written; a follower's divergent suffix is cut at a batch
//! boundary, across segments, and stays cut after a crash; an empty or far-behind
//! follower restarts its log where the leader's local log starts.

mod common;

use bytes::Bytes;
use common::runtime;
use proptest::prelude::*;
use weir_storage::{LogConfig, NewRecord, ShardLog, StorageError, StoredRecord};

fn batch(tag: &str, n: usize) -> Vec<NewRecord> {
    (0..n)
        .map(|i| NewRecord {
            partition_key: format!("{tag}-{i}"),
            data: Bytes::from(format!("{tag}-payload-{i}").repeat(3)),
        })
        .collect()
}

fn config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        ..LogConfig::default()
    }
}

/// Copies everything from `leader` (from the follower's end) into `follower`, the way a
/// replication task does: whole batches, as stored, at most `chunk` bytes a request.
fn copy(rt: &tokio::runtime::Runtime, leader: &ShardLog, follower: &ShardLog, chunk: usize) {
    loop {
        let from = follower.next_offset();
        let Some(raw) = leader.read_raw(from, chunk, u64::MAX).unwrap() else {
            return;
        };
        assert_eq!(raw.from, from);
        let end = rt
            .block_on(follower.append_raw(raw.bytes, from, Some(raw.segment_base)))
            .unwrap();
        assert_eq!(end, raw.end);
    }
}

fn all(log: &ShardLog) -> Vec<StoredRecord> {
    log.read(0, usize::MAX, usize::MAX).unwrap()
}

#[test]
fn copied_batches_read_back_exactly_as_on_the_leader() {
    let rt = runtime();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = ShardLog::open(a.path(), config(2048)).unwrap();
    let follower = ShardLog::open(b.path(), config(2048)).unwrap();
    for i in 0..40 {
        rt.block_on(leader.append(batch(&format!("b{i}"), 1 + i % 7), 1000 + i as i64))
            .unwrap();
    }
    copy(&rt, &leader, &follower, 700);
    assert_eq!(follower.next_offset(), leader.next_offset());
    assert_eq!(all(&follower), all(&leader));
    // Segments start where the leader's do (what a new leader uploads matches), and
    // sealed ones are byte-identical files.
    let bases = |log: &ShardLog| log.segments().iter().map(|s| s.0).collect::<Vec<_>>();
    assert_eq!(bases(&follower), bases(&leader));
    for (l, f) in leader
        .sealed_segments()
        .iter()
        .zip(follower.sealed_segments())
    {
        assert_eq!(
            std::fs::read(&l.log_path).unwrap(),
            std::fs::read(&f.log_path).unwrap()
        );
    }
    // Timestamps travel with the batches, so reads by time agree too.
    for t in [999, 1000, 1017, 1039, 1040] {
        assert_eq!(
            follower.offset_at_timestamp(t),
            leader.offset_at_timestamp(t)
        );
    }
    // And a restart of the follower recovers the same log.
    follower.close();
    let reopened = ShardLog::open(b.path(), config(2048)).unwrap();
    assert_eq!(all(&reopened), all(&leader));
}

#[test]
fn a_corrupt_or_misplaced_copy_is_refused_and_nothing_is_written() {
    let rt = runtime();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = ShardLog::open(a.path(), LogConfig::default()).unwrap();
    let follower = ShardLog::open(b.path(), LogConfig::default()).unwrap();
    rt.block_on(leader.append(batch("x", 3), 5)).unwrap();
    rt.block_on(leader.append(batch("y", 2), 6)).unwrap();
    let raw = leader.read_raw(0, usize::MAX, u64::MAX).unwrap().unwrap();
    // Not where the follower's log ends.
    let err = rt
        .block_on(follower.append_raw(raw.bytes.clone(), 3, None))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::OutOfSequence {
                expected: 0,
                got: 3
            }
        ),
        "{err}"
    );
    // A flipped bit anywhere is caught by the CRC (or the framing) before any write.
    for at in [0usize, 5, 13, 30, raw.bytes.len() - 1] {
        let mut bad = raw.bytes.to_vec();
        bad[at] ^= 0x20;
        assert!(
            rt.block_on(follower.append_raw(Bytes::from(bad), 0, None))
                .is_err(),
            "flip at {at}"
        );
        assert_eq!(follower.next_offset(), 0);
    }
    // A torn copy (half a batch) too.
    let torn = raw.bytes.slice(..raw.bytes.len() - 4);
    assert!(rt.block_on(follower.append_raw(torn, 0, None)).is_err());
    assert_eq!(follower.next_offset(), 0);
    assert!(all(&follower).is_empty());
    // Reading from inside a batch is refused, from its start is fine.
    assert!(matches!(
        leader.read_raw(1, 1024, u64::MAX),
        Err(StorageError::NotBatchStart(1))
    ));
    assert_eq!(leader.read_raw(3, 1, u64::MAX).unwrap().unwrap().end, 5);
    assert!(leader.read_raw(5, 1, u64::MAX).unwrap().is_none());
    // Never past `until`: a request carries one generation's batches only.
    let first = leader.read_raw(0, usize::MAX, 3).unwrap().unwrap();
    assert_eq!((first.from, first.end), (0, 3));
}

#[test]
fn a_divergent_suffix_is_cut_across_segments_and_stays_cut_after_a_crash() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = ShardLog::open(dir.path(), config(600)).unwrap();
    let mut boundaries = vec![0];
    for i in 0..30 {
        let ack = rt
            .block_on(log.append(batch(&format!("k{i}"), 3), i))
            .unwrap();
        boundaries.push(ack.base_offset + 3);
    }
    assert!(log.segments().len() > 3, "small segments should roll");
    let before = all(&log);
    assert!(matches!(
        rt.block_on(log.truncate(31, false)),
        Err(StorageError::NotBatchStart(31))
    ));
    let end = rt.block_on(log.truncate(30, false)).unwrap();
    assert_eq!(end, 30);
    assert_eq!(log.next_offset(), 30);
    assert_eq!(all(&log), before[..30].to_vec());
    // New batches continue from the cut.
    let ack = rt.block_on(log.append(batch("new", 2), 100)).unwrap();
    assert_eq!(ack.base_offset, 30);
    let expected = all(&log);
    // kill -9 equivalent: reopen without closing; the cut and the new batch are durable.
    drop(log);
    let reopened = ShardLog::open(dir.path(), config(600)).unwrap();
    assert_eq!(all(&reopened), expected);
    assert_eq!(reopened.next_offset(), 32);
}

#[test]
fn a_follower_rebases_where_the_leaders_local_log_starts() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
    rt.block_on(log.append(batch("old", 4), 1)).unwrap();
    let end = rt.block_on(log.truncate(5000, true)).unwrap();
    assert_eq!(
        (end, log.start_offset(), log.next_offset()),
        (5000, 5000, 5000)
    );
    let ack = rt.block_on(log.append(batch("new", 2), 2)).unwrap();
    assert_eq!(ack.base_offset, 5000);
    drop(log);
    let reopened = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
    let records = all(&reopened);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].offset, 5000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the batch sizes, segment size and chunk size, a follower that cuts its
    /// log at any batch boundary and copies the leader's log from there ends up with the
    /// leader's records exactly.
    #[test]
    fn cut_anywhere_then_copy_converges_on_the_leaders_log(
        sizes in proptest::collection::vec(1usize..6, 1..25),
        diverge in proptest::collection::vec(1usize..6, 0..6),
        cut in 0usize..25,
        segment in 300u64..3000,
        chunk in 1usize..2000,
    ) {
        let rt = runtime();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let leader = ShardLog::open(a.path(), config(segment)).unwrap();
        let follower = ShardLog::open(b.path(), config(segment)).unwrap();
        let mut boundaries = vec![0u64];
        for (i, n) in sizes.iter().enumerate() {
            let ack = rt.block_on(leader.append(batch(&format!("l{i}"), *n), i as i64)).unwrap();
            boundaries.push(ack.base_offset + *n as u64);
        }
        // The follower holds a prefix of the leader's log plus batches the leader never had.
        let keep = boundaries[cut.min(boundaries.len() - 1)];
        while follower.next_offset() < keep {
            let raw = leader.read_raw(follower.next_offset(), chunk, u64::MAX).unwrap().unwrap();
            let upto = raw.end;
            rt.block_on(follower.append_raw(raw.bytes, raw.from, Some(raw.segment_base))).unwrap();
            prop_assert!(upto <= leader.next_offset());
        }
        let keep = follower.next_offset();
        for (i, n) in diverge.iter().enumerate() {
            rt.block_on(follower.append(batch(&format!("f{i}"), *n), 50 + i as i64)).unwrap();
        }
        rt.block_on(follower.truncate(keep, false)).unwrap();
        copy(&rt, &leader, &follower, chunk);
        prop_assert_eq!(all(&follower), all(&leader));
    }
}
