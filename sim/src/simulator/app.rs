//! The providers' apps as a phone opens them: the app-to-app half of the
//! broker family.
//!
//! A real app-to-app request is answered with a scheme (`kakaotalk://…`) that
//! the phone hands to the provider's app. The citizen approves there, and the
//! app then opens the RP's `returnURL` (Kakao, Toss) or leaves the citizen to
//! switch back by hand (Naver, whose return must be an app scheme; PASS, which
//! takes none). A browser cannot open those schemes, so a test or the demo
//! plays the phone: it opens `/_app/open?link=<scheme>` here, which shows the
//! app's screen for exactly that link, and the screen's approve button answers
//! as the app does: a redirect to the `returnURL`, or a page saying to switch
//! back. Until then an app-to-app receipt stays unseen (`Receipt::phase`);
//! the receipt's scenario still decides whether the citizen approves.
//!
//! Toss direct's `APP_SCHEME` requests open here too (`toss_direct::td_app_find`);
//! Toss takes no return address, so its app always says to switch back.
//!
//! Not here: the request's checks (`routes::check_app_to_app`).

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;

use super::Simulator;

/// Where the simulated apps live.
pub(crate) const PREFIX: &str = "/_app/";

type Reply = Response<Full<Bytes>>;

impl Simulator {
    /// `GET /_app/open?link=…` (the app's screen) and `POST /_app/approve`
    /// (its button, form field `link`).
    pub(crate) fn app_handle(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Reply {
        let link = |raw: &[u8]| {
            url::form_urlencoded::parse(raw)
                .find(|(k, _)| k == "link")
                .map(|(_, v)| v.into_owned())
        };
        match (method, path.strip_prefix(PREFIX)) {
            (&Method::GET, Some("open")) => match link(query.as_bytes()) {
                Some(l) => self.app_screen(&l),
                None => page(
                    StatusCode::BAD_REQUEST,
                    "No link",
                    "<p>No <code>link</code>.</p>",
                ),
            },
            (&Method::POST, Some("approve")) => match link(body) {
                Some(l) => self.app_approve(&l),
                None => page(
                    StatusCode::BAD_REQUEST,
                    "No link",
                    "<p>No <code>link</code>.</p>",
                ),
            },
            _ => page(StatusCode::NOT_FOUND, "Not found", "<p>Not found.</p>"),
        }
    }

    /// The receipt this scheme was issued for, if it is an app-to-app one
    /// still waiting: its product's name and title.
    fn app_receipt(&self, link: &str) -> Option<(String, &'static str, String)> {
        let id = receipt_of(link)?;
        let st = self.state.lock().ok()?;
        let r = st.receipts.get(&id)?;
        (r.app_use && r.scheme.as_deref() == Some(link))
            .then(|| (id.clone(), r.product.display_name(), r.title.clone()))
    }

    fn app_screen(&self, link: &str) -> Reply {
        let found = match self.td_app_find(link) {
            Some(_) => Some(("Toss".to_owned(), String::new())),
            None => self
                .app_receipt(link)
                .map(|(_, product, title)| (product.to_owned(), title)),
        };
        let Some((product, title)) = found else {
            return unknown();
        };
        let body = format!(
            "<h1>{product} (simulated app)</h1>\
             <p>{title}</p>\
             <form method=\"post\" action=\"/_app/approve\">\
             <input type=\"hidden\" name=\"link\" value=\"{link}\">\
             <button type=\"submit\" id=\"approve\">인증하기 / Approve</button></form>",
            product = esc(&product),
            title = esc(&title),
            link = esc(link),
        );
        page(StatusCode::OK, &product, &body)
    }

    fn app_approve(&self, link: &str) -> Reply {
        let now = munjigi_providers::barocert::crypto::now_ms();
        if let Some(tx) = self.td_app_find(link) {
            return match self.td_app_act(&tx, now) {
                Some(true) => {
                    tracing::info!(tx = %tx, "simulated app approved an app-to-app request");
                    switch_back("Toss")
                }
                Some(false) => expired("Toss"),
                None => unknown(),
            };
        }
        let Some((id, product, _)) = self.app_receipt(link) else {
            return unknown();
        };
        let return_url = {
            let Ok(mut st) = self.state.lock() else {
                return page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "<p>Error.</p>");
            };
            let Some(r) = st.receipts.get_mut(&id) else {
                return unknown();
            };
            if now >= r.expires_at_ms() {
                return page(
                    StatusCode::GONE,
                    product,
                    "<p>이 요청은 만료되었습니다. / This request has expired.</p>",
                );
            }
            r.app_acted_at_ms.get_or_insert(now);
            r.return_url.clone()
        };
        tracing::info!(receipt = %id, "simulated app approved an app-to-app request");
        match return_url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
            Some(u) => Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(http::header::LOCATION, u)
                .body(Full::new(Bytes::new()))
                .unwrap_or_default(),
            None => switch_back(product),
        }
    }
}

fn switch_back(product: &str) -> Reply {
    page(
        StatusCode::OK,
        product,
        "<p id=\"done\">인증을 마쳤습니다. 브라우저로 돌아가세요. / Done: switch back to your browser.</p>",
    )
}

fn expired(product: &str) -> Reply {
    page(
        StatusCode::GONE,
        product,
        "<p>이 요청은 만료되었습니다. / This request has expired.</p>",
    )
}

/// The receipt id a simulated scheme carries (`receiptID=` or Kakao's `tx_id=`).
fn receipt_of(link: &str) -> Option<String> {
    let (_, query) = link.split_once('?')?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "receiptID" || k == "tx_id")
        .map(|(_, v)| v.into_owned())
}

fn unknown() -> Reply {
    page(
        StatusCode::NOT_FOUND,
        "Unknown request",
        "<p>이 링크의 요청이 없습니다. / No request for this link.</p>",
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Reply {
    let html = format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\
         <body><main>{body}</main></body></html>",
        esc(title)
    );
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", "default-src 'none'")
        .body(Full::new(Bytes::from(html)))
        .unwrap_or_default()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::receipt_of;

    #[test]
    fn schemes_name_their_receipt() {
        assert_eq!(
            receipt_of("kakaotalk://kakaopay/cert/sign?tx_id=0123").as_deref(),
            Some("0123")
        );
        assert_eq!(
            receipt_of("passcert://identity?receiptID=42").as_deref(),
            Some("42")
        );
        assert_eq!(receipt_of("passcert://identity"), None);
    }
}
