//! `munjigi demo`: the whole system on one machine, for a person to try.
//!
//! Starts the provider simulator (its own HTTP server, as a real provider would
//! be) and the gateway with a real config file from `deploy/demo/`, whose `/demo`
//! site (`munjigi::demo::site`) logs in through the gateway over real OIDC and
//! HTTP. Here in the binary, not the library: the simulator is test machinery
//! and only this command and `munjigi simulate` start it.

use munjigi::{app::App, config, server};
use std::path::Path;
use std::sync::Arc;

/// The simulator's own config file: where it listens and how it behaves.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorFile {
    pub listen: String,
    pub simulator: munjigi_sim::simulator::SimConfig,
}

/// Loads a simulator file, resolving `pki_dir` against the file's folder.
pub fn load_simulator(path: &Path) -> Result<SimulatorFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut f: SimulatorFile = toml::from_str(&text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let before = text.get(..span.start).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        format!("{}:{line}: {}", path.display(), e.message().trim())
    })?;
    if f.simulator.pki_dir.is_relative() {
        let base = path.parent().unwrap_or(Path::new("."));
        f.simulator.pki_dir = base.join(&f.simulator.pki_dir);
    }
    Ok(f)
}

/// Starts the simulator on its configured address; returns the bound address.
pub async fn start_simulator(file: SimulatorFile) -> Result<std::net::SocketAddr, String> {
    let sim = munjigi_sim::simulator::Simulator::new(file.simulator)
        .map_err(|e| format!("simulator: {e}"))?;
    let listener = tokio::net::TcpListener::bind(&file.listen)
        .await
        .map_err(|e| format!("simulator cannot listen on {}: {e}", file.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let sim = Arc::new(sim);
    tokio::spawn(async move {
        if let Err(e) = sim.serve(listener).await {
            tracing::error!(error = %e, "simulator stopped");
        }
    });
    Ok(addr)
}

/// Runs the demo until interrupted.
pub async fn run(gateway: &Path, simulator: &Path) -> Result<(), String> {
    let sim_file = load_simulator(simulator)?;
    let sim_addr = start_simulator(sim_file).await?;
    println!("provider simulator listening on http://{sim_addr}");
    let cfg = config::load(gateway).map_err(|e| e.to_string())?;
    if cfg.demo.is_none() {
        return Err(format!(
            "{}: the demo config needs a [demo] section",
            gateway.display()
        ));
    }
    let app = App::build(cfg).await.map_err(|e| e.to_string())?;
    if let Some(endpoint) = &app.config.otlp_endpoint {
        munjigi::otlp::start(endpoint)?;
    }
    let listener = tokio::net::TcpListener::bind(app.config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", app.config.listen))?;
    let admin = munjigi::admin::bind(&app.config).await?;
    println!("munjigi listening on {}", app.config.public_url);
    println!(
        "open {}/demo in a browser to try a login",
        app.config.public_url
    );
    let live = munjigi::reload::Live::new(app);
    if let Some(admin) = admin {
        munjigi::admin::spawn(live.clone(), admin)?;
    }
    server::serve(live, listener, server::stop_signal()).await
}
