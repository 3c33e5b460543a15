//! Electing the active control plane with a Lease, against the fake API server.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::FakeApi;
use weir_kube::{Leadership, LeaseElector, LeaseSettings, ACTIVE_LABEL};

const NS: &str = "weir";

fn elector(fake: &FakeApi, identity: &str, duration_ms: u64) -> Arc<LeaseElector> {
    let mut settings = LeaseSettings::new(NS, "weir-control-plane", identity);
    settings.lease_duration = Duration::from_millis(duration_ms);
    settings.renew_deadline = Duration::from_millis(duration_ms * 2 / 3);
    settings.retry_period = Duration::from_millis(100);
    Arc::new(LeaseElector::new(fake.client(), settings))
}

fn lease(fake: &FakeApi) -> serde_json::Value {
    fake.object("coordination.k8s.io", "leases", NS, "weir-control-plane")
        .expect("the Lease")
}

#[tokio::test]
async fn one_candidate_is_active_and_the_other_takes_over_when_it_dies() {
    let fake = FakeApi::start().await;
    let a = elector(&fake, "cp-a", 1000);
    let b = elector(&fake, "cp-b", 1000);
    let (a_state, a_task) = Arc::clone(&a).run();
    let (b_state, b_task) = Arc::clone(&b).run();

    let started = Instant::now();
    let mut first = None;
    while started.elapsed() < Duration::from_secs(3) {
        let (sa, sb) = (a_state.borrow().clone(), b_state.borrow().clone());
        assert!(
            !(sa == Leadership::Active && sb == Leadership::Active),
            "never two active control planes"
        );
        if first.is_none() && (sa == Leadership::Active || sb == Leadership::Active) {
            first = Some(if sa == Leadership::Active {
                "cp-a"
            } else {
                "cp-b"
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = first.expect("someone became active");
    assert_eq!(lease(&fake)["spec"]["holderIdentity"], first);
    assert_eq!(lease(&fake)["spec"]["leaseTransitions"], 0);

    // The active one dies without releasing (kill -9): the other waits out the lease.
    let (survivor_state, dead_task, survivor) = if first == "cp-a" {
        (b_state.clone(), a_task, "cp-b")
    } else {
        (a_state.clone(), b_task, "cp-a")
    };
    dead_task.abort();
    let died = Instant::now();
    let mut survivor_state = survivor_state;
    tokio::time::timeout(Duration::from_secs(5), async {
        while *survivor_state.borrow_and_update() != Leadership::Active {
            survivor_state.changed().await.expect("elector runs");
        }
    })
    .await
    .expect("the standby takes over");
    assert!(
        died.elapsed() >= Duration::from_millis(900),
        "not before the dead holder's lease ran out ({:?})",
        died.elapsed()
    );
    assert_eq!(lease(&fake)["spec"]["holderIdentity"], survivor);
    assert_eq!(lease(&fake)["spec"]["leaseTransitions"], 1);
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once() {
    let fake = FakeApi::start().await;
    let a = elector(&fake, "cp-a", 10_000);
    let b = elector(&fake, "cp-b", 10_000);
    assert_eq!(
        a.try_acquire_or_renew().await.expect("round"),
        Leadership::Active
    );
    assert_eq!(
        b.try_acquire_or_renew().await.expect("round"),
        Leadership::Standby {
            holder: Some("cp-a".into())
        }
    );
    // Renewing keeps it.
    assert_eq!(
        a.try_acquire_or_renew().await.expect("renew"),
        Leadership::Active
    );
    a.release().await.expect("release");
    assert_eq!(
        b.try_acquire_or_renew().await.expect("round"),
        Leadership::Active,
        "no need to wait out a 10 s lease that was given up"
    );
    assert_eq!(
        a.try_acquire_or_renew().await.expect("round"),
        Leadership::Standby {
            holder: Some("cp-b".into())
        }
    );
}

#[tokio::test]
async fn racing_candidates_for_an_expired_lease_cannot_both_win() {
    let fake = FakeApi::start().await;
    fake.seed(
        "coordination.k8s.io",
        "leases",
        NS,
        json!({
            "metadata": { "name": "weir-control-plane" },
            "spec": { "holderIdentity": "cp-gone", "leaseDurationSeconds": 1,
                      "renewTime": "2026-11-27T09:00:00.000000Z" },
        }),
        "kube-controller-manager",
    );
    let a = elector(&fake, "cp-a", 1000);
    let b = elector(&fake, "cp-b", 1000);
    for e in [&a, &b] {
        assert_eq!(
            e.try_acquire_or_renew().await.expect("first look"),
            Leadership::Standby {
                holder: Some("cp-gone".into())
            },
            "a holder is presumed alive until its lease runs out on our own clock"
        );
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
    let results = [ra.expect("a"), rb.expect("b")];
    let winners = results.iter().filter(|r| **r == Leadership::Active).count();
    assert_eq!(winners, 1, "exactly one wins: {results:?}");
    let holder = lease(&fake)["spec"]["holderIdentity"].clone();
    let expected = if results[0] == Leadership::Active {
        "cp-a"
    } else {
        "cp-b"
    };
    assert_eq!(holder, expected);
    assert_eq!(lease(&fake)["spec"]["leaseTransitions"], 1);
}

#[tokio::test]
async fn a_holder_that_cannot_renew_steps_down_before_its_lease_runs_out() {
    let fake = FakeApi::start().await;
    let a = elector(&fake, "cp-a", 1500);
    let (mut state, _task) = Arc::clone(&a).run();
    tokio::time::timeout(Duration::from_secs(3), async {
        while *state.borrow_and_update() != Leadership::Active {
            state.changed().await.expect("runs");
        }
    })
    .await
    .expect("active");
    fake.fail_next("/leases/", &[503; 100]);
    let cut = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), async {
        while *state.borrow_and_update() == Leadership::Active {
            state.changed().await.expect("runs");
        }
    })
    .await
    .expect("steps down");
    assert!(
        cut.elapsed() < Duration::from_millis(1500),
        "stepped down before anyone could take over ({:?})",
        cut.elapsed()
    );
}

#[tokio::test]
async fn the_active_replica_labels_its_own_pod_and_unlabels_it() {
    let fake = FakeApi::start().await;
    fake.seed(
        "",
        "pods",
        NS,
        json!({ "metadata": { "name": "cp-a", "labels": { "app": "weir" } } }),
        "kubelet",
    );
    let a = elector(&fake, "cp-a", 1000);
    a.label_own_pod(true).await.expect("label");
    let pod = fake.object("", "pods", NS, "cp-a").expect("pod");
    assert_eq!(pod["metadata"]["labels"][ACTIVE_LABEL], "true");
    assert_eq!(
        pod["metadata"]["labels"]["app"], "weir",
        "other labels kept"
    );
    a.label_own_pod(false).await.expect("unlabel");
    let pod = fake.object("", "pods", NS, "cp-a").expect("pod");
    assert!(
        pod["metadata"]["labels"].get(ACTIVE_LABEL).is_none(),
        "{pod}"
    );
    assert_eq!(pod["metadata"]["labels"]["app"], "weir");
}
