//! Account settings (the minimum throughput billing commitment) and the record
//! distribution strategy of streams, stored in both metadata backends: SQLite (embedded)
//! and Postgres (from `WEIR_TEST_POSTGRES_URL`, default the local server with trust auth;
//! each test gets its own fresh database). A control plane opened again on the same
//! database reports what the first one stored.

use std::sync::Arc;

use weir_contracts::{BillingCommitment, CommitmentStatus, MIN_COMMITMENT_MS};
use weir_control_plane::{
    ControlPlane, ControlPlaneConfig, ControlPlaneError, CreateStream, MetaStore, StreamMode,
};

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh Postgres database on the test server.
    async fn postgres() -> Self {
        let admin = std::env::var("WEIR_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap_or_else(|e| {
            panic!("Postgres is required for these tests ({admin}): {e}. Run `bash tests/run.sh`, which starts it.")
        });
        let name = format!("weir_test_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_string();
        Self::Postgres(format!("{base}/{name}"))
    }

    fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => {
                format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display())
            }
            Self::Postgres(url) => url.clone(),
        }
    }

    async fn store(&self) -> MetaStore {
        MetaStore::connect(&self.url()).await.unwrap()
    }

    async fn control_plane(&self) -> Arc<ControlPlane> {
        ControlPlane::new(
            self.store().await,
            ControlPlaneConfig {
                shard_limit: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }
}

/// The store keeps one commitment per account, every time included, and overwrites it.
async fn store_round_trip(backend: Backend) {
    let store = backend.store().await;
    assert_eq!(
        store.billing_commitment("111111111111").await.unwrap(),
        None
    );
    let pending = BillingCommitment {
        status: CommitmentStatus::EnabledUntilEarliestAllowedEnd,
        started_at_ms: Some(1_000),
        ended_at_ms: Some(1_000 + MIN_COMMITMENT_MS),
        earliest_allowed_end_ms: Some(1_000 + MIN_COMMITMENT_MS),
    };
    store
        .set_billing_commitment("111111111111", &pending)
        .await
        .unwrap();
    let enabled = BillingCommitment {
        status: CommitmentStatus::Enabled,
        ended_at_ms: None,
        ..pending
    };
    store
        .set_billing_commitment("222222222222", &enabled)
        .await
        .unwrap();
    drop(store);
    let store = backend.store().await;
    assert_eq!(
        store.billing_commitment("111111111111").await.unwrap(),
        Some(pending)
    );
    assert_eq!(
        store.billing_commitment("222222222222").await.unwrap(),
        Some(enabled)
    );
    store
        .set_billing_commitment("111111111111", &enabled)
        .await
        .unwrap();
    assert_eq!(
        store.billing_commitment("111111111111").await.unwrap(),
        Some(enabled)
    );
    assert!(!store.set_record_distribution("nope", "AUTO").await.unwrap());
}

/// The commitment through the control plane: DISABLED by default, then enabled, then a
/// pending disable, each reported the same by a control plane opened again.
async fn commitment_persists(backend: Backend) {
    let cp = backend.control_plane().await;
    assert_eq!(
        cp.account_settings().await.unwrap(),
        BillingCommitment::default()
    );
    let enabled = cp.update_billing_commitment(true).await.unwrap();
    assert_eq!(enabled.status, CommitmentStatus::Enabled);
    let started = enabled.started_at_ms.unwrap();
    assert_eq!(
        enabled.earliest_allowed_end_ms,
        Some(started + MIN_COMMITMENT_MS)
    );
    let pending = cp.update_billing_commitment(false).await.unwrap();
    assert_eq!(
        pending.status,
        CommitmentStatus::EnabledUntilEarliestAllowedEnd
    );
    drop(cp);
    let reopened = backend.control_plane().await;
    assert_eq!(reopened.account_settings().await.unwrap(), pending);
    assert_eq!(
        reopened.update_billing_commitment(true).await.unwrap(),
        enabled
    );
}

/// The record distribution strategy is stored for on-demand streams, refused for
/// provisioned ones and for unknown values, and survives reopening.
async fn record_distribution_persists(backend: Backend) {
    let cp = backend.control_plane().await;
    cp.create_stream(CreateStream {
        name: "spread".into(),
        mode: Some(StreamMode::OnDemand),
        ..Default::default()
    })
    .await
    .unwrap();
    cp.create_stream(CreateStream {
        name: "fixed".into(),
        shard_count: Some(1),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        cp.stream("spread").unwrap().record_distribution,
        "USER_PARTITION_KEY"
    );
    cp.update_record_distribution("spread", "AUTO")
        .await
        .unwrap();
    assert!(matches!(
        cp.update_record_distribution("fixed", "AUTO").await,
        Err(ControlPlaneError::InvalidArgument(_))
    ));
    assert!(matches!(
        cp.update_record_distribution("spread", "RANDOM").await,
        Err(ControlPlaneError::InvalidArgument(_))
    ));
    assert!(matches!(
        cp.update_record_distribution("missing", "AUTO").await,
        Err(ControlPlaneError::NotFound(_))
    ));
    drop(cp);
    let reopened = backend.control_plane().await;
    assert_eq!(
        reopened.stream("spread").unwrap().record_distribution,
        "AUTO"
    );
    assert_eq!(
        reopened.stream("fixed").unwrap().record_distribution,
        "USER_PARTITION_KEY"
    );
}

#[tokio::test]
async fn sqlite_account_settings_store_round_trip() {
    store_round_trip(Backend::sqlite()).await;
}

#[tokio::test]
async fn postgres_account_settings_store_round_trip() {
    store_round_trip(Backend::postgres().await).await;
}

#[tokio::test]
async fn sqlite_commitment_persists() {
    commitment_persists(Backend::sqlite()).await;
}

#[tokio::test]
async fn postgres_commitment_persists() {
    commitment_persists(Backend::postgres().await).await;
}

#[tokio::test]
async fn sqlite_record_distribution_persists() {
    record_distribution_persists(Backend::sqlite()).await;
}

#[tokio::test]
async fn postgres_record_distribution_persists() {
    record_distribution_persists(Backend::postgres().await).await;
}
