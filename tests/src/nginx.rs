//! A real nginx (Debian's `nginx-light`, which has the auth_request module) as a
//! process with its whole configuration, pid, logs and temp files in one folder,
//! for the forward-auth tests. Stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NGINX: &str = "/usr/sbin/nginx";

/// The documented example in `deploy/examples/nginx-forward-auth.conf`, which the
/// forward-auth test runs as it is, with only its three addresses replaced:
/// `listen 80;` (the front), `server 127.0.0.1:8080;` (the gateway) and
/// `server 127.0.0.1:3000;` (the application).
pub fn forward_auth_example(listen_port: u16, gateway_port: u16, app_port: u16) -> String {
    let path = crate::repo_root().join("deploy/examples/nginx-forward-auth.conf");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for needle in [
        "listen 80;",
        "server 127.0.0.1:8080;",
        "server 127.0.0.1:3000;",
    ] {
        assert_eq!(
            text.matches(needle).count(),
            1,
            "the example has `{needle}` exactly once"
        );
    }
    text.replace("listen 80;", &format!("listen 127.0.0.1:{listen_port};"))
        .replace(
            "server 127.0.0.1:8080;",
            &format!("server 127.0.0.1:{gateway_port};"),
        )
        .replace(
            "server 127.0.0.1:3000;",
            &format!("server 127.0.0.1:{app_port};"),
        )
}

/// A running nginx master process (stopped with SIGTERM, then SIGKILL, on drop).
pub struct Nginx {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Nginx {
    /// The error log so far (for assertion messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// The access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers; a SIGKILL would orphan them.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole `nginx.conf`: everything nginx writes goes under `dir`, and
/// `http_snippet` (server and upstream blocks) goes inside `http { }`.
pub fn nginx_conf(dir: &Path, http_snippet: &str) -> String {
    let d = dir.display();
    let user = if crate::running_as_root() {
        "user root;\n"
    } else {
        ""
    };
    format!(
        "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         access_log {d}/access.log;\n\
         client_body_temp_path {d}/tmp/body;\nproxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\nuwsgi_temp_path {d}/tmp/uwsgi;\nscgi_temp_path {d}/tmp/scgi;\n\
         {http_snippet}\n}}\n"
    )
}

/// Writes `dir/nginx.conf` around `http_snippet` (which must listen on
/// `127.0.0.1:port`), starts nginx in the foreground and waits until `port`
/// accepts connections.
pub fn start_nginx(dir: &Path, port: u16, http_snippet: &str) -> Nginx {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} missing: ./deploy/test installs nginx-light"
    );
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(dir, http_snippet)).unwrap();
    // -t first: a bad config fails here with nginx's own message.
    let check = Command::new(NGINX)
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nginx -t: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .arg("-g")
        .arg("daemon off; master_process on;")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start nginx: {e}"));
    let mut n = Nginx {
        child,
        port,
        dir: dir.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = n.child.try_wait() {
            panic!("nginx exited ({status}): {}", n.error_log());
        }
        assert!(
            Instant::now() < deadline,
            "nginx did not listen on {port}: {}",
            n.error_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    n
}
