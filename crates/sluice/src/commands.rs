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
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // The handlers are installed now, not when the future is first polled: a SIGTERM that
    // arrives right after the gateway says it is listening must start the drain, not kill it.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            () = term => {},
        }
    }
}

/// The configuration, from a file or built in; a bad one is a usage failure naming the field.
pub fn load_config(
    path: Option<&std::path::Path>,
) -> Result<sluice_config::Config, crate::Failure> {
    let env = |name: &str| std::env::var(name).ok();
    sluice_config::load(path, &env).map_err(|e| crate::Failure::Usage(e.to_string()))
}
