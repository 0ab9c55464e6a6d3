//! The gradest binary: flags and environment → configuration → telemetry →
//! serve until SIGTERM or SIGINT (running requests finish first).

use std::process::ExitCode;

use clap::Parser;
use gradest::config::{Cli, Command};
use gradest::{http, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command == Some(Command::Openapi) {
        print!("{}", http::openapi_json());
        return ExitCode::SUCCESS;
    }
    let config = cli.config;
    if cli.command == Some(Command::Healthcheck) {
        return healthcheck(config.addr);
    }
    if let Err(e) = telemetry::init(&config.log, config.log_format) {
        eprintln!("gradest: {e}");
        return ExitCode::FAILURE;
    }
    let simd = match config.simd.apply() {
        Ok(level) => level,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        tracing::info!(addr = %listener.local_addr()?, simd = simd.name(), auth = %config.api_tokens, limits = ?config.limits, "gradest listening");
        http::serve(listener, config, shutdown_signal()).await
    });
    match result {
        Ok(()) => {
            tracing::info!("gradest stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "gradest failed");
            ExitCode::FAILURE
        }
    }
}

/// GET /healthz over a plain TCP connection (no HTTP client needed for one request).
fn healthcheck(addr: std::net::SocketAddr) -> ExitCode {
    use std::io::{Read, Write};
    use std::time::Duration;
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let check = || -> std::io::Result<bool> {
        let mut stream = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    match check() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("gradest healthcheck: {target} answered, but not 200");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("gradest healthcheck: {target}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing running requests");
}
