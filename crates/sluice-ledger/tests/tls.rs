//! Postgres over TLS, with libpq's `sslmode` meanings: against the test Postgres (Debian's
//! turns TLS on with a self-signed "snakeoil" certificate for `localhost`), and against a fake
//! server that answers as a server without TLS (or with broken TLS) does.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::{row, Kind, TestLedger};
use sluice_ledger::{Ledger, LedgerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Whether the test Postgres offers TLS (`SHOW ssl`).
async fn server_has_tls(t: &TestLedger) -> bool {
    t.scalar("SELECT (current_setting('ssl') = 'on')::INT::BIGINT")
        .await
        == 1
}

/// A ledger on the test's schema, its URL with `params` added and connections named `name`.
async fn open_with(t: &TestLedger, name: &str, params: &str) -> Result<Ledger, LedgerError> {
    Ledger::open(&format!("{}&{params}&application_name={name}", t.url)).await
}

/// How many of the connections named `name` use TLS, and how many do not.
async fn connections_by_tls(t: &TestLedger, name: &str) -> (i64, i64) {
    let count = |ssl: bool| {
        format!(
            "SELECT COUNT(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = '{name}' AND s.ssl = {ssl}"
        )
    };
    (t.scalar(&count(true)).await, t.scalar(&count(false)).await)
}

/// A name for connections of this test only.
fn conn_name(t: &TestLedger, mode: &str) -> String {
    format!(
        "{}_{}",
        t.pg_application_name().unwrap(),
        mode.replace('-', "_")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_prefer_and_require_against_the_test_postgres() {
    let t = TestLedger::new(Kind::Postgres).await;
    if !server_has_tls(&t).await {
        // Not Debian's default: then require fails, and the plain modes work.
        let e = open_with(&t, "x", "sslmode=require").await.unwrap_err();
        assert!(e.to_string().contains("server does not support TLS"), "{e}");
        open_with(&t, "x", "sslmode=prefer").await.unwrap();
        open_with(&t, "x", "sslmode=disable").await.unwrap();
        eprintln!("the test Postgres has ssl off: only disable and prefer were tested");
        return;
    }
    for (mode, tls) in [("require", true), ("prefer", true), ("disable", false)] {
        let name = conn_name(&t, mode);
        let ledger = open_with(&t, &name, &format!("sslmode={mode}"))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        // The reports' connection, and the writer's once it inserts.
        ledger.insert(&[row(mode)]).await.unwrap();
        assert!(ledger.get(mode).await.unwrap().is_some());
        let (with, without) = connections_by_tls(&t, &name).await;
        let expected = if tls { (2, 0) } else { (0, 2) };
        assert_eq!((with, without), expected, "sslmode={mode}: (TLS, plain)");
    }
}

/// The certificate the test Postgres presents, when this machine can read it (the server is
/// local) and the server is reached as 127.0.0.1.
async fn local_server_certificate(t: &TestLedger) -> Option<PathBuf> {
    if !server_has_tls(t).await || !t.url.contains("@127.0.0.1:") {
        return None;
    }
    let path: String = {
        let (client, conn) =
            tokio_postgres::connect(&common::postgres_url(), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(conn);
        client
            .query_one("SELECT current_setting('ssl_cert_file')", &[])
            .await
            .unwrap()
            .get(0)
    };
    let path = PathBuf::from(path);
    std::fs::File::open(&path).ok().map(|_| path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_modes_check_the_certificate() {
    let t = TestLedger::new(Kind::Postgres).await;
    let Some(cert) = local_server_certificate(&t).await else {
        eprintln!("the test Postgres's certificate is not readable here: verify-* not tested");
        return;
    };
    let root = format!("sslrootcert={}", cert.display());

    // At 127.0.0.1, verify-full with the system's roots refuses the certificate, in one line:
    // it is self-signed (no system root's), and even where the system trusts it (Debian puts
    // it in /etc/ssl/certs) it names localhost.
    let e = open_with(&t, "x", "sslmode=verify-full").await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, LedgerError::Connect { .. }), "{text}");
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("certificate"), "{text}");

    // With the server's certificate as the root: verify-ca passes at 127.0.0.1...
    let name = conn_name(&t, "verify-ca");
    let ledger = open_with(&t, &name, &format!("sslmode=verify-ca&{root}"))
        .await
        .unwrap();
    ledger.insert(&[row("verify-ca")]).await.unwrap();
    assert_eq!(connections_by_tls(&t, &name).await, (2, 0));

    // ...verify-full does not (the certificate names localhost)...
    let e = open_with(&t, "x", &format!("sslmode=verify-full&{root}"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");

    // ...unless reached as localhost.
    let url = t.url.replacen("@127.0.0.1:", "@localhost:", 1);
    let ledger = Ledger::open(&format!("{url}&sslmode=verify-full&{root}"))
        .await
        .unwrap();
    assert_eq!(ledger.count().await.unwrap(), 1);

    // require with a root file checks the chain, as libpq does: a wrong root fails.
    let e = open_with(
        &t,
        "x",
        "sslmode=require&sslrootcert=/etc/ssl/certs/ca-certificates.crt",
    )
    .await;
    if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        let e = e.unwrap_err();
        assert!(e.to_string().contains("certificate"), "{e}");
    }
}

/// What a fake server saw first on each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// A request for TLS (`SSLRequest`).
    TlsRequest,
    /// A plain start-up message (protocol 3.0).
    Startup,
    /// After a TLS request answered `N`: a plain start-up message.
    TlsRequestThenStartup,
}

/// A server on a free port that answers a TLS request with `answer` (`N`: no TLS; `S`: yes,
/// followed by bytes that are no TLS) and closes every connection after its first message.
async fn fake_server(answer: u8) -> (u16, Arc<Mutex<Vec<Opening>>>) {
    const SSL_REQUEST: u32 = 80_877_103;
    const PROTOCOL_3: u32 = 196_608;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = [0u8; 8];
            if socket.read_exact(&mut head).await.is_err() {
                continue;
            }
            let code = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            // Each opening is logged before the answer: the client acts on the answer, and
            // the test reads the log once the client is done.
            match code {
                SSL_REQUEST => {
                    log.lock().unwrap().push(Opening::TlsRequest);
                    socket.write_all(&[answer]).await.unwrap();
                    if answer == b'S' {
                        let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                        continue;
                    }
                    let mut next = [0u8; 8];
                    if socket.read_exact(&mut next).await.is_ok() {
                        let code = u32::from_be_bytes([next[4], next[5], next[6], next[7]]);
                        assert_eq!(code, PROTOCOL_3);
                        *log.lock().unwrap().last_mut().unwrap() = Opening::TlsRequestThenStartup;
                    }
                }
                PROTOCOL_3 => log.lock().unwrap().push(Opening::Startup),
                other => panic!("unexpected first message {other}"),
            }
        }
    });
    (port, seen)
}

#[tokio::test]
async fn require_against_a_server_without_tls_is_one_clear_line() {
    let (port, seen) = fake_server(b'N').await;
    let url = format!("postgres://u:hunter2@127.0.0.1:{port}/db?sslmode=require");
    let e = Ledger::open(&url).await.unwrap_err();
    let text = e.to_string();
    assert_eq!(
        text,
        format!(
            "ledger postgres://u:***@127.0.0.1:{port}/db?sslmode=require: cannot connect: \
             error performing TLS handshake: server does not support TLS"
        )
    );
    assert_eq!(*seen.lock().unwrap(), [Opening::TlsRequest]);
}

#[tokio::test]
async fn prefer_goes_plain_when_the_server_has_no_tls_and_disable_never_asks() {
    let (port, seen) = fake_server(b'N').await;
    for mode in ["prefer", "disable"] {
        let url = format!("postgres://u@127.0.0.1:{port}/db?sslmode={mode}");
        // The fake ends the session after its start: the open fails, past the TLS step.
        let e = Ledger::open(&url).await.unwrap_err();
        assert!(!e.to_string().contains("TLS"), "{e}");
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [Opening::TlsRequestThenStartup, Opening::Startup]
    );
}

#[tokio::test]
async fn prefer_goes_plain_when_the_tls_handshake_fails() {
    let (port, seen) = fake_server(b'S').await;
    let url = format!("postgres://u@127.0.0.1:{port}/db");
    let e = Ledger::open(&url).await.unwrap_err();
    assert!(!e.to_string().contains("TLS"), "{e}");
    assert_eq!(
        *seen.lock().unwrap(),
        [Opening::TlsRequest, Opening::Startup],
        "a TLS attempt, then a plain connection"
    );
    // require does not fall back.
    let e = Ledger::open(&format!("{url}?sslmode=require"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("TLS handshake"), "{e}");
    assert_eq!(seen.lock().unwrap().len(), 3);
}
