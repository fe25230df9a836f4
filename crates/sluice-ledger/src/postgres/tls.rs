//! TLS for Postgres connections, over rustls (with the *ring* provider, which the workspace
//! already builds), with libpq's `sslmode` meanings:
//!
//! - `disable`: no TLS; `prefer`: TLS if the server offers it, else plain (also when the TLS
//!   handshake itself fails, as libpq retries); `require`: TLS, the certificate not checked
//!   (libpq without a root certificate): encrypted, but open to whoever can answer for the
//!   server's address;
//! - `verify-ca`: TLS, the certificate must chain to the roots (`sslrootcert=PATH`, else the
//!   system's); `verify-full`: that, and it must name the host connected to.
//!
//! As in libpq, `prefer` and `require` with `sslrootcert=PATH` check the chain as `verify-ca`
//! does. Channel binding (`tls-server-end-point`) is not offered: SCRAM authenticates without
//! it (tokio-postgres's default, `channel_binding=prefer`).

use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::Socket;

use crate::url::{Roots, SslMode};

/// How a ledger's Postgres connections use TLS; built once at open (root certificates are read
/// then) and shared by every reconnection.
#[derive(Clone)]
pub(crate) struct Tls {
    mode: SslMode,
    /// `None` for `disable`.
    connector: Option<MakeRustls>,
}

impl Tls {
    /// The TLS of `mode` with `roots`; an error is one line naming what is wrong (a root
    /// certificate file that cannot be read, no system roots).
    pub fn new(mode: SslMode, roots: &Roots) -> Result<Tls, String> {
        if mode == SslMode::Disable {
            return Ok(Tls {
                mode,
                connector: None,
            });
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = match (mode, roots) {
            (SslMode::VerifyFull, _) => Check::Full,
            (SslMode::VerifyCa, _) | (_, Roots::File(_)) => Check::Chain,
            _ => Check::Nothing,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            Check::Nothing => Arc::new(AnyCertificate(Arc::clone(&provider))),
            Check::Chain | Check::Full => {
                let store = root_store(roots)?;
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(store),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| format!("TLS roots: {e}"))?;
                if check == Check::Full {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Tls {
            mode,
            connector: Some(MakeRustls {
                config: Arc::new(config),
                check_name: check == Check::Full,
            }),
        })
    }

    /// The connector to hand tokio-postgres, `None` for a plain connection.
    pub fn connector(&self) -> Option<MakeRustls> {
        self.connector.clone()
    }

    /// Whether a connection that failed with `e` is tried again without TLS: with `prefer`,
    /// when the TLS handshake itself failed (libpq does the same).
    pub fn falls_back(&self, e: &tokio_postgres::Error) -> bool {
        use std::error::Error as _;
        self.mode == SslMode::Prefer
            && e.source()
                .is_some_and(|s| s.downcast_ref::<HandshakeError>().is_some())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    Full,
}

fn root_store(roots: &Roots) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            if certs.is_empty() {
                return Err(format!("sslrootcert {shown}: no PEM certificate in it"));
            }
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            }
        }
        Roots::Default | Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("no system root certificates found (give sslrootcert=PATH)".to_owned());
            }
        }
    }
    Ok(store)
}

/// Makes TLS connectors for tokio-postgres.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Arc<ClientConfig>,
    check_name: bool,
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, Self::Error> {
        let name = match ServerName::try_from(host.to_owned()) {
            Ok(name) => name,
            // The name is only used to check the certificate (and for SNI): a host that is no
            // DNS name (none at all, say) still connects when it is not checked.
            Err(_) if !self.check_name => ServerName::from(Ipv4Addr::UNSPECIFIED),
            Err(e) => return Err(e),
        };
        Ok(RustlsConnect {
            config: Arc::clone(&self.config),
            name,
        })
    }
}

pub(crate) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = HandshakeError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream, HandshakeError>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move {
            tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, socket)
                .await
                .map(|s| RustlsStream(Box::new(s)))
                .map_err(HandshakeError)
        })
    }
}

/// A failed TLS handshake (its own type, so that `prefer` can tell it from other failures).
#[derive(Debug)]
pub(crate) struct HandshakeError(io::Error);

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A TLS connection to Postgres.
pub(crate) struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl tokio_postgres::tls::TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// `require` (and `prefer`): any certificate, though the handshake's signatures are still
/// checked, so the session is with whoever holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked, the name is not. rustls checks the name only once the
/// chain is good, so a name error means the chain passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_builds() {
        for mode in [
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            let tls = Tls::new(mode, &Roots::Default).unwrap();
            assert!(tls.connector().is_some());
        }
        assert!(Tls::new(SslMode::Disable, &Roots::Default)
            .unwrap()
            .connector()
            .is_none());
    }

    #[test]
    fn a_root_file_that_cannot_be_read_is_a_one_line_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let Err(e) = Tls::new(SslMode::VerifyCa, &Roots::File(missing.clone())) else {
            panic!("no error");
        };
        assert!(
            e.starts_with(&format!("sslrootcert {}: ", missing.display())),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let Err(e) = Tls::new(SslMode::VerifyFull, &Roots::File(empty)) else {
            panic!("no error");
        };
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn names_that_are_not_dns_names_connect_only_unchecked() {
        let mut unchecked = Tls::new(SslMode::Require, &Roots::Default)
            .unwrap()
            .connector()
            .unwrap();
        assert!(unchecked.make_tls_connect("").is_ok());
        let mut checked = Tls::new(SslMode::VerifyFull, &Roots::Default)
            .unwrap()
            .connector()
            .unwrap();
        assert!(checked.make_tls_connect("").is_err());
        assert!(checked.make_tls_connect("db.internal").is_ok());
        assert!(checked.make_tls_connect("10.0.0.1").is_ok());
    }
}
