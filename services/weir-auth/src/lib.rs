//! Authentication and authorization for Weir, as pure logic: no HTTP server, no database.
//!
//! - [`roles`]: the five roles, every action, and the permission table.
//! - [`bindings`]: roles scoped to stream-name globs, and [`authorize`].
//! - [`sigv4`]: AWS Signature Version 4 verification for the Kinesis API.
//! - [`jwt`]: Weir's Ed25519 bearer tokens with key rotation, and external OIDC tokens.
//! - [`access`]: principals and opened keys in memory, as every process checks them.
//! - [`secrets`]: access keys and the master key that encrypts their secrets at rest.
//! - [`data_keys`]: per-stream data keys and the record envelopes of encryption at rest.
//! - [`policy`]: resource policies of streams and consumers, parsed and evaluated.
//!
//! Protocol-facing failures have their own types ([`SigV4Error`], [`JwtError`],
//! [`Denied`]) because each maps to a distinct wire error; [`AuthError`] covers the rest
//! (parsing names, key files, sealed data).
//!
//! AWS error wording in [`sigv4`] follows what Kinesis returns as recorded by kinesalite
//! (`mhart/kinesalite`, `index.js`), which was written against the live service:
//! `MissingAuthenticationTokenException` "Missing Authentication Token",
//! `IncompleteSignatureException` "Authorization header requires 'Credential'
//! parameter. ... Authorization=<header>", all with HTTP 400 on the JSON protocol; and
//! the widely quoted "Signature expired: <date> is now earlier than <limit> (<now> - 15
//! min.)" and "The request signature we calculated does not match ...". Non-S3
//! services report an expired presigned request with the same "Signature expired"
//! wording (S3's "Request has expired" is S3-only), which is what Weir does.

pub mod access;
pub mod bindings;
pub mod data_keys;
pub mod internal;
pub mod jwt;
pub mod policy;
pub mod roles;
pub mod secrets;
pub mod sigv4;

use std::path::PathBuf;

pub use access::{AccessKeyRecord, AccessTable, AuthSnapshot, PrincipalRecord};
pub use bindings::{authorize, glob_match, Binding, Denied};
pub use data_keys::{envelope_version, DataKey, OpenedEnvelope, RecordCipher, ENVELOPE_OVERHEAD};
pub use internal::{internal_token, verify_internal_token, INTERNAL_HEADER, INTERNAL_TOKEN_TTL};
pub use jwt::{bearer_token, Claims, JwtError, KeyRing, OidcIdentity, OidcVerifier, TokenVerifier};
pub use policy::{principal_arn, PolicyDecision, ResourcePolicy, MAX_POLICY_BYTES};
pub use roles::{kinesis_action, permission_table_markdown, Action, OpClass, Role};
pub use secrets::{AccessKey, AccessKeyId, EncryptedSecret, MasterKey, SecretAccessKey};
pub use sigv4::{
    Credential, CredentialLookup, Payload, PendingVerification, SigV4Error, SigV4Verifier,
    SignedRequest, Verified,
};

/// Errors from parsing names and from handling key material, as opposed to refusing a
/// request (see [`SigV4Error`], [`JwtError`], [`Denied`]).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A role name that is not one of the five.
    #[error("unknown role {0:?} (expected admin, operator, producer, consumer or viewer)")]
    UnknownRole(String),
    /// An action name that is not in the table.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// An access key id that Weir could not have issued.
    #[error(
        "invalid access key id {0:?}: expected WKIA followed by 16 uppercase letters or digits"
    )]
    InvalidAccessKeyId(String),
    /// The master key file could not be read or created.
    #[error("master key file {path}: {source}")]
    MasterKeyIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The master key is not 32 bytes (or not base64 in the environment).
    #[error("invalid master key: {0}")]
    InvalidMasterKey(String),
    /// Stored ciphertext is not in the expected format.
    #[error("invalid encrypted secret: {0}")]
    InvalidEncryptedSecret(String),
    /// Encryption failed (practically impossible; reported rather than panicking).
    #[error("encryption failed")]
    Encryption,
    /// Decryption failed: wrong master key, or the data was altered or moved.
    #[error("cannot decrypt: wrong master key, or the stored data was altered")]
    Decryption,
    /// A sealed key ring could not be (de)serialised.
    #[error("invalid key ring: {0}")]
    KeyRing(String),
    /// A resource policy is not valid JSON, breaks the grammar Weir accepts, or is too
    /// large; the message says which (Kinesis answers InvalidArgumentException).
    #[error("{0}")]
    InvalidPolicy(String),
}
