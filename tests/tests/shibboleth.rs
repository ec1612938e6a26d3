//! The real Shibboleth SP (Debian 12's `shibd` and Apache's `mod_shib`, 3.4)
//! as the gateway's peer: the attribute maps in `deploy/examples/` are only
//! worth shipping if the SP integrators actually run decodes what the gateway
//! sends, and the stock map's behaviour (only `pairwise-id`) is what the
//! README promises a new integrator.
//!
//! Each test runs its own `shibd` and Apache on loopback, with a generated
//! configuration (SP key and certificate, socket, pid and logs in the test's
//! directory); the SP is registered at the gateway by the metadata its own
//! `/Shibboleth.sso/Metadata` handler generates, and what it decoded is read
//! from its Session handler. A machine without the packages fails here with
//! what to install: `deploy/lib/prereqs.sh` installs them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::saml::{auto_post_form, submit_auto_post};
use munjigi_e2e::*;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SHIBD: &str = "/usr/sbin/shibd";
const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
/// Debian's configuration, read (never changed): the stock attribute map and
/// the policies every SP starts from.
const ETC: &str = "/etc/shibboleth";

/// Fails (never skips) when the Shibboleth SP is not installed.
fn require_shibboleth() {
    let needed = [
        PathBuf::from(SHIBD),
        PathBuf::from(APACHE),
        Path::new(MODULES).join("mod_shib.so"),
        Path::new(ETC).join("attribute-map.xml"),
        Path::new(ETC).join("attribute-policy.xml"),
        Path::new(ETC).join("security-policy.xml"),
        Path::new(ETC).join("protocols.xml"),
    ];
    let missing: Vec<String> = needed
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "the Shibboleth SP test needs Debian's apache2 and libapache2-mod-shib \
         (deploy/test installs them through deploy/lib/prereqs.sh); missing: {}",
        missing.join(", ")
    );
}

/// The SP's key and self-signed certificate (PEM files in `dir`).
fn sp_credentials(dir: &Path) -> (PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509NameBuilder, X509};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "shibboleth-sp.test")
        .unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let (k, c) = (dir.join("sp-key.pem"), dir.join("sp-cert.pem"));
    std::fs::write(&k, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Read by shibd alone (Debian's is _shibd's, 0600).
        std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(&c, b.build().to_pem().unwrap()).unwrap();
    (k, c)
}

/// Debian's stock map with the shipped entries pasted in before its end, as
/// the example's comment tells an operator to.
fn stock_map_with_shipped_entries() -> String {
    require_shibboleth();
    let stock = std::fs::read_to_string(Path::new(ETC).join("attribute-map.xml")).unwrap();
    let shipped =
        std::fs::read_to_string(repo_root().join("deploy/examples/shibboleth-attribute-map.xml"))
            .unwrap();
    let open = shipped.find("<Attributes").unwrap();
    let body_at = open + shipped[open..].find('>').unwrap() + 1;
    let body_end = shipped.rfind("</Attributes>").unwrap();
    let entries = &shipped[body_at..body_end];
    assert!(entries.contains("<Attribute "), "no entries in the example");
    let at = stock.rfind("</Attributes>").unwrap();
    format!("{}{entries}{}", &stock[..at], &stock[at..])
}

/// A Shibboleth SP: Apache with mod_shib on `url`, its shibd, both stopped on drop.
struct ShibSp {
    dir: PathBuf,
    port: u16,
    url: String,
    entity_id: String,
    idp_entity_id: String,
    shibd: Option<Proc>,
    apache: Option<Proc>,
}

impl ShibSp {
    /// Lays out the SP's files in `dir/shib`; `idp_url` is the gateway's base URL.
    fn new(dir: &Path, idp_url: &str) -> Self {
        require_shibboleth();
        let dir = dir.join("shib");
        std::fs::create_dir_all(dir.join("htdocs/secure")).unwrap();
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::write(dir.join("htdocs/secure/page.txt"), "behind mod_shib\n").unwrap();
        sp_credentials(&dir);
        // shibd logs to its stderr, which the harness reads (its stdout is
        // block-buffered); mod_shib, in Apache's children, to a file they can write.
        std::fs::write(
            dir.join("shibd.logger"),
            "log4j.rootCategory=INFO, out\n\
             log4j.appender.out=org.apache.log4j.FileAppender\n\
             log4j.appender.out.fileName=/dev/stderr\n\
             log4j.appender.out.layout=org.apache.log4j.PatternLayout\n\
             log4j.appender.out.layout.ConversionPattern=shibd %p %c: %m%n\n",
        )
        .unwrap();
        let native_log = dir.join("native.log");
        std::fs::write(
            dir.join("native.logger"),
            format!(
                "log4j.rootCategory=INFO, out\n\
                 log4j.appender.out=org.apache.log4j.FileAppender\n\
                 log4j.appender.out.fileName={}\n\
                 log4j.appender.out.layout=org.apache.log4j.PatternLayout\n\
                 log4j.appender.out.layout.ConversionPattern=mod_shib %p %c: %m%n\n",
                native_log.display()
            ),
        )
        .unwrap();
        std::fs::write(&native_log, "").unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        Self {
            entity_id: format!("{url}/shibboleth"),
            idp_entity_id: format!("{idp_url}/saml/metadata"),
            dir,
            port,
            url,
            shibd: None,
            apache: None,
        }
    }

    /// Writes the configuration (the IdP's metadata file when there is one,
    /// `map` as the attribute map) and starts shibd, then Apache; returns
    /// once the SP's Status handler says the session cache is OK.
    async fn start(&mut self, idp_metadata: Option<&str>, map: &str) {
        self.stop();
        let d = self.dir.display().to_string();
        let metadata_provider = match idp_metadata {
            Some(xml) => {
                std::fs::write(self.dir.join("idp-metadata.xml"), xml).unwrap();
                format!(
                    r#"<MetadataProvider type="XML" validate="true" path="{d}/idp-metadata.xml"/>"#
                )
            }
            None => String::new(),
        };
        std::fs::write(self.dir.join("attribute-map.xml"), map).unwrap();
        let config = format!(
            r#"<SPConfig xmlns="urn:mace:shibboleth:3.0:native:sp:config"
    xmlns:conf="urn:mace:shibboleth:3.0:native:sp:config" clockSkew="180">
  <OutOfProcess logger="{d}/shibd.logger"/>
  <InProcess logger="{d}/native.logger"/>
  <UnixListener address="{d}/shibd.sock"/>
  <ApplicationDefaults entityID="{entity}" REMOTE_USER="pairwise-id persistent-id">
    <Sessions lifetime="28800" timeout="3600" relayState="ss:mem" checkAddress="false"
        handlerSSL="false" cookieProps="http" redirectLimit="exact">
      <SSO entityID="{idp}">SAML2</SSO>
      <Logout>Local</Logout>
      <Handler type="MetadataGenerator" Location="/Metadata" signing="false"/>
      <Handler type="Status" Location="/Status" acl="127.0.0.1 ::1"/>
      <Handler type="Session" Location="/Session" showAttributeValues="true" contentType="application/json"/>
    </Sessions>
    <Errors supportContact="root@localhost" styleSheet="/shibboleth-sp/main.css"/>
    {metadata_provider}
    <AttributeExtractor type="XML" validate="true" reloadChanges="false" path="{d}/attribute-map.xml"/>
    <AttributeFilter type="XML" validate="true" path="{ETC}/attribute-policy.xml"/>
    <CredentialResolver type="File" key="{d}/sp-key.pem" certificate="{d}/sp-cert.pem"/>
  </ApplicationDefaults>
  <SecurityPolicyProvider type="XML" validate="true" path="{ETC}/security-policy.xml"/>
  <ProtocolProvider type="XML" validate="true" reloadChanges="false" path="{ETC}/protocols.xml"/>
</SPConfig>
"#,
            entity = self.entity_id,
            idp = self.idp_entity_id,
        );
        std::fs::write(self.dir.join("shibboleth2.xml"), config).unwrap();
        // Apache will not serve as root: its children run as www-data then,
        // which reads this directory (0755) and writes only native.log.
        let user = if running_as_root() {
            "User www-data\nGroup www-data\n"
        } else {
            ""
        };
        let port = self.port;
        let apache_conf = format!(
            r#"ServerRoot "{d}"
Listen 127.0.0.1:{port}
ServerName http://127.0.0.1:{port}
UseCanonicalName On
PidFile {d}/run/httpd.pid
DefaultRuntimeDir {d}/run
Mutex file:{d}/run default
ErrorLog /dev/stderr
LogLevel notice
{user}LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule mod_shib {MODULES}/mod_shib.so
StartServers 2
ShibConfig {d}/shibboleth2.xml
DocumentRoot {d}/htdocs
<Location /Shibboleth.sso>
  SetHandler shib
  Require all granted
</Location>
<Location /secure>
  AuthType shibboleth
  ShibRequestSetting requireSession 1
  Require shib-session
</Location>
"#
        );
        std::fs::write(self.dir.join("httpd.conf"), apache_conf).unwrap();
        readable_by_apache(&self.dir);

        let mut shibd = Command::new(SHIBD);
        shibd
            .process_group(0)
            .args(["-F", "-f", "-c"])
            .arg(self.dir.join("shibboleth2.xml"))
            .arg("-p")
            .arg(self.dir.join("shibd.pid"));
        let (shibd, _) = Proc::start("shibd", shibd, "listener service starting");
        self.shibd = Some(shibd);
        let mut apache = Command::new(APACHE);
        // Its own process group: Apache ends its children with a signal to
        // its whole group on shutdown, which would otherwise be this test's.
        apache
            .process_group(0)
            .arg("-f")
            .arg(self.dir.join("httpd.conf"))
            .arg("-DFOREGROUND");
        let (apache, _) = Proc::start("apache2", apache, "resuming normal operations");
        self.apache = Some(apache);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = get_ok(&format!("{}/Shibboleth.sso/Status", self.url)).await;
            if status.as_deref().is_some_and(|s| s.contains("<OK/>")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Shibboleth SP did not come up: {status:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops Apache (SIGTERM: the parent ends its children) and shibd.
    fn stop(&mut self) {
        for p in [self.apache.take(), self.shibd.take()]
            .into_iter()
            .flatten()
        {
            let mut p = p;
            p.terminate();
            if p.wait_exit(Duration::from_secs(10)).is_none() {
                eprintln!("{} did not stop on SIGTERM; killing it", p.name);
            }
        }
    }

    /// What shibd, Apache and mod_shib said (for failure messages).
    fn logs(&self) -> String {
        let mut out = String::new();
        for p in [&self.shibd, &self.apache].into_iter().flatten() {
            for l in p.drain() {
                out.push_str(&format!("{}: {l}\n", p.name));
            }
        }
        out.push_str(&std::fs::read_to_string(self.dir.join("native.log")).unwrap_or_default());
        out
    }
}

impl Drop for ShibSp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Apache's children (www-data under root) read the SP's configuration
/// and pages whatever the umask: the directories up to here and every file
/// but the SP's key.
fn readable_by_apache(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(dir.parent().unwrap(), 0o755);
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        mode(&d, 0o755);
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if !p.is_file() {
                // shibd's socket, which it makes for everyone itself.
            } else if p.ends_with("native.log") {
                mode(&p, 0o666);
            } else if !p.ends_with("sp-key.pem") {
                mode(&p, 0o644);
            }
        }
    }
}

/// A GET's body when it answered 200 (None while it does not).
async fn get_ok(url: &str) -> Option<String> {
    let mut b = Browser::new(None);
    let p = tokio::time::timeout(Duration::from_secs(5), b.get(url))
        .await
        .ok()?;
    (p.status == 200).then_some(p.body)
}

/// The gateway, the simulator and a Shibboleth SP registered at the gateway
/// by the metadata the SP generates; the SP is left running with the
/// gateway's metadata and `map`.
struct ShibWorld {
    _dir: TempDir,
    _sim: Proc,
    gw: Gateway,
    sp: ShibSp,
}

async fn shib_world(tag: &str, site_extra: &str, map: &str) -> ShibWorld {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let gw_port = free_port();
    let gw_url = format!("http://127.0.0.1:{gw_port}");
    let mut sp = ShibSp::new(dir.path(), &gw_url);
    // First without the IdP: only to have the SP describe itself.
    sp.start(None, map).await;
    let sp_metadata = get_ok(&format!("{}/Shibboleth.sso/Metadata", sp.url))
        .await
        .unwrap_or_else(|| panic!("no SP metadata\n{}", sp.logs()));
    assert!(
        sp_metadata.contains(&format!("entityID=\"{}\"", sp.entity_id)),
        "{sp_metadata}"
    );
    let sp_metadata_file = dir.path().join("shibboleth-sp-metadata.xml");
    std::fs::write(&sp_metadata_file, &sp_metadata).unwrap();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            port: Some(gw_port),
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: format!(
                "\n[sites.intranet]\nname = \"인트라넷\"\nname_en = \"Intranet\"\npolicy = \"standard\"\n\n[sites.intranet.saml]\nmetadata = \"{}\"\nscope = \"profile phone\"\n{site_extra}\n",
                sp_metadata_file.display()
            ),
            ..GatewayOpts::default()
        },
    );
    let idp_metadata = get_ok(&format!("{gw_url}/saml/metadata"))
        .await
        .expect("IdP metadata");
    sp.start(Some(&idp_metadata), map).await;
    ShibWorld {
        _dir: dir,
        _sim: sim,
        gw,
        sp,
    }
}

/// Logs HONG in at the SP's protected page through the gateway's own pages;
/// returns the SP's Session handler's JSON (what Shibboleth decoded).
async fn login(w: &ShibWorld) -> serde_json::Value {
    let mut b = Browser::new(None);
    let protected = format!("{}/secure/page.txt", w.sp.url);
    let start = b.get(&protected).await;
    assert_eq!(start.status, 302, "SP's protected page: {}", start.body);
    let to_idp = start.location.clone().unwrap();
    assert!(
        to_idp.starts_with(&format!("{}/saml/sso?SAMLRequest=", w.gw.url)),
        "{to_idp}"
    );
    let (chooser, chooser_url) = b.follow(&to_idp).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &absolute(&w.gw.url, &base)).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (post_back, _) = b
        .follow(&absolute(&w.gw.url, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(post_back.status, 200, "post-back page: {}", post_back.body);
    // The SP's generated metadata has a key for both uses, so the gateway
    // encrypts (AES-128-GCM, RSA-OAEP) and Shibboleth must decrypt it.
    let (_, fields) = auto_post_form(&post_back);
    let response = fields
        .iter()
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| base64::engine::general_purpose::STANDARD.decode(v).unwrap())
        .expect("SAMLResponse in the post-back form");
    let response = String::from_utf8(response).unwrap();
    assert!(
        response.contains("EncryptedAssertion") && !response.contains("1990-01-31"),
        "not encrypted: {response}"
    );
    let acs = submit_auto_post(&mut b, &post_back, &w.gw.url).await;
    assert_eq!(
        acs.status,
        302,
        "Shibboleth's ACS refused the Response: {}\n{}",
        acs.body,
        w.sp.logs()
    );
    assert_eq!(acs.location.as_deref(), Some(protected.as_str()));
    let page = b.get(&protected).await;
    assert_eq!(
        page.status, 200,
        "protected page after login: {}",
        page.body
    );
    assert_eq!(page.body, "behind mod_shib\n");
    let session = b.get(&format!("{}/Shibboleth.sso/Session", w.sp.url)).await;
    assert_eq!(session.status, 200, "Session handler: {}", session.body);
    serde_json::from_str(&session.body)
        .unwrap_or_else(|e| panic!("Session handler's JSON ({e}): {}", session.body))
}

/// The decoded attributes: id → values.
fn decoded(session: &serde_json::Value) -> std::collections::BTreeMap<String, Vec<String>> {
    session["attributes"]
        .as_array()
        .unwrap_or_else(|| panic!("no attributes in {session}"))
        .iter()
        .map(|a| {
            let values = a["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            (a["name"].as_str().unwrap().to_owned(), values)
        })
        .collect()
}

const PERSONAL: [&str; 3] = ["홍길동", "1990-01-31", "+821012345678"];

#[tokio::test]
async fn shibboleth_stock_map_gets_pairwise_id_and_the_shipped_entries_the_rest() {
    let stock =
        std::fs::read_to_string(Path::new(ETC).join("attribute-map.xml")).unwrap_or_else(|e| {
            require_shibboleth();
            panic!("stock attribute map: {e}")
        });
    let mut w = shib_world("shib-munjigi", "", &stock).await;

    // Debian's stock map: pairwise-id (and the persistent NameID it maps
    // too), nothing personal.
    let session = login(&w).await;
    let attrs = decoded(&session);
    let pairwise = attrs
        .get("pairwise-id")
        .unwrap_or_else(|| panic!("no pairwise-id with the stock map: {session}"))
        .clone();
    assert_eq!(pairwise.len(), 1, "{session}");
    let (unique, scope) = pairwise[0].split_once('@').unwrap();
    assert_eq!(scope, "127.0.0.1", "{session}");
    // The same subject as the persistent NameID (what persistent-id ends
    // with), its bytes in hex as the profile wants.
    let name_id = attrs["persistent-id"][0]
        .rsplit('!')
        .next()
        .unwrap()
        .to_owned();
    let sub_bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&name_id)
        .unwrap();
    assert_eq!(unique, hex_lower(&sub_bytes), "{session}");
    for id in attrs.keys() {
        assert!(
            ["pairwise-id", "persistent-id"].contains(&id.as_str()),
            "the stock map decoded {id}: {session}"
        );
    }
    for v in PERSONAL {
        assert!(
            !session.to_string().contains(v),
            "{v} with the stock map: {session}"
        );
    }

    // The shipped entries pasted in: name, birth date and phone arrive.
    w.sp.start(
        Some(&std::fs::read_to_string(w.sp.dir.join("idp-metadata.xml")).unwrap()),
        &stock_map_with_shipped_entries(),
    )
    .await;
    let session = login(&w).await;
    let attrs = decoded(&session);
    let one = |id: &str| {
        attrs
            .get(id)
            .unwrap_or_else(|| panic!("no {id} with the shipped entries: {session}"))
            .clone()
    };
    assert_eq!(one("displayName"), ["홍길동"], "{session}");
    assert_eq!(one("dateOfBirth"), ["1990-01-31"], "{session}");
    assert_eq!(one("telephoneNumber"), ["+821012345678"], "{session}");
    assert_eq!(one("munjigi-provider"), ["kakao"], "{session}");
    assert_eq!(one("pairwise-id"), pairwise, "the same person, the same id");
    assert_eq!(one("gender"), ["female"], "{session}");
    assert_eq!(one("munjigi-sub"), [name_id], "{session}");
    for oid_only in ["schacDateOfBirth", "schacGender", "mobile"] {
        assert!(!attrs.contains_key(oid_only), "{oid_only}: {session}");
    }
}

#[tokio::test]
async fn shibboleth_on_the_oid_profile_decodes_the_shipped_oid_entries() {
    require_shibboleth();
    let w = shib_world(
        "shib-oid",
        "attribute_profile = \"oid\"",
        &stock_map_with_shipped_entries(),
    )
    .await;
    let session = login(&w).await;
    let attrs = decoded(&session);
    let one = |id: &str| {
        attrs
            .get(id)
            .unwrap_or_else(|| panic!("no {id} on the oid profile: {session}"))
            .clone()
    };
    assert_eq!(one("displayName"), ["홍길동"], "{session}");
    assert_eq!(one("schacDateOfBirth"), ["19900131"], "{session}");
    assert_eq!(one("mobile"), ["+821012345678"], "{session}");
    assert_eq!(one("schacGender"), ["2"], "{session}");
    assert_eq!(one("pairwise-id").len(), 1, "{session}");
    for munjigi_only in ["dateOfBirth", "gender", "telephoneNumber"] {
        assert!(
            !attrs.contains_key(munjigi_only),
            "{munjigi_only}: {session}"
        );
    }
}
