//! `tidewatch serve`

use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::pipeline::load_segmenter;
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_web::AppState;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
}

/// Builds the tokio runtime the server runs on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
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
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let dir = DataDir::new(data_dir);
    let pipeline = Pipeline::open(&dir, load_segmenter(&dir)?, PipelineConfig::default()).with_context(|| {
        format!("cannot open the data directory {} (is another Tidewatch writing to it?)", data_dir.display())
    })?;
    let state = AppState::open(&dir, pipeline)?;
    let rt = runtime()?;
    rt.block_on(tidewatch_web::serve(
        state.clone(),
        args.addr,
        |a| println!("Tidewatch listening on http://{a}"),
        shutdown_signal(),
    ))
    .with_context(|| format!("cannot serve on {}", args.addr))?;
    state.pipeline.lock().map_err(|_| anyhow::anyhow!("pipeline lock poisoned"))?.flush()?;
    Ok(ExitCode::SUCCESS)
}
