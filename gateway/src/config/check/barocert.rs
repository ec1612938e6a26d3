//! Validation of a `type = "barocert"` provider section (the broker for
//! Kakao, Naver, PASS and Toss certificates), reporting every problem with its
//! place in the file.

use super::{check_url, crl, level, read_file, Report};
use crate::config::model::{ProviderConfig, ProviderFamily};
use crate::config::raw::RawBarocert;
use munjigi_providers::ProviderId;
use std::ops::Range;
use std::path::Path;

/// Checks one section; `None` when it cannot become a provider (errors reported).
pub(super) fn build(
    r: &mut Report<'_>,
    base: &Path,
    id: &str,
    span: Range<usize>,
    b: RawBarocert,
) -> Option<ProviderConfig> {
    let product = match b.product.as_str() {
        "kakao" => Some(munjigi_providers::barocert::BarocertProduct::Kakao),
        "naver" => Some(munjigi_providers::barocert::BarocertProduct::Naver),
        "pass" => Some(munjigi_providers::barocert::BarocertProduct::Pass),
        "toss" => Some(munjigi_providers::barocert::BarocertProduct::Toss),
        other => {
            r.at(span.clone(), format!("providers.{id}: barocert product `{other}` is unknown; use `kakao`, `naver`, `pass` or `toss`"));
            None
        }
    };
    if product.is_some_and(|p| p.requires_call_center())
        && b.call_center_num
            .as_deref()
            .is_none_or(|n| n.trim().is_empty())
    {
        r.at(
            span.clone(),
            format!("providers.{id}: product `{}` requires call_center_num (your customer-service number, shown in the app)", b.product),
        );
    }
    let lvl = level(r, span.clone(), &b.level);
    for (u, what) in [
        (&b.endpoint, "endpoint"),
        (&b.auth_endpoint, "auth_endpoint"),
    ] {
        if let Err(e) = check_url(u, false) {
            r.at(span.clone(), format!("providers.{id}.{what}: {e}"));
        }
    }
    let secret = match b.secret_key.resolve(base) {
        Ok(s) => Some(s),
        Err(e) => {
            r.at(span.clone(), format!("providers.{id}.secret_key: {e}"));
            None
        }
    };
    let roots_pem = read_file(
        r,
        base,
        span.clone(),
        &b.roots,
        &format!("providers.{id}.roots"),
    );
    if let Some(pem) = &roots_pem {
        if let Err(e) = munjigi_providers::cms::TrustAnchors::from_pem(pem) {
            r.at(
                span.clone(),
                format!("providers.{id}.roots `{}`: {e}", b.roots),
            );
        }
    }
    let tls_ca_pem = match &b.tls_ca {
        Some(f) => read_file(r, base, span.clone(), f, &format!("providers.{id}.tls_ca")),
        None => None,
    };
    let crl = crl::build(r, base, id, span.clone(), b.crl.as_deref(), b.crl_required);
    let (Some(product), Some(level), Some(secret), Some(roots_pem), Some(crl)) =
        (product, lvl, secret, roots_pem, crl)
    else {
        return None;
    };
    Some(ProviderConfig {
        id: ProviderId::new(id),
        name_ko: b.name_ko,
        name_en: b.name_en,
        level,
        family: ProviderFamily::Barocert {
            product,
            settings: munjigi_providers::barocert::BarocertConfig {
                endpoint: b.endpoint,
                auth_endpoint: b.auth_endpoint,
                link_id: b.link_id,
                client_code: b.client_code,
                ttl_secs: b.ttl_secs,
                call_center_num: b.call_center_num,
                timeout_ms: b.timeout_ms,
                allow_plain_http: false,
            },
            secret,
            roots_pem,
            tls_ca_pem,
            crl,
        },
    })
}
