//! The peers `./deploy/bench compare` measures the gateway against, each a real
//! server as an integrator would run it, started on this machine beside the
//! gateway: node `oidc-provider` (npm, `tests/peers/oidc-provider`) as the OpenID
//! Provider, SimpleSAMLphp 1.19 (Debian) under Apache's mod_php with opcache as
//! the SAML IdP. nginx, the proxy's peer, is in [`crate::nginx`].
//!
//! Each is configured for the same work the gateway does in the same bench
//! (one client or SP, the same signature algorithm and key size), and none of
//! them is tuned beyond what its documentation recommends for production
//! (opcache on, no debug logging), so a ratio says what a site would see.

use crate::{free_port, repo_root, Proc};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The folder of the OIDC peer (its `package.json`, `server.mjs`).
pub fn oidc_provider_dir() -> PathBuf {
    repo_root().join("tests/peers/oidc-provider")
}

/// node oidc-provider on a free loopback port, one confidential client
/// (`client_secret_basic`, ES256 ID tokens, PKCE). Returns the process and
/// its issuer URL.
pub fn start_oidc_provider(client_id: &str, secret: &str, redirect_uri: &str) -> (Proc, String) {
    let dir = oidc_provider_dir();
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider is not installed in {}: ./deploy/bench compare installs it",
        dir.display()
    );
    let port = free_port();
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .arg("server.mjs")
        .env("PORT", port.to_string())
        .env("CLIENT_ID", client_id)
        .env("CLIENT_SECRET", secret)
        .env("REDIRECT_URI", redirect_uri)
        .env("NODE_ENV", "production");
    let (proc, _) = Proc::start("oidc-provider", cmd, "listening on ");
    (proc, format!("http://127.0.0.1:{port}"))
}

const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
const SSP_WWW: &str = "/usr/share/simplesamlphp/www";
/// Debian's stock configuration, which the bench's includes and then overrides
/// only where it must (paths, the IdP switched on, plain-HTTP cookies).
const SSP_STOCK_CONFIG: &str = "/etc/simplesamlphp/config.php";

/// SimpleSAMLphp as a SAML 2.0 IdP under Apache (prefork, mod_php, opcache),
/// with an authentication source that logs everyone in at once
/// (`exampleauth:StaticSource`) and one SP that takes IdP-initiated SSO over
/// HTTP-POST with the Response and the Assertion signed (RSA-SHA256). Stopped
/// on drop.
pub struct SimpleSamlPhp {
    apache: Option<Proc>,
    pub url: String,
    pub dir: PathBuf,
}

/// The files of SimpleSAMLphp and mod_php, or what to install.
fn require_simplesamlphp() {
    for p in [
        Path::new(APACHE).to_path_buf(),
        Path::new(MODULES).join("libphp8.2.so"),
        Path::new(SSP_WWW).join("saml2/idp/SSOService.php"),
        Path::new(SSP_STOCK_CONFIG).to_path_buf(),
    ] {
        assert!(
            p.exists(),
            "{} missing: ./deploy/bench compare installs SimpleSAMLphp and mod_php \
             (deploy/lib/prereqs.sh, MUNJIGI_BENCH_PACKAGES)",
            p.display()
        );
    }
}

fn php_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl SimpleSamlPhp {
    /// Lays out the configuration in `dir/ssp` (the IdP's RSA key and
    /// certificate copied from `key_pem` and `cert_pem`), starts Apache with
    /// `workers` prefork children (fixed, so none comes or goes during a run),
    /// and waits until the IdP's metadata answers.
    pub fn start(
        dir: &Path,
        key_pem: &Path,
        cert_pem: &Path,
        sp_entity_id: &str,
        acs: &str,
        workers: usize,
    ) -> Self {
        require_simplesamlphp();
        let dir = dir.join("ssp");
        for sub in [
            "config", "metadata", "cert", "log", "tmp", "data", "run", "htdocs",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::copy(key_pem, dir.join("cert/idp.pem")).unwrap();
        std::fs::copy(cert_pem, dir.join("cert/idp.crt")).unwrap();
        let d = dir.display().to_string();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        std::fs::write(
            dir.join("config/config.php"),
            format!(
                "<?php\nrequire {stock};\n$config = array_merge($config, [\n\
                 'baseurlpath' => 'simplesaml/',\n\
                 'certdir' => {cert},\n'loggingdir' => {log},\n'datadir' => {data},\n\
                 'tempdir' => {tmp},\n'metadatadir' => {md},\n\
                 'metadata.sources' => [['type' => 'flatfile', 'directory' => {md}]],\n\
                 'secretsalt' => {salt},\n'auth.adminpassword' => {salt},\n\
                 'enable.saml20-idp' => true,\n'session.cookie.secure' => false,\n\
                 'logging.handler' => 'file',\n'logging.logfile' => 'simplesamlphp.log',\n\
                 'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => false],\n\
                 ]);\n",
                stock = php_str(SSP_STOCK_CONFIG),
                cert = php_str(&format!("{d}/cert/")),
                log = php_str(&format!("{d}/log/")),
                data = php_str(&format!("{d}/data/")),
                tmp = php_str(&format!("{d}/tmp")),
                md = php_str(&format!("{d}/metadata/")),
                salt = php_str(&random_hex(16)),
            ),
        )
        .unwrap();
        // The same person and attributes as the gateway's bench SPs release.
        std::fs::write(
            dir.join("config/authsources.php"),
            "<?php\n$config = [\n  'bench' => [\n    'exampleauth:StaticSource',\n    \
             'uid' => ['bench'],\n    'name' => ['홍길동'],\n    'birthdate' => ['1990-01-01'],\n    \
             'phone_number' => ['+821012345678'],\n  ],\n];\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("metadata/saml20-idp-hosted.php"),
            "<?php\n$metadata['__DYNAMIC:1__'] = [\n  'host' => '__DEFAULT__',\n  \
             'privatekey' => 'idp.pem',\n  'certificate' => 'idp.crt',\n  'auth' => 'bench',\n  \
             'saml20.sign.response' => true,\n  'saml20.sign.assertion' => true,\n  \
             'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',\n];\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("metadata/saml20-sp-remote.php"),
            format!(
                "<?php\n$metadata[{}] = [\n  'AssertionConsumerService' => {},\n];\n",
                php_str(sp_entity_id),
                php_str(acs)
            ),
        )
        .unwrap();
        // Tells the bench whether opcache is really on in Apache's PHP.
        std::fs::write(
            dir.join("htdocs/opcache.php"),
            "<?php echo (function_exists('opcache_get_status') && (opcache_get_status(false)['opcache_enabled'] ?? false)) ? 'on' : 'off';\n",
        )
        .unwrap();
        let user = if crate::running_as_root() {
            "User www-data\nGroup www-data\n"
        } else {
            ""
        };
        std::fs::write(
            dir.join("httpd.conf"),
            format!(
                r#"ServerRoot "{d}"
Listen 127.0.0.1:{port}
ServerName {url}
UseCanonicalName On
PidFile {d}/run/httpd.pid
DefaultRuntimeDir {d}/run
Mutex file:{d}/run default
ErrorLog /dev/stderr
LogLevel notice
{user}LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule alias_module {MODULES}/mod_alias.so
LoadModule env_module {MODULES}/mod_env.so
LoadModule mime_module {MODULES}/mod_mime.so
LoadModule dir_module {MODULES}/mod_dir.so
LoadModule php_module {MODULES}/libphp8.2.so
TypesConfig /etc/mime.types
StartServers {workers}
MinSpareServers {workers}
MaxSpareServers {workers}
ServerLimit {workers}
MaxRequestWorkers {workers}
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot {d}/htdocs
SetEnv SIMPLESAMLPHP_CONFIG_DIR {d}/config
Alias /simplesaml {SSP_WWW}
<Directory {SSP_WWW}>
  Require all granted
  DirectoryIndex index.php
</Directory>
<Directory {d}/htdocs>
  Require all granted
</Directory>
<FilesMatch "\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
"#
            ),
        )
        .unwrap();
        open_to_apache(&dir);
        let mut apache = Command::new(APACHE);
        // Its own process group: Apache ends its children with a signal to
        // its whole group on shutdown, which would otherwise be the bench's.
        std::os::unix::process::CommandExt::process_group(&mut apache, 0);
        apache
            .arg("-f")
            .arg(dir.join("httpd.conf"))
            .arg("-DFOREGROUND");
        let (apache, _) = Proc::start("apache2", apache, "resuming normal operations");
        let ssp = Self {
            apache: Some(apache),
            url,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ssp.children().len() < workers {
            assert!(
                Instant::now() < deadline,
                "Apache did not start {workers} children"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ssp
    }

    /// Apache's parent process.
    pub fn pid(&self) -> u32 {
        self.apache.as_ref().map_or(0, Proc::pid)
    }

    /// Apache's children (the workers that run PHP).
    pub fn children(&self) -> Vec<u32> {
        crate::bench::children(self.pid())
    }

    /// The parent and every child: whose CPU a response costs.
    pub fn pids(&self) -> Vec<u32> {
        let mut all = vec![self.pid()];
        all.extend(self.children());
        all
    }

    /// IdP-initiated SSO for `sp_entity_id` (SimpleSAMLphp's `spentityid`).
    pub fn sso_url(&self, sp_entity_id: &str) -> String {
        format!(
            "{}/simplesaml/saml2/idp/SSOService.php?spentityid={}",
            self.url,
            form_urlencoded::byte_serialize(sp_entity_id.as_bytes()).collect::<String>()
        )
    }

    /// SimpleSAMLphp's own log (errors name their cause here).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/simplesamlphp.log")).unwrap_or_default()
    }
}

impl Drop for SimpleSamlPhp {
    fn drop(&mut self) {
        if let Some(mut p) = self.apache.take() {
            p.terminate();
            if p.wait_exit(Duration::from_secs(10)).is_none() {
                eprintln!("apache2 did not stop on SIGTERM; killing it");
            }
        }
    }
}

fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Apache's children run as www-data when the bench is root: they read the
/// configuration and, group www-data, the key; they write SimpleSAMLphp's log,
/// sessions and temp files (theirs). Otherwise Apache runs as this user and
/// owns everything already.
fn open_to_apache(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    if !crate::running_as_root() {
        return;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "www-data"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no www-data user for Apache's children"))
    };
    let (uid, gid) = (id("-u"), id("-g"));
    mode(dir.parent().unwrap(), 0o755);
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        if ["log", "tmp", "data"].iter().any(|w| d.ends_with(w)) {
            std::os::unix::fs::chown(&d, Some(uid), Some(gid)).unwrap();
            mode(&d, 0o700);
            continue;
        }
        mode(&d, 0o755);
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.ends_with("idp.pem") {
                std::os::unix::fs::chown(&p, None, Some(gid)).unwrap();
                mode(&p, 0o640);
            } else {
                mode(&p, 0o644);
            }
        }
    }
}
