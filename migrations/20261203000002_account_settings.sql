-- DescribeAccountSettings / UpdateAccountSettings: one row per account id. The minimum
-- throughput billing commitment's status (ENABLED, DISABLED or
-- ENABLED_UNTIL_EARLIEST_ALLOWED_END) and its times in milliseconds since the epoch (NULL:
-- not set). No row: the commitment was never enabled (DISABLED).
CREATE TABLE account_settings (
    account_id TEXT PRIMARY KEY,
    commitment_status TEXT NOT NULL,
    commitment_started_at_ms BIGINT,
    commitment_ended_at_ms BIGINT,
    commitment_earliest_end_ms BIGINT
);
