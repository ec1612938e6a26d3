//! `[tracing]`: where the gateway's spans are exported (OTLP/HTTP). The URL
//! follows the config's one rule (https, or http on loopback), and a binary
//! built without the `otlp` cargo feature refuses the section rather than
//! ignore it: an operator who asked for traces must not silently get none.

use super::{check_url, Report};
use crate::config::raw::RawTracing;
use toml::Spanned;

/// Whether this build can export spans (the `otlp` cargo feature).
pub const OTLP_BUILT_IN: bool = cfg!(feature = "otlp");

/// The validated OTLP traces endpoint, if one is configured.
pub(super) fn otlp_endpoint(
    r: &mut Report<'_>,
    raw: Option<Spanned<RawTracing>>,
) -> Option<String> {
    let url = raw?.into_inner().otlp_endpoint?;
    if !OTLP_BUILT_IN {
        r.at(
            url.span(),
            "tracing.otlp_endpoint: this munjigi was built without OTLP export \
             (cargo feature `otlp`, on by default); rebuild with it or remove the setting"
                .to_owned(),
        );
        return None;
    }
    if let Err(e) = check_url(url.get_ref()) {
        r.at(url.span(), format!("tracing.otlp_endpoint: {e}"));
        return None;
    }
    Some(url.into_inner())
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::OTLP_BUILT_IN;
    use std::path::Path;

    const BASE: &str = r#"
[server]
public_url = "http://127.0.0.1:8080"
listen = "127.0.0.1:8080"

[secrets]
pairwise_key = { value = "0123456789abcdef0123456789abcdef" }
"#;

    fn with(section: &str) -> Result<Option<String>, Vec<String>> {
        let text = format!("{BASE}{section}\n");
        match parse(Path::new("/tmp/munjigi-tracing.toml"), &text) {
            Ok(c) => Ok(c.otlp_endpoint),
            Err(e) => Err(e.0.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn none_by_default_and_an_empty_section_is_none() {
        assert_eq!(with("").unwrap(), None);
        assert_eq!(with("[tracing]").unwrap(), None);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = with("[tracing]\notlp_url = \"http://127.0.0.1:4318/v1/traces\"").unwrap_err();
        assert!(e[0].contains("unknown field"), "{e:?}");
    }

    #[test]
    fn the_endpoint_follows_the_build_and_the_url_rule() {
        let good = with("[tracing]\notlp_endpoint = \"http://127.0.0.1:4318/v1/traces\"");
        if OTLP_BUILT_IN {
            assert_eq!(
                good.unwrap().as_deref(),
                Some("http://127.0.0.1:4318/v1/traces")
            );
            for bad in [
                "http://collector.example:4318/v1/traces",
                "ftp://127.0.0.1/x",
                "https://u:p@collector.example/v1/traces",
            ] {
                let e = with(&format!("[tracing]\notlp_endpoint = \"{bad}\"")).unwrap_err();
                assert_eq!(e.len(), 1, "{bad}: {e:?}");
                assert!(e[0].contains("tracing.otlp_endpoint"), "{bad}: {e:?}");
            }
        } else {
            // Built without the exporter: refused where it is written.
            let e = good.unwrap_err();
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(
                e[0].starts_with("/tmp/munjigi-tracing.toml:9:17:")
                    && e[0].contains("built without OTLP export"),
                "{e:?}"
            );
        }
    }
}
