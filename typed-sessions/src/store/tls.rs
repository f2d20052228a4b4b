//! [`TlsOptions`]: which certificate authorities the Redis and PostgreSQL stores trust, and
//! the one place that tells a TLS failure from a network one.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, Error as RustlsError};

use super::StoreError;

/// Which certificate authorities a store's TLS connections trust (feature `tls`), for
/// [`RedisStore::connect_with`](super::RedisStore::connect_with),
/// [`RedisStore::connect_cluster_with`](super::RedisStore::connect_cluster_with) and
/// [`PostgresStore::connect_with`](super::PostgresStore::connect_with).
///
/// - [`TlsOptions::system_roots`] (the default): the system's roots, read by
///   `rustls-native-certs` when a connection opens: the file named by `SSL_CERT_FILE` or the
///   directory named by `SSL_CERT_DIR` when they are set, else the system's store
///   (`/etc/ssl/certs` on Debian). What a managed Redis or PostgreSQL with a public
///   certificate needs, and how an app trusts a private CA without code.
/// - [`TlsOptions::ca_file`] / [`TlsOptions::ca_pem`]: a CA of your own, in PEM (one or
///   more certificates), such as the bundle a cloud provider publishes for its databases.
///   Redis then trusts only it; PostgreSQL trusts it as well as the system's roots (as
///   sqlx's `sslrootcert` does).
///
/// Certificates are always verified, host names included (for PostgreSQL, as the URL's
/// `sslmode` says; see [`PostgresStore::connect_with`](super::PostgresStore::connect_with)).
///
/// ```no_run
/// use typed_sessions::store::{RedisStore, TlsOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = TlsOptions::ca_file("/etc/myapp/redis-ca.pem")?;
/// let store = RedisStore::connect_with("rediss://default:secret@redis.internal:6380/", &tls).await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// The CA's certificates in PEM, checked to hold at least one; `None`: system roots.
    ca_pem: Option<Arc<[u8]>>,
}

/// At most this much PEM is read from a CA file: a bundle of every public root is ~250 KB.
const MAX_CA_FILE: u64 = 4 << 20;

impl TlsOptions {
    /// The system's roots (see the type's docs); the same as `TlsOptions::default()`.
    pub fn system_roots() -> Self {
        Self::default()
    }

    /// Trusts the CA certificates in `pem` (PEM text, one or more `BEGIN CERTIFICATE`
    /// blocks). An error naming the problem when it holds none, or one that does not parse.
    ///
    /// ```
    /// use typed_sessions::store::TlsOptions;
    ///
    /// let err = TlsOptions::ca_pem("not a certificate").unwrap_err();
    /// assert!(err.to_string().contains("no PEM certificate"), "{err}");
    /// ```
    pub fn ca_pem(pem: impl Into<Vec<u8>>) -> Result<Self, StoreError> {
        let pem = pem.into();
        check_pem(&pem, "the CA PEM")?;
        Ok(Self {
            ca_pem: Some(pem.into()),
        })
    }

    /// Trusts the CA certificates in the PEM file at `path`, read now (at most 4 MiB). An
    /// error naming the file when it cannot be read or holds no certificate.
    pub fn ca_file(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let what = format!("the CA file `{}`", path.display());
        let read = || -> io::Result<Vec<u8>> {
            use std::io::Read;
            let mut pem = Vec::new();
            std::fs::File::open(path)?
                .take(MAX_CA_FILE + 1)
                .read_to_end(&mut pem)?;
            Ok(pem)
        };
        let pem = read().map_err(|err| config_error(format!("{what} cannot be read: {err}")))?;
        if pem.len() as u64 > MAX_CA_FILE {
            return Err(config_error(format!("{what} is larger than 4 MiB")));
        }
        check_pem(&pem, &what)?;
        Ok(Self {
            ca_pem: Some(pem.into()),
        })
    }

    /// The CA's PEM text, `None` for the system's roots.
    pub fn ca(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roots = if self.ca_pem.is_some() {
            "a CA of its own"
        } else {
            "the system's"
        };
        f.debug_struct("TlsOptions").field("roots", &roots).finish()
    }
}

/// That `pem` holds at least one certificate and every certificate block parses.
fn check_pem(pem: &[u8], what: &str) -> Result<(), StoreError> {
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|err| config_error(format!("{what} does not parse: {err}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(config_error(format!("{what} holds no PEM certificate")));
    }
    Ok(())
}

fn config_error(reason: String) -> StoreError {
    StoreError::Backend {
        reason,
        source: None,
    }
}

/// The rustls error somewhere in `err`'s chain, if the failure was TLS. An `io::Error`
/// hides the error it wraps from `source()` (it returns the wrapped error's source), and
/// so does the `Arc` in which the redis crate keeps it, so such links are opened by hand.
fn rustls_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a RustlsError> {
    let mut next = Some(err);
    // A bound on the chain's length: a cycle would be a bug elsewhere, not a hang here.
    for _ in 0..32 {
        let err = next?;
        if let Some(tls) = err.downcast_ref::<RustlsError>() {
            return Some(tls);
        }
        let io = err
            .downcast_ref::<io::Error>()
            .or_else(|| err.downcast_ref::<Arc<io::Error>>().map(|io| &**io));
        let shared = err
            .downcast_ref::<Arc<dyn Error + Send + Sync>>()
            .map(|inner| &**inner as &(dyn Error + 'static));
        next = match io.and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => shared.or_else(|| err.source()),
        };
    }
    None
}

/// What rustls says of a certificate it refused (`InvalidCertificate`'s `Display`): the
/// redis crate's cluster client keeps only the text of the errors it met.
const REFUSED_CERTIFICATE: &str = "invalid peer certificate: ";

/// What went wrong, when `err` is a failed TLS handshake: a reason for
/// [`StoreError::Unavailable`] that says it is the certificate (and how to trust the CA),
/// the host name, or the handshake itself.
pub(crate) fn tls_failure(err: &(dyn Error + 'static)) -> Option<String> {
    let (refused, wrong_name, detail) = match rustls_error(err) {
        Some(tls @ RustlsError::InvalidCertificate(cert)) => {
            let wrong_name = matches!(
                cert,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            );
            (true, wrong_name, tls.to_string())
        }
        Some(tls) => (false, false, tls.to_string()),
        None => {
            let text = err.to_string();
            let at = text.find(REFUSED_CERTIFICATE)?;
            let detail = text[at..].to_owned();
            let wrong_name =
                detail.contains("not valid for name") || detail.contains("NotValidForName");
            (true, wrong_name, detail)
        }
    };
    Some(if wrong_name {
        format!(
            "TLS certificate verification failed: the server's certificate is not valid for \
             the host name in the URL ({detail})"
        )
    } else if refused {
        format!(
            "TLS certificate verification failed: the server's certificate is not trusted \
             ({detail}); trust its CA with `TlsOptions::ca_file`, `sslrootcert=` \
             (PostgreSQL) or `SSL_CERT_FILE`"
        )
    } else {
        format!("TLS handshake failed: {detail}")
    })
}

/// The crypto provider of `rustls::ClientConfig::builder()`, which the redis crate calls:
/// ring's, installed as the process's default unless the app installed one. Without it,
/// an app whose other dependencies also enable rustls' `aws-lc-rs` would panic there.
#[cfg(feature = "redis")]
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a provider is in place either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rustls_error_behind_io_errors() {
        let tls = RustlsError::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, tls);
        let reason = tls_failure(&io).unwrap();
        assert!(reason.contains("not trusted"), "{reason}");
        assert!(reason.contains("UnknownIssuer"), "{reason}");
        let shared = Arc::new(io::Error::new(
            io::ErrorKind::InvalidData,
            RustlsError::InvalidCertificate(CertificateError::NotValidForName),
        ));
        let reason = tls_failure(&shared).unwrap();
        assert!(reason.contains("host name"), "{reason}");
        assert_eq!(tls_failure(&io::Error::other("refused")), None);
        // Only the text left, as the redis crate's cluster client keeps it.
        let flat = io::Error::other(
            "Failed to create initial connections - Io: invalid peer certificate: UnknownIssuer",
        );
        let reason = tls_failure(&flat).unwrap();
        assert!(
            reason.contains("not trusted (invalid peer certificate: UnknownIssuer)"),
            "{reason}"
        );
        let shared: Arc<dyn Error + Send + Sync> = Arc::new(io::Error::new(
            io::ErrorKind::InvalidData,
            RustlsError::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        ));
        let reason = tls_failure(&shared).unwrap();
        assert!(reason.starts_with("TLS handshake failed"), "{reason}");
    }

    #[test]
    fn a_ca_must_hold_a_certificate() {
        assert!(TlsOptions::ca_pem("").is_err());
        let err = TlsOptions::ca_file("/nonexistent/ca.pem").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let garbled = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        let err = TlsOptions::ca_pem(garbled).unwrap_err();
        assert!(err.to_string().contains("does not parse"), "{err}");
    }
}
