//! A local certificate authority, so that Weir serves TLS out of the box.
//!
//! On first start [`LocalCa::load_or_create`] writes, in one directory:
//!
//! | file | contents |
//! |---|---|
//! | `ca.pem` / `ca.key` | the CA certificate (10 years) and its key (mode 0600) |
//! | `server.pem` / `server.key` | a server certificate for `localhost`, `127.0.0.1`, `::1` and any extra names, signed by the CA, and its key (0600) |
//! | `server.names` | the names the server certificate was issued for |
//!
//! Later starts reuse the CA, so clients that trust `ca.pem` keep working. The server
//! certificate is re-issued when the wanted names differ from `server.names`, when it
//! expires within 30 days, or when it no longer verifies against the CA. That last
//! check runs the certificate through rustls's own verifier for every name, so what is
//! kept is exactly what clients will accept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;

use crate::client::{parse_certs, root_store};
use crate::{crypto_provider, TlsError};

/// Names every server certificate covers, so loopback clients always verify.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// How long the CA is valid.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long a server certificate is valid.
const SERVER_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// Re-issue the server certificate when it expires sooner than this.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Backdating of `not_before`, for peers whose clocks run slightly behind.
const BACKDATE: Duration = Duration::from_secs(3600);

/// The local CA's files, loaded or freshly created.
#[derive(Debug, Clone)]
pub struct LocalCa {
    dir: PathBuf,
    ca_cert_pem: String,
    names: Vec<String>,
    reissued: bool,
}

impl LocalCa {
    /// Loads the CA in `dir`, creating it if absent, and makes sure the server
    /// certificate covers the default names plus `extra_names` and is not near expiry.
    pub fn load_or_create(dir: &Path, extra_names: &[String]) -> Result<Self, TlsError> {
        create_private_dir(dir)?;
        let now = SystemTime::now();
        let (ca_cert_pem, ca_key) = load_or_create_ca(dir, now)?;
        let names = wanted_names(extra_names);

        let reissued = if server_cert_is_current(dir, &ca_cert_pem, &names, now) {
            false
        } else {
            issue_server_cert(dir, &ca_key, &ca_cert_pem, &names, now)?;
            true
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            ca_cert_pem,
            names,
            reissued,
        })
    }

    /// The CA certificate, PEM: what clients must trust.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// Path of the CA certificate.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Path of the server certificate, for [`crate::tls_config`].
    pub fn server_cert_path(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// Path of the server key, for [`crate::tls_config`].
    pub fn server_key_path(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// The names the server certificate covers.
    pub fn server_names(&self) -> &[String] {
        &self.names
    }

    /// Whether this call issued a new server certificate (so a caller can log it).
    pub fn reissued_server_cert(&self) -> bool {
        self.reissued
    }
}

/// Defaults first, then extras, without duplicates or empty entries.
fn wanted_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in DEFAULT_NAMES
        .iter()
        .map(|s| s.to_string())
        .chain(extra.iter().cloned())
    {
        let name = name.trim().to_owned();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The CA's subject and constraints. Fixed, so that an issuer rebuilt from `ca.key`
/// names the same subject as `ca.pem` (checked after every issuance).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Weir");
    dn.push(DnType::CommonName, "Weir local CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Reads `ca.pem` + `ca.key`, or creates both if neither exists.
fn load_or_create_ca(dir: &Path, now: SystemTime) -> Result<(String, KeyPair), TlsError> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca.key");
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let cert = read_to_string(&cert_path)?;
            let key = KeyPair::from_pem(&read_to_string(&key_path)?)?;
            parse_certs(cert.as_bytes(), &cert_path.display().to_string())?;
            Ok((cert, key))
        }
        (false, false) => {
            let key = KeyPair::generate()?;
            let mut params = ca_params();
            params.not_before = offset(now, -(BACKDATE.as_secs() as i64));
            params.not_after = offset(now, CA_LIFETIME.as_secs() as i64);
            let cert = params.self_signed(&key)?.pem();
            write_file(&key_path, key.serialize_pem().as_bytes(), true)?;
            write_file(&cert_path, cert.as_bytes(), false)?;
            Ok((cert, key))
        }
        (true, false) => Err(TlsError::Ca(format!(
            "{} exists but {} does not; restore the key or remove both to create a new CA",
            cert_path.display(),
            key_path.display()
        ))),
        (false, true) => Err(TlsError::Ca(format!(
            "{} exists but {} does not; restore the certificate or remove both to create a new CA",
            key_path.display(),
            cert_path.display()
        ))),
    }
}

/// Whether `server.pem`/`server.key` exist, were issued for exactly `names`, verify
/// against the CA for each name, and will still be valid in 30 days.
fn server_cert_is_current(dir: &Path, ca_pem: &str, names: &[String], now: SystemTime) -> bool {
    let recorded = fs::read_to_string(dir.join("server.names")).unwrap_or_default();
    let mut recorded: Vec<&str> = recorded.lines().filter(|l| !l.is_empty()).collect();
    let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    recorded.sort_unstable();
    wanted.sort_unstable();
    if recorded != wanted || !dir.join("server.key").exists() {
        return false;
    }
    let Ok(pem) = fs::read(dir.join("server.pem")) else {
        return false;
    };
    let Ok(chain) = parse_certs(&pem, "server.pem") else {
        return false;
    };
    verifies_for_all(ca_pem, &chain, names, now + RENEW_BEFORE).is_ok()
}

/// Runs rustls's verifier for each name at time `at`.
fn verifies_for_all(
    ca_pem: &str,
    chain: &[CertificateDer<'static>],
    names: &[String],
    at: SystemTime,
) -> Result<(), TlsError> {
    let roots = Arc::new(root_store(ca_pem.as_bytes())?);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, crypto_provider())
        .build()
        .map_err(|e| TlsError::Ca(e.to_string()))?;
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| TlsError::Ca("empty certificate chain".to_owned()))?;
    let at = UnixTime::since_unix_epoch(
        at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    for name in names {
        let server_name = ServerName::try_from(name.as_str())
            .map_err(|e| TlsError::Ca(format!("invalid server name {name:?}: {e}")))?
            .to_owned();
        verifier.verify_server_cert(leaf, intermediates, &server_name, &[], at)?;
    }
    Ok(())
}

/// Issues `server.pem`/`server.key`/`server.names` for `names`, signed by the CA, and
/// checks the result verifies (which also proves `ca.key` belongs to `ca.pem`).
fn issue_server_cert(
    dir: &Path,
    ca_key: &KeyPair,
    ca_pem: &str,
    names: &[String],
    now: SystemTime,
) -> Result<(), TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Weir");
    dn.push(DnType::CommonName, "Weir server");
    params.distinguished_name = dn;
    params.not_before = offset(now, -(BACKDATE.as_secs() as i64));
    params.not_after = offset(now, SERVER_LIFETIME.as_secs() as i64);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Client auth too, so nodes can present this certificate to a server that
    // requires client certificates from the same CA.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::new(ca_params(), ca_key);
    let cert = params.signed_by(&key, &issuer)?;

    verifies_for_all(ca_pem, &[cert.der().clone()], names, now).map_err(|e| {
        TlsError::Ca(format!(
            "a certificate signed with ca.key does not verify against ca.pem ({e}); \
             the two files do not belong together"
        ))
    })?;

    write_file(
        &dir.join("server.key"),
        key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(&dir.join("server.pem"), cert.pem().as_bytes(), false)?;
    write_file(
        &dir.join("server.names"),
        (names.join("\n") + "\n").as_bytes(),
        false,
    )
}

/// `now` shifted by `secs`, as the `time` type rcgen wants.
fn offset(now: SystemTime, secs: i64) -> OffsetDateTime {
    OffsetDateTime::from(now) + time::Duration::seconds(secs)
}

fn read_to_string(path: &Path) -> Result<String, TlsError> {
    fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates `dir` (mode 0700 on Unix) if it does not exist.
fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| TlsError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `path` atomically (temp file + rename); `private` files get
/// mode 0600 from creation, so a key is never readable by others even briefly.
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    let io_err = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(io_err)?;
    file.write_all(contents).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    fs::rename(&tmp, path).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deduplicated_in_order() {
        let names = wanted_names(&[
            "weir.internal".to_owned(),
            "localhost".to_owned(),
            " ".to_owned(),
        ]);
        assert_eq!(names, ["localhost", "127.0.0.1", "::1", "weir.internal"]);
    }

    #[test]
    fn half_a_ca_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        LocalCa::load_or_create(dir.path(), &[]).expect("creates");
        fs::remove_file(dir.path().join("ca.key")).expect("removes");
        assert!(matches!(
            LocalCa::load_or_create(dir.path(), &[]),
            Err(TlsError::Ca(_))
        ));
    }

    #[test]
    fn a_foreign_ca_key_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        LocalCa::load_or_create(dir.path(), &[]).expect("creates");
        LocalCa::load_or_create(other.path(), &[]).expect("creates");
        fs::copy(other.path().join("ca.key"), dir.path().join("ca.key")).expect("copies");
        // Force re-issuance so the mismatched key is used.
        fs::remove_file(dir.path().join("server.names")).expect("removes");
        assert!(matches!(
            LocalCa::load_or_create(dir.path(), &[]),
            Err(TlsError::Ca(_))
        ));
    }

    #[test]
    fn keys_are_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        LocalCa::load_or_create(dir.path(), &[]).expect("creates");
        #[cfg(unix)]
        for (file, mode) in [("ca.key", 0o600), ("server.key", 0o600), ("ca.pem", 0o644)] {
            use std::os::unix::fs::PermissionsExt;
            let meta = fs::metadata(dir.path().join(file)).expect("metadata");
            assert_eq!(meta.permissions().mode() & 0o777, mode, "{file}");
        }
    }

    #[test]
    fn near_expiry_is_reissued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = LocalCa::load_or_create(dir.path(), &[]).expect("creates");
        let names = ca.server_names().to_vec();
        let later = SystemTime::now() + SERVER_LIFETIME - Duration::from_secs(10 * 24 * 3600);
        assert!(server_cert_is_current(
            dir.path(),
            ca.ca_cert_pem(),
            &names,
            SystemTime::now()
        ));
        assert!(!server_cert_is_current(
            dir.path(),
            ca.ca_cert_pem(),
            &names,
            later
        ));
    }
}
