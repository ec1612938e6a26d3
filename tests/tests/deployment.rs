//! The deployment files (`deploy/Dockerfile`, `deploy/compose.yaml`, the Helm
//! chart in `deploy/helm/munjigi/`) agree with what the binary really does.
//! None of them runs here (no docker, no helm, no cluster), and every mistake
//! in them shows only in production: a probe on a path the gateway does not
//! answer restarts every pod, a grace period shorter than the drain cuts
//! logins, an environment variable the config names but nobody sets stops the
//! start. So the chart is rendered by a small renderer (plain substitutions,
//! which is all the templates may use), every file is parsed, and each fact
//! is checked against the source of truth: the configs they carry
//! (`munjigi check`, and the compose config served for real), a running
//! gateway for every probe and health path, the source for the drain time and
//! the environment variables the binary reads, the built binary for the
//! shared libraries the image must carry.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use serde_norway::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn read(rel: &str) -> String {
    let p = repo_root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------- the renderer

/// Renders a chart template: `{{ .Values.a.b }}` (a scalar present in
/// values.yaml), `{{ .Release.Name }}`, `{{ .Release.Namespace }}`,
/// `{{ .Chart.Name }}`, `{{ .Chart.Version }}`, `{{ .Chart.AppVersion }}`.
/// Anything else (conditionals, pipelines, whitespace trimming) is an error:
/// the templates must stay within what this renderer and helm agree on.
fn render(template: &str, values: &Yaml, chart: &Yaml, release: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or("`{{` without `}}`")?;
        let action = &after[..close];
        let inner = action.trim();
        if inner.len() == action.len() || action.starts_with('-') || action.ends_with('-') {
            return Err(format!("unsupported action `{{{{{action}}}}}`"));
        }
        let value = match inner {
            ".Release.Name" => release.to_owned(),
            ".Release.Namespace" => "default".to_owned(),
            ".Chart.Name" => scalar(&chart["name"], inner)?,
            ".Chart.Version" => scalar(&chart["version"], inner)?,
            ".Chart.AppVersion" => scalar(&chart["appVersion"], inner)?,
            _ => {
                let path = inner
                    .strip_prefix(".Values.")
                    .ok_or_else(|| format!("unsupported action `{inner}`"))?;
                let mut v = values;
                for key in path.split('.') {
                    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!("unsupported action `{inner}`"));
                    }
                    v = v
                        .get(key)
                        .ok_or_else(|| format!("`{inner}`: no `{key}` in values.yaml"))?;
                }
                scalar(v, inner)?
            }
        };
        out.push_str(&value);
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err("`}}` without `{{`".into());
    }
    out.push_str(rest);
    Ok(out)
}

/// A value as helm prints it; maps and lists print as Go's `map[…]`: refused.
fn scalar(v: &Yaml, what: &str) -> Result<String, String> {
    match v {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("`{what}` is not a scalar")),
    }
}

#[test]
fn the_renderer_refuses_what_it_does_not_understand() {
    let values: Yaml = serde_norway::from_str("a:\n  b: 7\n  m: {x: 1}\n").unwrap();
    let chart: Yaml = serde_norway::from_str("name: munjigi\n").unwrap();
    let ok = render(
        "n: {{ .Values.a.b }} {{ .Chart.Name }}",
        &values,
        &chart,
        "r",
    );
    assert_eq!(ok.unwrap(), "n: 7 munjigi");
    for bad in [
        "{{ .Values.a.c }}",
        "{{ .Values.a.m }}",
        "{{ if .Values.a.b }}x{{ end }}",
        "{{ .Values.a.b | quote }}",
        "{{- .Values.a.b }}",
        "{{.Values.a.b}}",
        "{{ include \"x\" . }}",
        "{{ .Values.a.b }",
        "x }}",
    ] {
        assert!(render(bad, &values, &chart, "r").is_err(), "{bad} rendered");
    }
}

/// Every document of the rendered chart.
struct Chart(Vec<Yaml>);

impl Chart {
    /// The one document of `kind`.
    fn one(&self, kind: &str) -> &Yaml {
        let all = self.all(kind);
        assert_eq!(all.len(), 1, "one {kind}");
        all[0]
    }

    fn all(&self, kind: &str) -> Vec<&Yaml> {
        self.0.iter().filter(|d| d["kind"] == kind).collect()
    }
}

/// Every template of the chart rendered with values.yaml, every document parsed.
fn rendered_chart() -> Chart {
    let values: Yaml = serde_norway::from_str(&read("deploy/helm/munjigi/values.yaml")).unwrap();
    rendered_chart_with(&values)
}

/// Every template of the chart rendered with `values`, every document parsed.
fn rendered_chart_with(values: &Yaml) -> Chart {
    let root = repo_root().join("deploy/helm/munjigi");
    let chart: Yaml = serde_norway::from_str(&read("deploy/helm/munjigi/Chart.yaml")).unwrap();
    assert_eq!(chart["apiVersion"], "v2");
    let mut docs = Vec::new();
    let mut names = BTreeSet::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let out = render(&text, values, &chart, "munjigi")
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for de in serde_norway::Deserializer::from_str(&out) {
            let doc = <Yaml as serde::Deserialize>::deserialize(de)
                .unwrap_or_else(|e| panic!("{}: {e}\n{out}", file.display()));
            let kind = doc["kind"].as_str().expect("kind").to_owned();
            let name = doc["metadata"]["name"].as_str().expect("name").to_owned();
            assert!(
                names.insert((kind.clone(), name.clone())),
                "two {kind} {name}"
            );
            docs.push(doc);
        }
    }
    Chart(docs)
}

/// `v` with every string in it replaced by `LoadBalancer`: whatever an
/// operator may set in values.yaml, at its most dangerous for a Service.
fn poisoned(v: &Yaml) -> Yaml {
    match v {
        Yaml::String(_) => Yaml::String("LoadBalancer".into()),
        Yaml::Mapping(m) => {
            Yaml::Mapping(m.iter().map(|(k, v)| (k.clone(), poisoned(v))).collect())
        }
        Yaml::Sequence(s) => Yaml::Sequence(s.iter().map(poisoned).collect()),
        other => other.clone(),
    }
}

/// Whether a `matchLabels` selector selects an object with `labels`.
fn selects(match_labels: &Yaml, labels: &Yaml) -> bool {
    let want = match_labels.as_mapping().expect("matchLabels");
    !want.is_empty() && want.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether a Service port reaches the container's admin port (by name or number).
fn targets_admin(port: &Yaml, admin: u16) -> bool {
    let target = port.get("targetPort").unwrap_or(&port["port"]);
    target == "admin" || target.as_u64() == Some(u64::from(admin))
}

// ------------------------------------------------- facts from the source of truth

/// The drain of a stopping replica (`DRAIN_DEADLINE` in gateway/src/server.rs).
fn drain_secs() -> u64 {
    let src = read("gateway/src/server.rs");
    let line = src
        .lines()
        .find(|l| l.starts_with("pub const DRAIN_DEADLINE: Duration = Duration::from_secs("))
        .expect("DRAIN_DEADLINE in gateway/src/server.rs");
    line.rsplit('(')
        .next()
        .unwrap()
        .trim_end_matches(");")
        .parse()
        .unwrap()
}

/// Environment variables the binary reads by name: the `"MUNJIGI_…"` string
/// literals of the gateway and the command.
fn env_the_binary_reads() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![repo_root().join("gateway/src"), repo_root().join("cli/src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let src = std::fs::read_to_string(&p).unwrap();
                for piece in src.split("\"MUNJIGI_").skip(1) {
                    let name: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if piece[name.len()..].starts_with('"') {
                        names.insert(format!("MUNJIGI_{name}"));
                    }
                }
            }
        }
    }
    assert!(names.contains("MUNJIGI_LOG"), "{names:?}");
    names
}

/// `{ env = "NAME" }` secret references anywhere in a gateway config.
fn env_refs(config: &toml::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![config];
    while let Some(v) = stack.pop() {
        match v {
            toml::Value::Table(t) => {
                if let (Some(toml::Value::String(name)), 1) = (t.get("env"), t.len()) {
                    out.insert(name.clone());
                }
                stack.extend(t.values());
            }
            toml::Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    out
}

/// The port of a `listen` address.
fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// `[server] listen` and `[admin] listen` ports of a gateway config.
fn config_ports(config: &toml::Value) -> (u16, u16) {
    (
        port_of(config["server"]["listen"].as_str().unwrap()),
        port_of(config["admin"]["listen"].as_str().expect("[admin] listen")),
    )
}

/// Files and folders a gateway config names, relative to its folder.
fn config_paths(config: &toml::Value) -> Vec<String> {
    let mut out = vec![config["keys"]["dir"].as_str().unwrap().to_owned()];
    for p in config["providers"].as_table().unwrap().values() {
        for key in ["roots", "tls_ca", "crl", "session_public_key"] {
            if let Some(v) = p.get(key).and_then(toml::Value::as_str) {
                if !v.starts_with("https://") && !v.starts_with("http://") {
                    out.push(v.to_owned());
                }
            }
        }
    }
    out
}

/// `dir/rel` with `..` and `.` resolved lexically (a container path).
fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in rel.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if seg == ".." {
            parts.pop();
        } else {
            parts.push(seg);
        }
    }
    format!("/{}", parts.join("/"))
}

fn under(path: &str, mount: &str) -> bool {
    path == mount || path.starts_with(&format!("{}/", mount.trim_end_matches('/')))
}

/// `munjigi check FILE` with `env` set; panics with its output unless it passes.
fn munjigi_check(file: &Path, env: &BTreeMap<String, String>) {
    let out = Command::new(munjigi_bin())
        .arg("check")
        .arg(file)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "munjigi check {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The job the alert rules watch (`up{job="…"}`).
fn alerted_job() -> String {
    let rules = read("deploy/observability/alerts.yaml");
    let at = rules.find("up{job=\"").expect("an up{job=…} rule") + "up{job=\"".len();
    rules[at..].split('"').next().unwrap().to_owned()
}

// -------------------------------------------------------------------- the chart

#[test]
fn the_chart_renders_and_agrees_with_its_config_and_the_binary() {
    let docs = rendered_chart();
    let kinds: BTreeSet<&str> = docs.0.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    let want: BTreeSet<&str> = [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceMonitor",
    ]
    .into();
    assert_eq!(kinds, want);

    // The ConfigMap carries files/gateway.toml as it is.
    let file = read("deploy/helm/munjigi/files/gateway.toml");
    let cm = docs.one("ConfigMap");
    assert_eq!(cm["data"]["gateway.toml"].as_str(), Some(file.as_str()));
    let config: toml::Value = toml::from_str(&file).unwrap();
    let (public, admin) = config_ports(&config);

    let deploy = docs.one("Deployment");
    let pod = &deploy["spec"]["template"]["spec"];
    let containers = pod["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let ports: BTreeMap<String, u64> = c["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["containerPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports.get("http"), Some(&u64::from(public)), "{ports:?}");
    assert_eq!(ports.get("admin"), Some(&u64::from(admin)), "{ports:?}");

    // The config file is where --config says, from the ConfigMap.
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[..2], ["serve", "--config"]);
    let config_path = args[2];
    let (config_dir, config_name) = config_path.rsplit_once('/').unwrap();
    assert!(
        cm["data"].get(config_name).is_some(),
        "{config_name} in the ConfigMap"
    );
    let mounts: BTreeMap<String, String> = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["readOnly"], true, "{m:?}");
            (
                m["name"].as_str().unwrap().to_owned(),
                m["mountPath"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let volumes = pod["volumes"].as_sequence().unwrap();
    let config_volume = volumes
        .iter()
        .find(|v| v["configMap"]["name"] == cm["metadata"]["name"])
        .expect("a volume of the ConfigMap");
    assert_eq!(
        mounts[config_volume["name"].as_str().unwrap()],
        config_dir,
        "the ConfigMap is mounted where --config points"
    );
    // Every file the config names is inside a mounted volume.
    for rel in config_paths(&config) {
        let at = join(config_dir, &rel);
        assert!(
            mounts.values().any(|m| under(&at, m)) && !under(&at, config_dir),
            "{rel} resolves to {at}, in no volume mount: {mounts:?}"
        );
    }

    // Environment: only what the binary or the config reads, and all of
    // what the config reads.
    let binary_env = env_the_binary_reads();
    let refs = env_refs(&config);
    let set: BTreeSet<String> = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    for name in &set {
        assert!(
            binary_env.contains(name) || refs.contains(name),
            "{name} is set but neither the binary nor the config reads it"
        );
    }
    for name in &refs {
        assert!(
            set.contains(name),
            "the config reads {name}, the pod does not set it"
        );
    }
    for e in c["env"].as_sequence().unwrap() {
        if let Some(r) = e.get("valueFrom") {
            assert!(r["secretKeyRef"]["name"].as_str().is_some(), "{e:?}");
        }
    }

    // Probes on the public port; the paths are checked live below.
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], "http", "{probe}");
    }
    // Liveness must not be readiness: /readyz turns 503 while Redis is away,
    // and a liveness probe there would restart every pod during an outage.
    assert_ne!(
        c["livenessProbe"]["httpGet"]["path"],
        c["readinessProbe"]["httpGet"]["path"]
    );

    // Stopping: the preStop sleep, then the drain, within the grace period.
    let sleep: u64 = c["lifecycle"]["preStop"]["exec"]["command"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(c["lifecycle"]["preStop"]["exec"]["command"][0], "sleep");
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        grace > sleep + drain_secs(),
        "terminationGracePeriodSeconds {grace} <= preStop {sleep} s + drain {} s",
        drain_secs()
    );

    // The Services reach the right container ports. The admin port
    // (/metrics, /admin/providers) is on exactly one Service, and that one
    // is ClusterIP, never reachable from outside; the public one has none.
    let selector = &deploy["spec"]["selector"]["matchLabels"];
    assert_eq!(&deploy["spec"]["template"]["metadata"]["labels"], selector);
    let services = docs.all("Service");
    assert_eq!(services.len(), 2, "a public and an admin Service");
    for svc in &services {
        assert_eq!(&svc["spec"]["selector"], selector);
        for p in svc["spec"]["ports"].as_sequence().unwrap() {
            let target = p["targetPort"].as_str().unwrap();
            assert!(ports.contains_key(target), "Service targetPort {target}");
        }
    }
    let carries_admin = |svc: &Yaml| {
        svc["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| targets_admin(p, admin))
    };
    let (admin_svcs, public_svcs): (Vec<&Yaml>, Vec<&Yaml>) =
        services.iter().partition(|s| carries_admin(s));
    assert_eq!(admin_svcs.len(), 1, "the admin port on one Service");
    let admin_svc = admin_svcs[0];
    let public_svc = public_svcs[0];
    assert_eq!(admin_svc["spec"]["type"], "ClusterIP");
    assert!(
        admin_svc["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|p| targets_admin(p, admin)),
        "the admin Service carries the admin port only"
    );
    assert!(
        public_svc["spec"]["ports"][0]["targetPort"] == "http",
        "the public Service carries the public port"
    );
    // Whatever values.yaml says: with every string value set to
    // LoadBalancer, the public Service becomes one (so the poison reaches
    // the types) and a Service carrying the admin port stays ClusterIP.
    let values: Yaml = serde_norway::from_str(&read("deploy/helm/munjigi/values.yaml")).unwrap();
    let worst = rendered_chart_with(&poisoned(&values));
    let worst_services = worst.all("Service");
    assert!(
        worst_services
            .iter()
            .any(|s| s["spec"]["type"] == "LoadBalancer" && !carries_admin(s)),
        "service.type reaches the public Service"
    );
    for svc in worst_services.iter().filter(|s| carries_admin(s)) {
        assert_eq!(
            svc["spec"]["type"], "ClusterIP",
            "a value makes the admin Service external: {svc:?}"
        );
        for key in ["externalIPs", "loadBalancerIP", "externalName"] {
            assert!(svc["spec"].get(key).is_none(), "{key} on the admin Service");
        }
    }

    // The ServiceMonitor selects the admin Service, and only it.
    let sm = docs.one("ServiceMonitor");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    let sm_selector = &sm["spec"]["selector"]["matchLabels"];
    assert!(
        selects(sm_selector, &admin_svc["metadata"]["labels"]),
        "the ServiceMonitor selects the admin Service"
    );
    assert!(
        !selects(sm_selector, &public_svc["metadata"]["labels"]),
        "the ServiceMonitor selects the public Service"
    );
    let ep = &sm["spec"]["endpoints"][0];
    assert_eq!(ep["path"], "/metrics");
    let scraped = admin_svc["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == ep["port"])
        .expect("the ServiceMonitor's port is an admin Service port");
    assert_eq!(scraped["targetPort"], "admin", "metrics on the admin port");
    let job_label = sm["spec"]["jobLabel"].as_str().unwrap();
    assert_eq!(
        admin_svc["metadata"]["labels"][job_label].as_str(),
        Some(alerted_job().as_str()),
        "the scrape job is the one the alert rules name"
    );

    // The NetworkPolicy: the public port from anywhere, the admin port only
    // from selected pods (a ClusterIP Service is open to every pod).
    let np = docs.one("NetworkPolicy");
    assert_eq!(np["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(&np["spec"]["podSelector"]["matchLabels"], selector);
    assert_eq!(strings(&np["spec"]["policyTypes"]), ["Ingress"]);
    let by_number: BTreeMap<u64, &String> = ports.iter().map(|(n, p)| (*p, n)).collect();
    // The container ports a rule opens (all of them without `ports`).
    let opened = |rule: &Yaml| -> BTreeSet<String> {
        match rule.get("ports") {
            None => ports.keys().cloned().collect(),
            Some(ps) => ps
                .as_sequence()
                .unwrap()
                .iter()
                .map(|p| match &p["port"] {
                    Yaml::String(name) => {
                        assert!(ports.contains_key(name), "NetworkPolicy port {name}");
                        name.clone()
                    }
                    n => (*by_number
                        .get(&n.as_u64().unwrap())
                        .unwrap_or_else(|| panic!("NetworkPolicy port {n:?}")))
                    .clone(),
                })
                .collect(),
        }
    };
    let from_anyone = |rule: &Yaml| {
        rule.get("from")
            .and_then(Yaml::as_sequence)
            .is_none_or(Vec::is_empty)
    };
    let rules = np["spec"]["ingress"].as_sequence().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| from_anyone(r) && opened(r).contains("http")),
        "the public port is open to all"
    );
    let admin_rules: Vec<&Yaml> = rules
        .iter()
        .filter(|r| opened(r).contains("admin"))
        .collect();
    assert!(
        !admin_rules.is_empty(),
        "Prometheus may reach the admin port"
    );
    for rule in admin_rules {
        assert!(!from_anyone(rule), "the admin port open to all: {rule:?}");
        for peer in rule["from"].as_sequence().unwrap() {
            assert!(peer.get("ipBlock").is_none(), "{peer:?}");
            assert!(peer.get("podSelector").is_some(), "any pod: {peer:?}");
            for sel in ["podSelector", "namespaceSelector"] {
                if let Some(s) = peer.get(sel) {
                    assert!(s.get("matchExpressions").is_none(), "{peer:?}");
                    let labels = s["matchLabels"].as_mapping();
                    assert!(
                        labels.is_some_and(|l| !l.is_empty()),
                        "an empty {sel} selects everything: {peer:?}"
                    );
                }
            }
        }
    }

    // Only the ingress controllers are believed about the client (and the
    // trace): not a whole pod network.
    for entry in config["server"]["trusted_proxies"].as_array().unwrap() {
        let entry = entry.as_str().unwrap();
        let (addr, bits) = entry.split_once('/').unwrap_or((entry, "128"));
        let bits: u8 = bits.parse().unwrap();
        let narrow = match addr.parse::<std::net::IpAddr>().unwrap() {
            std::net::IpAddr::V4(_) => bits >= 24,
            std::net::IpAddr::V6(_) => bits >= 120,
        };
        assert!(narrow, "trusted_proxies {entry} is wider than a /24");
    }

    // Autoscaling and disruptions keep the replicas a rollout needs.
    let hpa = docs.one("HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deploy["metadata"]["name"]
    );
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    let pdb = docs.one("PodDisruptionBudget");
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], selector);
    assert!(
        pdb["spec"]["minAvailable"].as_u64().unwrap()
            < hpa["spec"]["minReplicas"].as_u64().unwrap(),
        "a PodDisruptionBudget that allows no disruption blocks node drains"
    );

    // munjigi check passes on the carried config, laid out as in the pod:
    // the config folder, the keys and the provider roots beside it.
    let dir = TempDir::new("chart");
    let cfg_dir = dir.path().join("config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(cfg_dir.join(config_name), &file).unwrap();
    dev_secrets(&dir.path().join("dev"));
    for rel in config_paths(&config) {
        let at = cfg_dir.join(&rel);
        if rel == config["keys"]["dir"].as_str().unwrap() {
            std::fs::rename(dir.path().join("dev/keys"), &at).unwrap();
        } else {
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(&at, self_signed_pem()).unwrap();
        }
    }
    // What an operator puts in the Secret, by variable.
    let values = |name: &str| match name {
        "MUNJIGI_REDIS_URL" => "redis://redis.munjigi.svc:6379/0",
        "MUNJIGI_BAROCERT_SECRET_KEY" => "bXVuamlnaS1kZW1vLXNlY3JldC1rZXktMzJieXRlcyE=",
        "MUNJIGI_PAIRWISE_KEY" | "MUNJIGI_PORTAL_CLIENT_SECRET" => {
            "a-placeholder-secret-of-forty-bytes-0123"
        }
        other => panic!("no placeholder for {other}: add one here"),
    };
    let env = refs
        .iter()
        .map(|n| (n.clone(), values(n).to_owned()))
        .collect();
    munjigi_check(&cfg_dir.join(config_name), &env);
    serve_until_ready(&file, &cfg_dir, env);
}

/// A throw-away self-signed certificate (a provider root's stand-in).
fn self_signed_pem() -> Vec<u8> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::BasicConstraints;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "placeholder provider root")
        .unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    b.build().to_pem().unwrap()
}

// ------------------------------------------------------------------ compose

/// A compose environment value: `${VAR:-default}` (a fallback), `${VAR:?msg}`
/// (required: compose refuses to start without it) or a plain value.
#[derive(Debug, PartialEq)]
enum ComposeValue {
    Fallback(String, String),
    Required(String),
    Plain(String),
}

fn compose_value(v: &str) -> ComposeValue {
    match v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(inner) => {
            if let Some((var, default)) = inner.split_once(":-") {
                ComposeValue::Fallback(var.to_owned(), default.to_owned())
            } else {
                let (var, _) = inner
                    .split_once(":?")
                    .expect("${VAR:-default} or ${VAR:?msg}");
                ComposeValue::Required(var.to_owned())
            }
        }
        None => ComposeValue::Plain(v.to_owned()),
    }
}

/// `deploy/compose/dev.env`: `NAME=value` lines, `#` comments.
fn dev_env() -> BTreeMap<String, String> {
    read("deploy/compose/dev.env")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn strings(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// Compose's `source:target[:ro]` volumes: target → source.
fn compose_mounts(service: &Yaml) -> BTreeMap<String, String> {
    strings(&service["volumes"])
        .iter()
        .map(|v| {
            let mut parts = v.split(':');
            let source = parts.next().unwrap().to_owned();
            (parts.next().unwrap().to_owned(), source)
        })
        .collect()
}

#[test]
fn compose_agrees_with_its_configs_and_they_serve() {
    let compose: Yaml = serde_norway::from_str(&read("deploy/compose.yaml")).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let gateways: Vec<(&str, &Yaml)> = services
        .iter()
        .filter(|(_, s)| strings(&s["command"]).first().map(String::as_str) == Some("serve"))
        .map(|(n, s)| (n.as_str().unwrap(), s))
        .collect();
    assert_eq!(gateways.len(), 3, "three gateway replicas");
    let config_text = read("deploy/compose/gateway.toml");
    let config: toml::Value = toml::from_str(&config_text).unwrap();
    let (public, admin) = config_ports(&config);
    let binary_env = env_the_binary_reads();
    let refs = env_refs(&config);
    // Only the store's address may fall back to a value written here; every
    // other variable the config reads is a secret, required, with its dev
    // value only in dev.env (passed with --env-file for a local trial).
    let store_var = config["store"]["url"]["env"].as_str().unwrap();
    let dev = dev_env();
    let mut required = BTreeSet::new();
    let mut env = BTreeMap::new();
    for (name, s) in &gateways {
        let command = strings(&s["command"]);
        assert_eq!(command[..2], ["serve", "--config"], "{name}");
        let mounts = compose_mounts(s);
        assert_eq!(
            mounts.get(&command[2]).map(String::as_str),
            Some("./compose/gateway.toml"),
            "{name}: --config is deploy/compose/gateway.toml"
        );
        let config_dir = command[2].rsplit_once('/').unwrap().0;
        for rel in config_paths(&config) {
            let at = join(config_dir, &rel);
            assert!(
                mounts.keys().any(|m| m != &command[2] && under(&at, m)),
                "{name}: {rel} resolves to {at}, in no volume: {mounts:?}"
            );
        }
        let exposed: BTreeSet<u16> = strings(&s["expose"])
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(exposed, [public, admin].into(), "{name}: expose");
        let grace = s["stop_grace_period"].as_str().unwrap();
        let grace: u64 = grace.trim_end_matches('s').parse().unwrap();
        assert!(grace > drain_secs(), "{name}: stop_grace_period {grace}s");
        let environment = s["environment"].as_mapping().unwrap();
        for (k, v) in environment {
            let k = k.as_str().unwrap();
            assert!(
                binary_env.contains(k) || refs.contains(k),
                "{name}: {k} is set but neither the binary nor the config reads it"
            );
            let value = match compose_value(v.as_str().unwrap()) {
                ComposeValue::Fallback(var, default) => {
                    assert_eq!(var, k, "{name}: {k} from ${{{var}}}");
                    assert!(
                        !refs.contains(k) || k == store_var,
                        "{name}: the secret {k} falls back to a public value"
                    );
                    default
                }
                ComposeValue::Required(var) => {
                    assert_eq!(var, k, "{name}: {k} from ${{{var}}}");
                    required.insert(k.to_owned());
                    dev.get(k)
                        .unwrap_or_else(|| panic!("{name}: {k} is not in dev.env"))
                        .clone()
                }
                ComposeValue::Plain(v) => {
                    assert!(
                        !refs.contains(k) || k == store_var,
                        "{name}: the secret {k} written in compose.yaml"
                    );
                    v
                }
            };
            env.insert(k.to_owned(), value);
        }
        for r in &refs {
            assert!(
                environment.contains_key(r),
                "{name}: the config reads {r}, unset"
            );
        }
    }

    let secrets: BTreeSet<String> = refs.iter().filter(|r| *r != store_var).cloned().collect();
    assert!(!secrets.is_empty());
    assert_eq!(required, secrets, "the secrets are required");
    let dev_names: BTreeSet<String> = dev.keys().cloned().collect();
    assert_eq!(dev_names, required, "dev.env sets the required variables");

    // nginx balances exactly the replicas, on the config's port; its TLS
    // front is the name the providers' endpoints use.
    let nginx = read("deploy/compose/nginx.conf");
    let block = nginx
        .split("upstream munjigi {")
        .nth(1)
        .expect("upstream munjigi");
    let upstream: BTreeSet<String> = block[..block.find('}').unwrap()]
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("server "))
        .map(|l| l.split([' ', ';']).next().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = gateways
        .iter()
        .map(|(n, _)| format!("{n}:{public}"))
        .collect();
    assert_eq!(upstream, want, "nginx upstream");
    // The gateway believes nginx about the trace: nginx starts none, so it
    // removes the client's.
    let front = nginx
        .split("listen 8080;")
        .nth(1)
        .expect("the gateways' server block");
    let front = &front[..front.find("server {").unwrap_or(front.len())];
    for h in ["traceparent", "tracestate"] {
        assert!(
            front.contains(&format!("proxy_set_header {h} \"\";")),
            "nginx passes the client's {h}"
        );
    }
    let nginx_svc = &compose["services"]["nginx"];
    let aliases = strings(&nginx_svc["networks"]["munjigi"]["aliases"]);
    for p in config["providers"].as_table().unwrap().values() {
        let endpoint = p["endpoint"].as_str().unwrap();
        let host = endpoint
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap();
        let (name, port) = host.split_once(':').unwrap();
        assert!(aliases.iter().any(|a| a == name), "{endpoint}: nginx alias");
        assert!(nginx.contains(&format!("listen {port} ssl;")), "{endpoint}");
    }
    let sim: toml::Value = toml::from_str(&read("deploy/compose/simulator.toml")).unwrap();
    let sim_port = port_of(sim["listen"].as_str().unwrap());
    assert!(nginx.contains(&format!("proxy_pass http://simulator:{sim_port};")));
    // Only the compose network is trusted to say who the client is.
    let subnet = compose["networks"]["munjigi"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .unwrap();
    assert_eq!(
        config["server"]["trusted_proxies"].as_array().unwrap(),
        &vec![toml::Value::from(subnet)]
    );

    // For real: the dev secrets script, the simulator's PKI, munjigi check,
    // then the config served on one Redis answers /readyz.
    let dir = TempDir::new("compose");
    dev_secrets(&dir.path().join("dev"));
    let sim_port = free_port();
    let sim_text = read("deploy/compose/simulator.toml").replace(
        "listen = \"0.0.0.0:8081\"",
        &format!("listen = \"127.0.0.1:{sim_port}\""),
    );
    std::fs::write(dir.path().join("simulator.toml"), sim_text).unwrap();
    let mut cmd = Command::new(munjigi_bin());
    cmd.arg("simulate")
        .arg("--config")
        .arg(dir.path().join("simulator.toml"));
    let (_sim, _) = Proc::start("simulator", cmd, "provider simulator listening on");
    let gateway_file = dir.path().join("gateway.toml");
    std::fs::write(&gateway_file, &config_text).unwrap();
    munjigi_check(&gateway_file, &env);

    serve_until_ready(&config_text, dir.path(), env);
}

/// Runs deploy/compose/dev-secrets.sh into `out`.
fn dev_secrets(out: &Path) {
    let run = Command::new(repo_root().join("deploy/compose/dev-secrets.sh"))
        .arg(out)
        .output()
        .expect("sh and openssl (./deploy/test installs openssl)");
    assert!(
        run.status.success(),
        "dev-secrets.sh: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Serves `config` (written into `dir`, its listeners moved to free loopback
/// ports, the store to a fresh Redis) with `env`; waits for `/readyz` 200 and
/// checks the admin listener serves `/metrics`. What `munjigi check` cannot
/// see (keys and certificates that do not load) fails here.
fn serve_until_ready(config: &str, dir: &Path, mut env: BTreeMap<String, String>) {
    let redis = start_redis();
    let (port, admin_port) = (free_port(), free_port());
    let served = config
        .replace(
            "listen = \"0.0.0.0:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace(
            "listen = \"0.0.0.0:9090\"",
            &format!("listen = \"127.0.0.1:{admin_port}\""),
        );
    assert_eq!(
        served.matches("127.0.0.1:").count(),
        config.matches("127.0.0.1:").count() + 2
    );
    let file = dir.join("served.toml");
    std::fs::write(&file, served).unwrap();
    env.insert(
        "MUNJIGI_REDIS_URL".into(),
        format!("redis://127.0.0.1:{}/0", redis.port),
    );
    let mut cmd = Command::new(munjigi_bin());
    cmd.arg("serve")
        .arg("--config")
        .arg(&file)
        .env_clear()
        .envs(&env);
    let (_gw, _) = Proc::start("gateway", cmd, "munjigi listening on");
    let deadline = Instant::now() + Duration::from_secs(10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut b = Browser::new(None);
        loop {
            let r = b.get(&format!("http://127.0.0.1:{port}/readyz")).await;
            if r.status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz: {} {}",
                r.status,
                r.body
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let m = b
            .get(&format!("http://127.0.0.1:{admin_port}/metrics"))
            .await;
        assert_eq!(m.status, 200);
    });
}

// ------------------------------------------------------------------ the image

/// The Dockerfile's instructions, continuation lines joined.
fn dockerfile() -> Vec<String> {
    let text = read("deploy/Dockerfile");
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') && cur.is_empty() || t.is_empty() {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    out
}

/// The packages `apt-get install` names in each stage, by stage name.
fn stage_packages(lines: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stage = String::new();
    for l in lines {
        if let Some(from) = l.strip_prefix("FROM ") {
            stage = from.rsplit(' ').next().unwrap().to_owned();
        }
        if let Some(at) = l.find("apt-get install") {
            let pkgs = l[at..].split("&&").next().unwrap();
            out.entry(stage.clone()).or_default().extend(
                pkgs.split_whitespace()
                    .skip(2)
                    .filter(|w| !w.starts_with('-'))
                    .map(str::to_owned),
            );
        }
    }
    out
}

fn json_array(s: &str) -> Vec<String> {
    serde_json::from_str(s.trim()).unwrap()
}

#[test]
fn the_image_builds_with_the_prerequisites_and_carries_what_the_binary_links() {
    let lines = dockerfile();
    let pkgs = stage_packages(&lines);
    // The build stage installs what deploy/lib/prereqs.sh installs for a build.
    let prereqs = read("deploy/lib/prereqs.sh");
    let list = prereqs
        .lines()
        .find_map(|l| l.strip_prefix("MUNJIGI_BUILD_PACKAGES=("))
        .unwrap()
        .trim_end_matches(')');
    let want: BTreeSet<String> = list.split_whitespace().map(str::to_owned).collect();
    assert_eq!(pkgs["build"], want, "build stage vs MUNJIGI_BUILD_PACKAGES");

    // Every library the binary links comes from a package the runtime stage
    // installs, or from the base image's own (libc6, libgcc-s1).
    let runtime = &pkgs["runtime"];
    let bin = munjigi_bin();
    let readelf = Command::new("readelf")
        .arg("-d")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(readelf.status.success());
    let ldd = String::from_utf8(Command::new("ldd").arg(&bin).output().unwrap().stdout).unwrap();
    let needed: Vec<String> = String::from_utf8_lossy(&readelf.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .map(|l| {
            l.rsplit('[')
                .next()
                .unwrap()
                .trim_end_matches(']')
                .to_owned()
        })
        .collect();
    assert!(
        needed.iter().any(|n| n.starts_with("libxmlsec1")),
        "{needed:?}"
    );
    for lib in &needed {
        let path = ldd
            .lines()
            .find_map(|l| {
                let (name, rest) = l.trim().split_once(" => ")?;
                (name == lib).then(|| rest.split(' ').next().unwrap().to_owned())
            })
            .or_else(|| {
                ldd.lines()
                    .map(str::trim)
                    .find(|l| l.starts_with('/') && l.contains(lib.as_str()))
                    .map(|l| l.split(' ').next().unwrap().to_owned())
            })
            .unwrap_or_else(|| panic!("{lib} not in ldd:\n{ldd}"));
        // dpkg knows a file by the path its package ships (/lib or /usr/lib).
        let real = std::fs::canonicalize(&path).unwrap();
        let alias = real.to_str().unwrap().replacen("/usr/lib/", "/lib/", 1);
        let package = [path.clone(), real.to_str().unwrap().to_owned(), alias]
            .iter()
            .find_map(|p| {
                let out = Command::new("dpkg").arg("-S").arg(p).output().unwrap();
                let out = String::from_utf8_lossy(&out.stdout).into_owned();
                let package = out.split(':').next().unwrap_or("").trim().to_owned();
                (!package.is_empty()).then_some(package)
            })
            .unwrap_or_else(|| panic!("no package owns {path}"));
        assert!(
            runtime.contains(&package) || ["libc6", "libgcc-s1"].contains(&package.as_str()),
            "{lib} ({package}) is not installed by the runtime stage: {runtime:?}"
        );
    }

    // Non-root, the gateway's command, its ports.
    let runtime_lines: Vec<&String> = lines
        .iter()
        .skip_while(|l| !l.ends_with(" AS runtime"))
        .collect();
    let find = |kw: &str| {
        runtime_lines
            .iter()
            .find_map(|l| l.strip_prefix(kw))
            .unwrap_or_else(|| panic!("{kw}in the runtime stage"))
    };
    let user = find("USER ");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "USER {user}"
    );
    assert_eq!(json_array(find("ENTRYPOINT ")), ["munjigi"]);
    let cmd = json_array(find("CMD "));
    let compose: Yaml = serde_norway::from_str(&read("deploy/compose.yaml")).unwrap();
    assert_eq!(
        strings(&compose["x-gateway"]["command"]),
        cmd,
        "compose runs the image's own command"
    );
    let config: toml::Value = toml::from_str(&read("deploy/compose/gateway.toml")).unwrap();
    let (public, admin) = config_ports(&config);
    let chart: toml::Value =
        toml::from_str(&read("deploy/helm/munjigi/files/gateway.toml")).unwrap();
    assert_eq!(
        config_ports(&chart),
        (public, admin),
        "chart and compose ports"
    );
    let exposed: BTreeSet<u16> = find("EXPOSE ")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(exposed, [public, admin].into(), "EXPOSE");
}

/// The HEALTHCHECK's command (exec form) and the port it probes.
fn healthcheck() -> (Vec<String>, u16) {
    let lines = dockerfile();
    let hc = lines
        .iter()
        .find_map(|l| l.strip_prefix("HEALTHCHECK "))
        .expect("HEALTHCHECK");
    let cmd = json_array(hc.split_once(" CMD ").expect("CMD").1);
    let script = cmd.last().unwrap();
    let at = script.find("/dev/tcp/127.0.0.1/").expect("/dev/tcp") + "/dev/tcp/127.0.0.1/".len();
    let port: String = script[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (cmd, port.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_health_and_metrics_paths_answer_on_a_running_gateway() {
    let docs = rendered_chart();
    let c = &docs.one("Deployment")["spec"]["template"]["spec"]["containers"][0];
    let (hc, hc_port) = healthcheck();
    let config: toml::Value = toml::from_str(&read("deploy/compose/gateway.toml")).unwrap();
    assert_eq!(
        hc_port,
        config_ports(&config).0,
        "HEALTHCHECK probes the public port"
    );
    let hc_path = hc
        .last()
        .unwrap()
        .split("GET ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();

    let dir = TempDir::new("probes");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let admin = free_port();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: "http://127.0.0.1:9/callback".into(),
            extra: format!("\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n"),
            ..GatewayOpts::default()
        },
    );
    let mut b = Browser::new(None);
    for (what, path) in [
        (
            "liveness",
            c["livenessProbe"]["httpGet"]["path"].as_str().unwrap(),
        ),
        (
            "readiness",
            c["readinessProbe"]["httpGet"]["path"].as_str().unwrap(),
        ),
        ("HEALTHCHECK", hc_path.as_str()),
    ] {
        let r = b.get(&format!("{}{path}", gw.url)).await;
        assert_eq!(r.status, 200, "{what} {path}: {}", r.body);
    }
    let sm = &docs.one("ServiceMonitor")["spec"]["endpoints"][0];
    let r = b
        .get(&format!(
            "http://127.0.0.1:{admin}{}",
            sm["path"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 200, "ServiceMonitor path on the admin port");

    // The HEALTHCHECK command itself, pointed at this gateway's port: it
    // passes, and fails where nothing answers.
    let port = port_of(&gw.url);
    let run = move |to: u16| {
        let mut args = hc.clone();
        let script = args.pop().unwrap().replace(
            &format!("/dev/tcp/127.0.0.1/{hc_port}"),
            &format!("/dev/tcp/127.0.0.1/{to}"),
        );
        Command::new(&args[0])
            .args(&args[1..])
            .arg(script)
            .status()
            .unwrap()
            .success()
    };
    let healthy = tokio::task::spawn_blocking(move || (run(port), run(free_port())))
        .await
        .unwrap();
    assert_eq!(
        healthy,
        (true, false),
        "HEALTHCHECK against the gateway, then nothing"
    );
}
