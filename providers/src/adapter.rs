//! The adapter contract every provider family implements.
//!
//! Small on purpose: start a request, read its status, fetch-and-verify its result
//! once. Abilities only some families have (signing documents, multi-sign) are
//! separate traits ([`crate::signing::DocumentSigner`]), never `unimplemented!()`. Adapters hold no per-login state:
//! everything needed to continue a login is in [`Pending`], which the gateway keeps
//! in its store, so any replica can continue any login.

use crate::assertion::{Evidence, Level, ProviderId};
use crate::error::ProviderError;
use crate::person::{Citizen, Person};
use serde::{Deserialize, Serialize};

/// What the citizen is asked to sign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    /// For login: a fresh random nonce the provider's app signs; the CMS content
    /// must equal it exactly.
    pub nonce: String,
    /// Title shown in the citizen's app.
    pub title: String,
    /// How long the citizen has, in seconds (the adapter clamps to the provider's max).
    pub ttl_secs: u32,
    /// How the request reaches the citizen's app (a push, or app-to-app from
    /// a browser on the same phone). Left out of a stored push request, so
    /// that a replica of the previous version reads and writes it unchanged.
    #[serde(default, skip_serializing_if = "Reach::is_push")]
    pub reach: Reach,
}

/// How a request reaches the citizen's app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Reach {
    /// The provider notifies the citizen's phone; the browser may be anywhere.
    #[default]
    Push,
    /// The browser runs on the phone that holds the app: the provider hands
    /// back a link that opens its app (app-to-app), and no push is sent.
    App(AppToApp),
}

impl Reach {
    pub fn is_push(&self) -> bool {
        matches!(self, Reach::Push)
    }
}

/// Longest app or store link kept with a request.
const MAX_LINK_LEN: usize = 2048;

/// Whether a link a provider handed back may be shown to the citizen as
/// "open the app": an app's own scheme, an Android `intent:` that names no
/// fallback page or component, or an `https:` universal link; never a scheme
/// that runs or reads something in the browser or the desktop (`javascript:`,
/// `data:`, `file:`, `ms-msdt:` …), and nothing long or with whitespace.
/// Checked by the adapters (a bad link fails the start) and again by the page.
pub fn app_link_is_safe(link: &str) -> bool {
    let Some((scheme, rest)) = link.split_once(':') else {
        return false;
    };
    let well_formed = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    // Browser and operating-system schemes, not an app's.
    const REFUSED: [&str; 18] = [
        "javascript",
        "data",
        "vbscript",
        "file",
        "blob",
        "about",
        "filesystem",
        "http",
        "ftp",
        "ws",
        "wss",
        "sms",
        "smsto",
        "tel",
        "mailto",
        "chrome",
        "view-source",
        "jar",
    ];
    let os_handler = scheme.starts_with("ms-")
        || ["search-ms", "search", "shell", "res", "mk", "its", "mhtml"].contains(&scheme);
    let intent_ok = scheme != "intent"
        || !["browser_fallback_url", "component=", "SEL;", "selector"]
            .iter()
            .any(|bad| rest.contains(bad));
    well_formed
        && !REFUSED.contains(&scheme)
        && !os_handler
        && intent_ok
        && (scheme != "https" || rest.starts_with("//"))
        && plain_link(link)
}

/// Whether a store link may be shown ("no app yet? install it"): https only.
pub fn market_link_is_safe(link: &str) -> bool {
    link.starts_with("https://") && plain_link(link)
}

fn plain_link(link: &str) -> bool {
    link.len() <= MAX_LINK_LEN && !link.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What an app-to-app request tells the provider about the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppToApp {
    pub os: PhoneOs,
    /// The citizen's mobile carrier, for providers that need it (PASS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<Carrier>,
    /// The gateway's waiting page, for apps that return to a web page when
    /// done. Families whose apps only return to an app scheme leave it out.
    pub return_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneOs {
    Android,
    Ios,
}

impl PhoneOs {
    /// The spelling barocert's `deviceOSType` takes.
    pub fn wire(self) -> &'static str {
        match self {
            PhoneOs::Android => "ANDROID",
            PhoneOs::Ios => "IOS",
        }
    }
}

/// The three network carriers; an MVNO subscriber picks the network their
/// carrier uses (as PASS itself asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Skt,
    Kt,
    Lgu,
}

impl Carrier {
    /// The spelling barocert's `telcoType` takes (and the identity form posts).
    pub fn wire(self) -> &'static str {
        match self {
            Carrier::Skt => "SKT",
            Carrier::Kt => "KT",
            Carrier::Lgu => "LGU",
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "SKT" => Some(Carrier::Skt),
            "KT" => Some(Carrier::Kt),
            "LGU" => Some(Carrier::Lgu),
            _ => None,
        }
    }
}

/// What a provider's app-to-app mode needs and does, for the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppToAppSupport {
    /// The form must ask for the carrier ([`AppToApp::carrier`]).
    pub needs_carrier: bool,
    /// The app comes back to the browser by itself when done; otherwise the
    /// citizen switches back.
    pub returns_to_browser: bool,
}

/// A started request: all an adapter needs to poll and verify later, on any replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// The provider's id for the request (barocert `receiptID`, Toss `txId` …).
    pub handle: String,
    /// Unix seconds when the gateway started the request.
    pub started_at: u64,
    /// Unix seconds when the provider will consider it expired.
    pub expires_at: u64,
    /// An app-to-app URL scheme the provider returned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scheme: Option<String>,
    /// Where to install the app when it is missing (barocert's `marketUrl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_url: Option<String>,
    /// Text the waiting page shows as a QR code for the citizen's app to
    /// scan (a wallet's request), if the family offers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
}

/// The provider's view of a started request, mapped to one normalised state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the citizen; `viewed` once they opened it in the app.
    Pending {
        viewed: bool,
    },
    /// Signed in the app; the result is ready to be fetched (once).
    Completed,
    Expired,
    Rejected,
    Failed,
}

/// A result that passed every check: the person is who the provider vouches for,
/// and the evidence is kept with the transaction.
#[derive(Debug, Clone)]
pub struct Verified {
    pub person: Person,
    pub evidence: Evidence,
    /// Authentication methods, OIDC `amr` values (`hwk`, `pin`, `mfa` …).
    pub amr: Vec<String>,
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn id(&self) -> &ProviderId;

    /// The assurance level this provider's result achieves.
    fn level(&self) -> Level;

    /// Whether the citizen's app shows a login request's `Challenge::title`
    /// (up to 40 characters), so that text the citizen can compare with the
    /// waiting page (a short code) reaches them. False where the provider's
    /// API takes no free text for a login.
    fn shows_title(&self) -> bool {
        false
    }

    /// Whether requests can open the provider's app from a browser on the
    /// same phone ([`Reach::App`]); `None` where the family only pushes.
    fn app_to_app(&self) -> Option<AppToAppSupport> {
        None
    }

    /// Ask the provider to push a request to the citizen's app, or with
    /// [`Reach::App`] to hand back the link that opens it.
    async fn start(&self, who: &Citizen, ask: &Challenge) -> Result<Pending, ProviderError>;

    /// Read the request's status. Cheap; the gateway coalesces calls per login.
    async fn status(&self, pending: &Pending) -> Result<Status, ProviderError>;

    /// Fetch the signed result (once: providers deliver it once) and verify it
    /// completely: signature, chain to this provider's roots, content == the
    /// challenge, signing time inside the request window, signer == `who`.
    async fn verify(
        &self,
        who: &Citizen,
        ask: &Challenge,
        pending: &Pending,
    ) -> Result<Verified, ProviderError>;

    /// Document signing, for providers that can (see [`crate::signing`]).
    fn signer(&self) -> Option<&dyn crate::signing::DocumentSigner> {
        None
    }

    /// For families whose result arrives by a call to the gateway (see
    /// [`crate::callback`]).
    fn callbacks(&self) -> Option<&dyn crate::callback::Callbacks> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{app_link_is_safe, market_link_is_safe};

    #[test]
    fn only_app_schemes_and_https_links_open_an_app() {
        for ok in [
            "kakaotalk://kakaopay/cert/sign?tx_id=1",
            "passcert://identity?receiptID=1",
            "supertoss://cert?x=1",
            "intent://cert#Intent;scheme=naversearchapp;package=com.nhn.android.search;end",
            "https://cert.example/app?tx=1",
        ] {
            assert!(app_link_is_safe(ok), "{ok}");
        }
        let long = format!("kakaotalk://{}", "a".repeat(2100));
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            "file:///etc/passwd",
            "blob:https://x/1",
            "http://cert.example/app",
            "https:evil",
            "sms:+8210",
            "tel:112",
            "mailto:a@b",
            "ms-msdt:/id",
            "search-ms:query=x",
            "intent://x#Intent;scheme=a;S.browser_fallback_url=https%3A%2F%2Fevil;end",
            "intent://x#Intent;component=com.evil/.A;end",
            "kakaotalk://x y",
            "kakaotalk://x\n",
            "1abc://x",
            "no-scheme",
            " kakaotalk://x",
            long.as_str(),
        ] {
            assert!(!app_link_is_safe(bad), "{bad}");
        }
        assert!(market_link_is_safe(
            "https://play.google.com/store/apps/details?id=a"
        ));
        assert!(!market_link_is_safe("http://play.google.com/x"));
        assert!(!market_link_is_safe("javascript:x"));
    }
}
