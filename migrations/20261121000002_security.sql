-- Security: principals with role bindings, access keys (secrets encrypted with a master
-- key kept outside this database), the sealed JWT signing keys, and the audit log.
CREATE TABLE principals (
    name          TEXT   NOT NULL PRIMARY KEY,
    kind          TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE principal_bindings (
    principal      TEXT NOT NULL,
    role           TEXT NOT NULL,
    stream_pattern TEXT NOT NULL,
    PRIMARY KEY (principal, role, stream_pattern)
);

CREATE TABLE access_keys (
    access_key_id TEXT   NOT NULL PRIMARY KEY,
    principal     TEXT   NOT NULL,
    secret_sealed TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE auth_state (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit_log (
    at_ms     BIGINT NOT NULL,
    principal TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    resource  TEXT   NOT NULL,
    source    TEXT   NOT NULL,
    result    TEXT   NOT NULL,
    detail    TEXT   NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
