//! The provider this device logged in with last, offered first on the
//! chooser ("continue with Kakao"), and the chooser's order.
//!
//! Why a cookie with the provider's id only: the choice is the device's, not
//! the person's (a shared family tablet, a kiosk), and nothing personal may
//! sit in the browser. It is set when a login through the provider ends
//! well, kept a year, and forgotten when the citizen asks (a button beside
//! it) or names a provider that is no longer configured. It is never a
//! shortcut past the chooser: the citizen still picks, and a provider that
//! is degraded or turned off is not put first.
//!
//! The rest follow in the configured order, or, with `[chooser] order =
//! "random"`, in an order drawn per login (stable while the citizen goes
//! back and forth, different for the next login), so the platform favours
//! no provider (the rule of Italy's SPID button).

use crate::app::App;
use crate::config::model::ProviderConfig;
use crate::web::respond;
use crate::web::Response;

/// The cookie's name (with `__Host-` over https).
pub const COOKIE: &str = "mj_last";
/// How long the choice is kept.
const MAX_AGE_SECS: u64 = 365 * 86_400;

/// What this device remembers: `None` without the cookie; `Some(None)`
/// when it names a provider no longer configured (to forget).
pub fn read<'a>(app: &'a App, headers: &http::HeaderMap) -> Option<Option<&'a ProviderConfig>> {
    app.cookies
        .get(headers, COOKIE)
        .map(|id| app.config.provider(id))
}

/// `resp` remembering `provider` on this device.
pub fn remember(app: &App, resp: Response, provider: &str) -> Response {
    respond::with_cookie(resp, &app.cookies.set(COOKIE, provider, Some(MAX_AGE_SECS)))
}

/// `resp` forgetting the remembered provider.
pub fn forget(app: &App, resp: Response) -> Response {
    respond::with_cookie(resp, &app.cookies.clear(COOKIE))
}

/// The chooser's order for one login: `ids` as configured, or shuffled by
/// a key drawn from the login's id (the same on every visit to its chooser,
/// unpredictable before it), then the remembered one first.
pub fn order(ids: &mut [&str], random_for: Option<&str>, last: Option<&str>) {
    if let Some(login) = random_for {
        ids.sort_by_cached_key(|id| {
            munjigi_providers::hmac::sha256(login.as_bytes(), &[b"chooser-order\0", id.as_bytes()])
        });
    }
    if let Some(last) = last {
        if let Some(head) = ids
            .iter()
            .position(|id| *id == last)
            .and_then(|i| ids.get_mut(..=i))
        {
            head.rotate_right(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::order;

    #[test]
    fn the_remembered_provider_comes_first_and_the_rest_keep_their_order() {
        let mut ids = ["kakao", "naver", "pass", "toss"];
        order(&mut ids, None, Some("pass"));
        assert_eq!(ids, ["pass", "kakao", "naver", "toss"]);
        let mut ids = ["kakao", "naver"];
        order(&mut ids, None, Some("gone"));
        assert_eq!(ids, ["kakao", "naver"]);
    }

    #[test]
    fn a_random_order_is_stable_per_login_and_differs_between_logins() {
        let all = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let draw = |login: &str| {
            let mut ids = all;
            order(&mut ids, Some(login), None);
            ids
        };
        assert_eq!(draw("login-1"), draw("login-1"));
        let orders: std::collections::HashSet<_> =
            (0..20).map(|i| draw(&format!("login-{i}"))).collect();
        assert!(orders.len() > 15, "{orders:?}");
        // Every provider comes first for some login: none favoured.
        let firsts: std::collections::HashSet<_> =
            (0..200).map(|i| draw(&format!("login-{i}"))[0]).collect();
        assert_eq!(firsts.len(), all.len());
        let mut ids = all;
        order(&mut ids, Some("login-1"), Some("e"));
        assert_eq!(ids[0], "e");
    }
}
