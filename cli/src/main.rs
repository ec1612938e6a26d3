//! The `munjigi` command: the demo, the server, the config checker, the
//! simulator, the receipt and audit log verifiers.

use clap::{Parser, Subcommand};
mod audit_verify;
mod demo;
mod logs;
mod verify_receipt;

use munjigi::{app::App, config, server};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "munjigi",
    version,
    about = "문지기 — federated simple-authentication gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo: simulator + gateway + demo site on 127.0.0.1:8080 (the default).
    Demo {
        #[arg(long, default_value = "deploy/demo/gateway.toml")]
        config: PathBuf,
        #[arg(long, default_value = "deploy/demo/simulator.toml")]
        simulator: PathBuf,
    },
    /// Run the gateway with a config file.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a config file; prints every error as file:line:column and exits non-zero.
    Check { file: PathBuf },
    /// Run the provider simulator alone.
    Simulate {
        #[arg(long)]
        config: PathBuf,
    },
    /// Verify a signing receipt offline: exit 0 valid, 1 invalid (one line per failure), 2 usage.
    VerifyReceipt {
        /// The receipt: the compact JWS, or the API's JSON answer with `receipt`.
        file: PathBuf,
        /// The gateway's JWKS: its `/jwks` URL (https, or http on loopback) or a saved file.
        #[arg(long, value_name = "URL|FILE")]
        jwks: Option<String>,
        /// Trust anchors of each provider: PROVIDER=PATH (a PEM file or folder; repeat per
        /// provider), or one DIR with a subfolder per provider id. Only the receipt's
        /// provider's roots are used.
        #[arg(long, value_name = "PROVIDER=PATH|DIR", conflicts_with = "config")]
        roots: Vec<String>,
        /// Trust anchors: the roots (and CRL) of the receipt's provider in a gateway config.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The gateway (issuer URL) the receipt must be sealed by; taken from --config if absent.
        #[arg(long, value_name = "URL")]
        iss: Option<String>,
        /// The site (client id) the receipt must be of; required.
        #[arg(long, value_name = "CLIENT_ID")]
        aud: Option<String>,
        /// Accept a receipt sealed with the ID token key (sealed before receipts had a key
        /// of their own); refused otherwise.
        #[arg(long)]
        accept_id_token_key: bool,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify audit chains: exit 0 whole, 1 tampered (one line per problem), 2 usage.
    Verify {
        /// Every writer's audit files (rotated ones too, in any order).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The store holding the checkpoints: redis://host:port/db.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// --store is a node of a Redis Cluster.
        #[arg(long, requires = "store")]
        cluster: bool,
        /// Saved checkpoints: one compact JWS per line.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// The gateway's JWKS: its /jwks URL or a saved file (repeat for rotated keys).
        #[arg(long, value_name = "URL|FILE")]
        jwks: Vec<String>,
        /// The gateway's issuer (its public URL): every checkpoint's `iss` must
        /// be it. Without it, all checkpoints must name one issuer (printed).
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
    },
}

/// Logs to stderr as `MUNJIGI_LOG_FORMAT` says (`text`, the default, or
/// `json`), filtered by `MUNJIGI_LOG`; an unknown format stops the start.
fn init_logging() -> Result<logs::Format, String> {
    let format = logs::Format::from_env()?;
    logs::init(format);
    Ok(format)
}

/// A verifier's answer as the command's output and exit code: the report
/// on stdout (0), or what failed on stderr with the verifier's code;
/// `no_runtime` when the check could not even start.
fn verdict(result: Result<Result<String, (u8, String)>, String>, no_runtime: ExitCode) -> ExitCode {
    match result {
        Ok(Ok(report)) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Ok(Err((code, failure))) => {
            eprintln!("{failure}");
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("munjigi: {e}");
            no_runtime
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

async fn serve(path: PathBuf) -> Result<(), String> {
    let cfg = config::load(&path).map_err(|e| e.to_string())?;
    let app = App::build(cfg).await.map_err(|e| e.to_string())?;
    if let Some(endpoint) = &app.config.otlp_endpoint {
        munjigi::otlp::start(endpoint)?;
    }
    let listener = tokio::net::TcpListener::bind(app.config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", app.config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if app.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "munjigi listening on {scheme}://{addr} as {}",
        app.config.public_url
    );
    if munjigi::demo::site::pushes_for_anyone(&app) {
        eprintln!("warning: the demo's call-centre screen (/demo/callcentre) lets any visitor ask for a push to any phone: serve [demo] with the simulator only");
    }
    let admin = munjigi::admin::bind(&app.config).await?;
    let live = munjigi::reload::Live::new(app);
    if let Some(admin) = admin {
        munjigi::admin::spawn(live.clone(), admin)?;
    }
    munjigi::reload::spawn_watchers(live.clone(), path, std::time::Duration::from_secs(2));
    server::serve(live, listener, server::stop_signal()).await
}

async fn simulate(path: PathBuf) -> Result<(), String> {
    let file = demo::load_simulator(&path)?;
    let addr = demo::start_simulator(file).await?;
    println!("provider simulator listening on http://{addr}");
    std::future::pending::<()>().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Check { file }) = &cli.command {
        return match config::load(file) {
            Ok(c) => {
                println!(
                    "{}: ok ({} provider(s), {} site(s))",
                    file.display(),
                    c.providers.len(),
                    c.sites.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::VerifyReceipt {
        file,
        jwks,
        roots,
        config,
        iss,
        aud,
        accept_id_token_key,
    }) = cli.command
    {
        let args = verify_receipt::Args {
            file,
            jwks,
            roots,
            config,
            iss,
            aud,
            accept_id_token_key,
        };
        let result = runtime().map(|rt| rt.block_on(verify_receipt::run(&args)));
        return verdict(
            result.map(|r| r.map_err(|f| (f.exit_code(), f.to_string()))),
            ExitCode::FAILURE,
        );
    }
    if let Some(Command::Audit {
        command:
            AuditCommand::Verify {
                files,
                store,
                cluster,
                checkpoints,
                jwks,
                issuer,
            },
    }) = cli.command
    {
        let args = audit_verify::Args {
            files,
            store,
            cluster,
            checkpoints,
            jwks,
            issuer,
        };
        let result = runtime().map(|rt| rt.block_on(audit_verify::run(&args)));
        return verdict(
            result.map(|r| r.map_err(|f| (f.exit_code(), f.to_string()))),
            ExitCode::from(2),
        );
    }
    let log_format = match init_logging() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("munjigi: {e}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, Some(Command::Serve { .. }));
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            tokio::select! {
                r = async {
                    match cli.command {
                        None => demo::run("deploy/demo/gateway.toml".as_ref(), "deploy/demo/simulator.toml".as_ref()).await,
                        Some(Command::Demo { config, simulator }) => demo::run(&config, &simulator).await,
                        Some(Command::Serve { config }) => serve(config).await,
                        Some(Command::Simulate { config }) => simulate(config).await,
                        Some(Command::Check { .. } | Command::VerifyReceipt { .. } | Command::Audit { .. }) => Ok(()),
                    }
                } => r,
                // serve drains by itself; the demo and the simulator just stop.
                () = server::stop_signal(), if !serving => {
                    tracing::info!("stopping");
                    Ok(())
                }
            }
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // In JSON mode every stderr line is JSON, this last one too.
            match log_format {
                logs::Format::Json => tracing::error!(error = %e, "munjigi stopped"),
                logs::Format::Text => eprintln!("munjigi: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}
