//! One module per command.

pub mod bench;
pub mod check_config;
pub mod cost;
pub mod keys;
mod ledger;
pub mod mock_upstream;
mod render;
pub mod serve;
pub mod usage;

/// Resolves when the process is asked to stop (SIGTERM or Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The configuration, from a file or built in; a bad one is a usage failure naming the field.
pub fn load_config(
    path: Option<&std::path::Path>,
) -> Result<sluice_config::Config, crate::Failure> {
    let env = |name: &str| std::env::var(name).ok();
    sluice_config::load(path, &env).map_err(|e| crate::Failure::Usage(e.to_string()))
}
