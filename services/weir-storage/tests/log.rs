//! Behaviour of the shard log that the data plane relies on: appends are readable in
//! order, survive reopening, torn tails are cut without losing earlier batches, retention
//! drops whole old segments, and timestamps find the right offset.

mod common;

use common::runtime;
use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;
use weir_storage::{LogConfig, NewRecord, ShardLog};

fn record(key: &str, data: &[u8]) -> NewRecord {
    NewRecord {
        partition_key: key.to_string(),
        data: Bytes::copy_from_slice(data),
    }
}

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        ..LogConfig::default()
    }
}

fn tail_segment(dir: &Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

#[test]
fn appends_read_back_in_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = ShardLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..200u32 {
        let ack = rt
            .block_on(log.append(
                vec![record(&format!("k{i}"), &i.to_be_bytes().repeat(20))],
                1000 + i as i64,
            ))
            .unwrap();
        assert_eq!(ack.base_offset, u64::from(i));
    }
    assert!(log.segments().len() > 3, "tiny segments should roll");
    let all = log.read(0, 10_000, usize::MAX).unwrap();
    assert_eq!(all.len(), 200);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.offset, i as u64);
        assert_eq!(r.partition_key, format!("k{i}"));
        assert_eq!(&r.data[..4], &(i as u32).to_be_bytes());
    }
    // Reads from the middle of a batch and of a segment, with a record limit.
    let some = log.read(57, 5, usize::MAX).unwrap();
    assert_eq!(
        some.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![57, 58, 59, 60, 61]
    );
    log.close();

    let reopened = ShardLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(reopened.next_offset(), 200);
    assert_eq!(reopened.read(0, 10_000, usize::MAX).unwrap(), all);
    let ack = rt
        .block_on(reopened.append(vec![record("after", b"x")], 0))
        .unwrap();
    assert_eq!(ack.base_offset, 200);
    assert_eq!(ack.timestamp_ms, 1199, "timestamps never go backwards");
}

#[test]
fn concurrent_appends_get_unique_contiguous_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = std::sync::Arc::new(ShardLog::open(dir.path(), LogConfig::default()).unwrap());
    let acks = rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..8 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut acks = Vec::new();
                for i in 0..50 {
                    let batch = vec![
                        record(&format!("{w}-{i}"), b"a"),
                        record(&format!("{w}-{i}"), b"b"),
                    ];
                    acks.push(log.append(batch, 1).await.unwrap().base_offset);
                }
                acks
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let mut sorted = acks.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..800).step_by(2).collect::<Vec<u64>>());
    let records = log.read(0, 10_000, usize::MAX).unwrap();
    assert_eq!(records.len(), 800);
    for pair in records.chunks(2) {
        assert_eq!(
            pair[0].partition_key, pair[1].partition_key,
            "a batch stays contiguous"
        );
    }
}

#[test]
fn torn_tail_is_truncated_and_earlier_batches_kept() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
    for i in 0..10u8 {
        rt.block_on(log.append(vec![record("k", &[i; 100])], 5))
            .unwrap();
    }
    log.close();
    drop(log);
    let tail = tail_segment(dir.path());
    let len = std::fs::metadata(&tail).unwrap().len();
    // Cut the last batch in half, as a crash in the middle of a write would.
    let f = std::fs::OpenOptions::new().write(true).open(&tail).unwrap();
    f.set_len(len - 50).unwrap();
    drop(f);

    let log = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.next_offset(), 9);
    let records = log.read(0, 100, usize::MAX).unwrap();
    assert_eq!(records.len(), 9);
    assert_eq!(records[8].data[0], 8);
    let ack = rt
        .block_on(log.append(vec![record("k", b"new")], 5))
        .unwrap();
    assert_eq!(ack.base_offset, 9);
    assert_eq!(
        log.read(9, 1, usize::MAX).unwrap()[0].data,
        Bytes::from_static(b"new")
    );
}

#[test]
fn corrupt_batch_in_tail_is_dropped_with_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
    for i in 0..5u8 {
        rt.block_on(log.append(vec![record("k", &[i; 100])], 5))
            .unwrap();
    }
    log.close();
    drop(log);
    let tail = tail_segment(dir.path());
    let mut bytes = std::fs::read(&tail).unwrap();
    let batch_len = bytes.len() / 5;
    bytes[2 * batch_len + 40] ^= 0xff; // flip a payload byte in the third batch
    std::fs::write(&tail, &bytes).unwrap();

    let log = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.next_offset(), 2);
    assert_eq!(log.read(0, 100, usize::MAX).unwrap().len(), 2);
}

#[test]
fn retention_deletes_whole_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = ShardLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..100i64 {
        rt.block_on(log.append(vec![record("k", &[0; 200])], i * 1000))
            .unwrap();
    }
    let before = log.segments().len();
    let deleted = log.enforce_retention(50_000).unwrap();
    assert!(deleted > 0 && deleted < before);
    let start = log.start_offset();
    assert!(start > 0 && start <= 50, "start {start}");
    let remaining = log.read(0, 1000, usize::MAX).unwrap();
    assert_eq!(
        remaining[0].offset, start,
        "reads clamp to the oldest retained record"
    );
    assert_eq!(remaining.last().unwrap().offset, 99);
    // Everything retained is still at or after the cutoff's segment, and nothing newer
    // than the cutoff was deleted.
    assert!(remaining.iter().any(|r| r.timestamp_ms < 50_000) || start == 50);
    assert!(remaining.iter().all(|r| r.offset >= start));
    log.close();
    let reopened = ShardLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(reopened.start_offset(), start);
    assert_eq!(reopened.next_offset(), 100);
}

#[test]
fn timestamps_find_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = ShardLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..60i64 {
        rt.block_on(log.append(vec![record("k", &[1; 100])], 10_000 + i * 10))
            .unwrap();
    }
    assert_eq!(log.offset_at_timestamp(0), 0);
    assert_eq!(log.offset_at_timestamp(10_000), 0);
    assert_eq!(log.offset_at_timestamp(10_001), 1);
    assert_eq!(log.offset_at_timestamp(10_250), 25);
    assert_eq!(log.offset_at_timestamp(99_999), 60);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever byte the file is cut at, recovery keeps exactly the batches that were
    /// entirely on disk before the cut, in order, and the log accepts appends afterwards.
    #[test]
    fn recovery_keeps_the_longest_intact_prefix(
        batches in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..4), 1..12),
        cut_fraction in 0.0f64..1.0,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let log = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
        let mut ends = Vec::new();
        for (b, batch) in batches.iter().enumerate() {
            let records = batch.iter().map(|d| record(&format!("b{b}"), d)).collect();
            rt.block_on(log.append(records, 1)).unwrap();
            ends.push(std::fs::metadata(tail_segment(dir.path())).unwrap().len());
        }
        log.close();
        drop(log);
        let tail = tail_segment(dir.path());
        let total = *ends.last().unwrap();
        let cut = (total as f64 * cut_fraction) as u64;
        std::fs::OpenOptions::new().write(true).open(&tail).unwrap().set_len(cut).unwrap();

        let intact = ends.iter().filter(|e| **e <= cut).count();
        let expected: Vec<Vec<u8>> = batches[..intact].iter().flatten().cloned().collect();
        let log = ShardLog::open(dir.path(), LogConfig::default()).unwrap();
        let got: Vec<Vec<u8>> = log.read(0, 100_000, usize::MAX).unwrap().into_iter().map(|r| r.data.to_vec()).collect();
        prop_assert_eq!(got, expected.clone());
        let ack = rt.block_on(log.append(vec![record("z", b"z")], 1)).unwrap();
        prop_assert_eq!(ack.base_offset, expected.len() as u64);
    }
}

#[test]
fn seal_refuses_later_appends_and_reports_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = std::sync::Arc::new(ShardLog::open(dir.path(), LogConfig::default()).unwrap());
    rt.block_on(async {
        for i in 0..5u8 {
            log.append(vec![record("k", &[i])], 1).await.unwrap();
        }
        assert_eq!(log.seal().await.unwrap(), 5);
        assert!(matches!(
            log.append(vec![record("k", b"late")], 1).await,
            Err(weir_storage::StorageError::Sealed)
        ));
        assert_eq!(log.seal().await.unwrap(), 5, "sealing twice is harmless");
        assert_eq!(log.unseal().await.unwrap(), 5);
        assert_eq!(
            log.append(vec![record("k", b"again")], 1)
                .await
                .unwrap()
                .base_offset,
            5
        );
    });
}

#[test]
fn tiering_hooks_roll_list_drop_and_start_at_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = ShardLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..100u32 {
        rt.block_on(log.append(vec![record("k", &[7u8; 100])], i64::from(i)))
            .unwrap();
    }
    let before = log.sealed_segments();
    assert!(!before.is_empty());
    rt.block_on(log.roll()).unwrap();
    let after = log.sealed_segments();
    assert_eq!(after.last().unwrap().end_offset, 100, "roll seals the tail");
    assert!(after.iter().all(|s| s.index_path.exists()));
    // Only the oldest segment can be dropped, and only by its own base offset.
    assert!(!log.drop_oldest(after[1].base_offset).unwrap());
    assert!(log.drop_oldest(after[0].base_offset).unwrap());
    assert!(!after[0].log_path.exists());
    assert_eq!(log.start_offset(), after[1].base_offset);
    let rest = log.read(0, 1000, usize::MAX).unwrap();
    assert_eq!(rest.first().unwrap().offset, after[1].base_offset);
    assert_eq!(rest.len() as u64, 100 - after[1].base_offset);
    log.close();

    // A fresh folder continuing a shard whose history is elsewhere.
    let moved = tempfile::tempdir().unwrap();
    let log = ShardLog::open_at(moved.path(), small_segments(), 100).unwrap();
    let ack = rt.block_on(log.append(vec![record("k", b"x")], 5)).unwrap();
    assert_eq!(ack.base_offset, 100);
    log.close();
    let log = ShardLog::open_at(moved.path(), small_segments(), 0).unwrap();
    assert_eq!(
        log.next_offset(),
        101,
        "existing segments win over start_offset"
    );
}

#[test]
fn a_full_append_queue_refuses_instead_of_queueing_and_stores_only_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = ShardLog::open(
        dir.path(),
        LogConfig {
            queue_depth: 1,
            ..LogConfig::default()
        },
    )
    .unwrap();
    let log = std::sync::Arc::new(log);
    let payload = vec![7u8; 256 * 1024];
    // Twenty appends at once: the writer thread takes one batch at a time and fsyncs it,
    // so the one-deep queue fills and the rest are refused at once.
    let outcomes = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            let log = std::sync::Arc::clone(&log);
            let batch = vec![record(&format!("k{i}"), &payload)];
            tasks.push(tokio::spawn(async move { log.append(batch, 1000).await }));
        }
        let mut outcomes = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            outcomes.push((i, task.await.unwrap()));
        }
        outcomes
    });
    let acknowledged: Vec<usize> = outcomes
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    let refused = outcomes
        .iter()
        .filter(|(_, r)| matches!(r, Err(weir_storage::StorageError::QueueFull)))
        .count();
    assert!(!acknowledged.is_empty(), "{outcomes:?}");
    assert!(refused > 0, "a one-deep queue took twenty batches at once");
    assert_eq!(
        acknowledged.len() + refused,
        20,
        "only QueueFull may fail: {outcomes:?}"
    );
    // Tasks on two threads reach the queue in any order: compare what, not in which order.
    let mut stored: Vec<String> = log
        .read(0, 100, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| r.partition_key)
        .collect();
    stored.sort();
    let mut expected: Vec<String> = acknowledged.iter().map(|i| format!("k{i}")).collect();
    expected.sort();
    assert_eq!(stored, expected);
}
