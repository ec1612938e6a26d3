//! Page tests: every page in both languages, escaping, labels, error wiring, and
//! the CSP rules (no inline script, style or handler). Plain string checks on the
//! rendered HTML, so no HTML parser is needed.

use super::*;

const HOSTILE: &str = "<script>alert(1)</script>\"'&";
const HOSTILE_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#38;";

const ALL_PROBLEMS: [Problem; 19] = [
    Problem::Rejected,
    Problem::Expired,
    Problem::ProviderUnavailable,
    Problem::VerificationFailed,
    Problem::WrongPerson,
    Problem::SignerChanged,
    Problem::PersonUnknown,
    Problem::SessionExpired,
    Problem::BadRequest,
    Problem::UnknownClient,
    Problem::InvalidRedirect,
    Problem::TooManyAttempts,
    Problem::TooManyPushes,
    Problem::TooManyRequests,
    Problem::TooManyDeviceCodes,
    Problem::ProviderBusy,
    Problem::TryLater,
    Problem::ChangedElsewhere,
    Problem::Internal,
];

fn langs() -> [Lang; 2] {
    [Lang::Ko, Lang::En]
}

/// Every start tag `<name ...>` in the page.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let tail = &rest[i..];
        let after = tail.as_bytes().get(open.len()).copied();
        let end = tail.find('>').map_or(tail.len(), |e| e + 1);
        if matches!(after, Some(b' ' | b'>' | b'\n')) {
            out.push(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// What every page must have: lang, both switch links, the stylesheet, a main
/// landmark, and nothing the CSP would block.
fn assert_common(html: &str, lang: Lang) {
    assert!(html.starts_with("<!DOCTYPE html>"), "doctype");
    assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
    assert!(html.contains(&format!("href=\"{CSS_PATH}\"")));
    assert!(html.contains("<main class=\"mj-main\" id=\"main\""));
    assert!(html.contains("href=\"#main\""), "skip link");
    let switch = match lang {
        Lang::Ko => "href=\"/x?lang=en\" lang=\"en\" hreflang=\"en\">English</a>",
        Lang::En => "href=\"/x?lang=ko\" lang=\"ko\" hreflang=\"ko\">한국어</a>",
    };
    assert!(html.contains(switch), "language switch link in {lang:?}");
    assert_csp_clean(html);
}

fn assert_csp_clean(html: &str) {
    for tag in tags(html, "script") {
        assert!(attr(tag, "src").is_some(), "inline script: {tag}");
    }
    assert!(!html.contains("<style"), "inline <style>");
    assert!(!html.contains(" style="), "inline style attribute");
    assert!(!html.contains("javascript:"));
    let lower = html.to_ascii_lowercase();
    for handler in [
        " onclick=",
        " onload=",
        " onsubmit=",
        " onchange=",
        " oninput=",
        " onerror=",
    ] {
        assert!(!lower.contains(handler), "inline handler {handler}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external resource"
    );
}

/// Every visible input has an id, and a `<label for>` naming it.
fn assert_labelled(html: &str) {
    let labels: Vec<&str> = tags(html, "label")
        .into_iter()
        .filter_map(|l| attr(l, "for"))
        .collect();
    for input in tags(html, "input") {
        if attr(input, "type") == Some("hidden") {
            continue;
        }
        let id = attr(input, "id").unwrap_or_else(|| panic!("input without id: {input}"));
        assert!(labels.contains(&id), "no label for {id}");
    }
}

fn input_tag<'a>(html: &'a str, id: &str) -> &'a str {
    tags(html, "input")
        .into_iter()
        .find(|t| attr(t, "id") == Some(id))
        .unwrap_or_else(|| panic!("no input {id}"))
}

// ---- chooser ----

fn choices() -> [ProviderChoice<'static>; 3] {
    [
        ProviderChoice {
            id: "kakao",
            name_ko: "카카오",
            name_en: "Kakao",
            href: "/login/t1/kakao",
            off: None,
            logo: None,
        },
        ProviderChoice {
            id: "naver",
            name_ko: "네이버",
            name_en: "Naver",
            href: "/login/t1/naver",
            off: None,
            logo: None,
        },
        ProviderChoice {
            id: "pass",
            name_ko: "PASS",
            name_en: "PASS",
            href: "/login/t1/pass",
            off: None,
            logo: None,
        },
    ]
}

fn chooser_view<'a>(
    lang: Lang,
    site: &'a str,
    providers: &'a [ProviderChoice<'a>],
) -> ChooserView<'a> {
    ChooserView {
        signing: false,
        lang,
        site_name: site,
        providers,
        last: false,
        remembered: None,
        forget_action: "/login/t1/forget-last",
        csrf: "csrf-1",
        cancel_href: "https-not/cancel",
        lang_ko_href: "/x?lang=ko",
        lang_en_href: "/x?lang=en",
    }
}

#[test]
fn the_provider_used_last_stands_first_with_a_way_to_forget_it() {
    let providers = choices();
    for lang in langs() {
        let plain = chooser(&chooser_view(lang, "정부24", &providers)).unwrap();
        assert!(
            !plain.contains("mj-last") && !plain.contains("mj-forget"),
            "{plain}"
        );
        let html = chooser(&ChooserView {
            last: true,
            remembered: Some(("카카오", "Kakao")),
            ..chooser_view(lang, "정부24", &providers)
        })
        .unwrap();
        assert_common(&html, lang);
        assert_csp_clean(&html);
        let first = &providers[0];
        let want = match lang {
            Lang::Ko => format!("{}로 계속하기", first.name_ko),
            Lang::En => format!("Continue with {}", first.name_en),
        };
        let last = html
            .find("id=\"mj-last\"")
            .expect("the last used on its own");
        assert!(html[last..].contains(&want), "{html}");
        // Listed once: not again among the others.
        assert_eq!(
            html.matches(&format!("data-provider=\"{}\"", first.id))
                .count(),
            1,
            "{html}"
        );
        assert!(
            html.contains("action=\"/login/t1/forget-last\"")
                && html.contains("name=\"csrf\" value=\"csrf-1\""),
            "{html}"
        );
        // The forget button names the provider, inside its section.
        let forget = match lang {
            Lang::Ko => "이 기기에서 카카오 기억 지우기",
            Lang::En => "Forget Kakao on this device",
        };
        let section = &html[last..html[last..].find("</section>").unwrap() + last];
        assert!(section.contains(forget), "{html}");
    }
}

#[test]
fn a_limit_page_says_when_to_try_again_in_both_languages() {
    for (lang, secs, want) in [
        (Lang::Ko, 540, "약 9분 뒤에 다시 시도할 수 있습니다."),
        (Lang::En, 540, "You can try again in about 9 minutes."),
        (Lang::En, 30, "You can try again in about 30 seconds."),
        (Lang::En, 60, "You can try again in about 1 minute."),
        (Lang::Ko, 80_000, "약 23시간 뒤에 다시 시도할 수 있습니다."),
    ] {
        let v = ErrorView {
            wait: Some(std::time::Duration::from_secs(secs)),
            ..error_view(lang, Problem::TooManyPushes)
        };
        let html = error(&v).unwrap();
        assert_common(&html, lang);
        assert!(html.contains(want), "{html}");
    }
    let html = error(&error_view(Lang::En, Problem::TooManyPushes)).unwrap();
    assert!(!html.contains("try again in about"), "no wait, no sentence");
}

#[test]
fn chooser_in_both_languages() {
    let providers = choices();
    let ko = chooser(&chooser_view(Lang::Ko, "정부24", &providers)).unwrap();
    assert_common(&ko, Lang::Ko);
    assert!(ko.contains("<h1 class=\"mj-title\">정부24 로그인</h1>"));
    assert!(ko.contains("<title>정부24 로그인 | 문지기</title>"));
    for p in &providers {
        assert!(ko.contains(&format!("href=\"{}\"", p.href)));
        assert!(ko.contains(p.name_ko));
    }
    assert!(ko.contains("href=\"https-not/cancel\""));

    let en = chooser(&chooser_view(Lang::En, "Gov24", &providers)).unwrap();
    assert_common(&en, Lang::En);
    assert!(en.contains("Log in to Gov24"));
    // English names, with the Korean name marked as Korean; no repeat when equal.
    assert!(en.contains("Kakao <span class=\"mj-provider__alt\" lang=\"ko\">카카오</span>"));
    assert!(en.contains("PASS</span>"));
    assert!(!en.contains("lang=\"ko\">PASS"));
}

#[test]
fn each_provider_has_a_badge_and_more_than_eight_get_a_filter_box() {
    let [kakao, naver, pass] = choices();
    let with_logo = ProviderChoice {
        logo: Some("/static/munjigi/logos/kakao"),
        ..kakao
    };
    let providers = [with_logo, naver, pass];
    for lang in langs() {
        let html = chooser(&chooser_view(lang, "정부24", &providers)).unwrap();
        assert_common(&html, lang);
        assert_csp_clean(&html);
        let alt = match lang {
            Lang::Ko => "카카오 로고",
            Lang::En => "Kakao logo",
        };
        assert!(
            html.contains(&format!(
                "<img class=\"mj-badge\" src=\"/static/munjigi/logos/kakao\" alt=\"{alt}\""
            )),
            "{html}"
        );
        let initial = match lang {
            Lang::Ko => "네",
            Lang::En => "N",
        };
        assert!(
            html.contains(&format!(
                "<span class=\"mj-badge mj-badge--text\" aria-hidden=\"true\">{initial}</span>"
            )),
            "{html}"
        );
        assert!(!html.contains("mj-filter"), "three need no filter");
    }
    let many: Vec<ProviderChoice<'_>> = (0..9).map(|_| choices()[1].clone()).collect();
    let html = chooser(&chooser_view(Lang::Ko, "정부24", &many)).unwrap();
    assert!(html.contains("id=\"mj-filter-box\" hidden"), "{html}");
    assert!(
        html.contains("<label class=\"mj-label\" for=\"mj-filter\">"),
        "{html}"
    );
    assert!(html.contains("/static/munjigi.js"), "the filter's script");
}

#[test]
fn chooser_greys_out_a_provider_not_offered_after_the_others() {
    for lang in langs() {
        let [kakao, naver, pass] = choices();
        let providers = [
            ProviderChoice {
                off: Some("점검 중 <b>21시</b>까지".into()),
                ..kakao
            },
            naver,
            pass,
        ];
        let html = chooser(&chooser_view(lang, "정부24", &providers)).unwrap();
        assert_common(&html, lang);
        assert_csp_clean(&html);
        // Offered ones as links in the first list; the one off in a second
        // list, under its heading, with its reason (escaped), and no link.
        let (offered, off) = html
            .split_once("id=\"mj-off-heading\"")
            .expect("a second list");
        assert!(
            offered.contains("href=\"/login/t1/naver\"")
                && offered.contains("href=\"/login/t1/pass\"")
        );
        assert!(
            !html.contains("href=\"/login/t1/kakao\""),
            "no way to a provider that is off"
        );
        assert!(!offered.contains("data-provider=\"kakao\""));
        assert!(off.contains("data-provider=\"kakao\" aria-disabled=\"true\""));
        assert!(
            off.contains("점검 중 &#60;b&#62;21시&#60;/b&#62;까지"),
            "{off}"
        );
        assert!(off.contains("aria-labelledby=\"mj-off-heading\""));
    }
    // Every provider off: the citizen is told none is available right now.
    let all_off: Vec<ProviderChoice<'_>> = choices()
        .into_iter()
        .map(|p| ProviderChoice {
            off: Some("x".into()),
            ..p
        })
        .collect();
    let html = chooser(&chooser_view(Lang::En, "s", &all_off)).unwrap();
    assert!(html.contains("mj-inset") && html.contains("Not available right now"));
}

#[test]
fn chooser_escapes_hostile_site_name() {
    let providers = choices();
    for lang in langs() {
        let html = chooser(&chooser_view(lang, HOSTILE, &providers)).unwrap();
        assert!(!html.contains("<script>alert"), "{lang:?}");
        assert!(html.contains(HOSTILE_ESCAPED), "{lang:?}");
        assert_csp_clean(&html);
    }
}

#[test]
fn chooser_without_providers_says_so() {
    for lang in langs() {
        let html = chooser(&chooser_view(lang, "s", &[])).unwrap();
        assert!(html.contains("mj-inset"));
        assert!(!html.contains("mj-providers"));
        assert!(html.contains("href=\"https-not/cancel\""));
    }
}

// ---- identify ----

fn identify_view<'a>(lang: Lang, site: &'a str, errors: &'a [Field]) -> IdentifyView<'a> {
    IdentifyView {
        documents: &[],
        lang,
        site_name: site,
        provider_id: "kakao",
        provider_name_ko: "카카오",
        provider_name_en: "Kakao",
        action: "/login/t1/kakao",
        csrf: "csrf-token-1",
        name: "홍길동",
        birthdate: "19900131",
        phone: "010-1234-5678",
        errors,
        back_href: "/login/t1",
        lang_ko_href: "/x?lang=ko",
        lang_en_href: "/x?lang=en",
        app: None,
    }
}

#[test]
fn identify_asks_where_to_approve_only_where_the_provider_can_open_its_app() {
    for lang in langs() {
        let plain = identify(&identify_view(lang, "s", &[])).unwrap();
        assert!(!plain.contains("name=\"reach\""), "{plain}");
        let errors = [Field::Carrier];
        let v = IdentifyView {
            app: Some(crate::pages::AppChoice {
                here: true,
                needs_carrier: true,
                carrier: "KT",
            }),
            ..identify_view(lang, "s", &errors)
        };
        let html = identify(&v).unwrap();
        assert!(
            html.contains("id=\"reach-app\" name=\"reach\" type=\"radio\" value=\"app\" checked"),
            "{html}"
        );
        assert!(!html.contains("value=\"push\" checked"), "{html}");
        assert!(html.contains("<option value=\"KT\" selected>"), "{html}");
        // The carrier error is summarised and tied to its field.
        assert!(html.contains("href=\"#carrier\""), "{html}");
        assert!(
            html.contains("aria-describedby=\"carrier-hint carrier-error\""),
            "{html}"
        );
        let push = IdentifyView {
            app: Some(crate::pages::AppChoice {
                here: false,
                needs_carrier: false,
                carrier: "",
            }),
            ..identify_view(lang, "s", &[])
        };
        let html = identify(&push).unwrap();
        assert!(html.contains("value=\"push\" checked"), "{html}");
        assert!(!html.contains("id=\"carrier\""), "{html}");
    }
}

#[test]
fn identify_in_both_languages() {
    for lang in langs() {
        let html = identify(&identify_view(lang, "정부24", &[])).unwrap();
        assert_common(&html, lang);
        assert_labelled(&html);
        assert!(html.contains("<form class=\"mj-form\" method=\"post\" action=\"/login/t1/kakao\""));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-token-1\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"provider\" value=\"kakao\">"));
        assert!(html.contains("정부24"), "site name visible");
        assert!(html.contains("href=\"/login/t1\""), "back to chooser");
        assert!(!html.contains("mj-error-summary"));
        assert!(!html.contains("aria-invalid"));
        let provider = if lang == Lang::Ko {
            "카카오"
        } else {
            "Kakao"
        };
        assert!(html.contains(provider));
    }
}

#[test]
fn a_signing_review_lists_documents_and_says_sign_not_log_in() {
    let docs = [("전입신고서".to_owned(), "ab".repeat(32))];
    for lang in langs() {
        let mut v = identify_view(lang, "정부24", &[]);
        v.documents = &docs;
        let html = identify(&v).unwrap();
        assert_common(&html, lang);
        assert!(html.contains("전입신고서") && html.contains(&"ab".repeat(32)));
        let (sign, login) = match lang {
            Lang::Ko => ("카카오 인증서로 서명", "인증서로 로그인"),
            Lang::En => ("Sign with Kakao", "Log in"),
        };
        assert!(html.contains(sign), "{lang:?}");
        assert!(!html.contains(login), "{lang:?}: no login wording");
        // A login has no review.
        let plain = identify(&identify_view(lang, "정부24", &[])).unwrap();
        assert!(!plain.contains("mj-review"));
    }
}

#[test]
fn identify_inputs_have_names_types_and_autocomplete() {
    let html = identify(&identify_view(Lang::Ko, "s", &[])).unwrap();
    let expect = [
        ("name", "text", "name", "text"),
        ("birthdate", "text", "bday", "numeric"),
        ("phone", "tel", "tel", "tel"),
    ];
    for (id, kind, autocomplete, inputmode) in expect {
        let tag = input_tag(&html, id);
        assert_eq!(attr(tag, "name"), Some(id));
        assert_eq!(attr(tag, "type"), Some(kind), "{id}");
        assert_eq!(attr(tag, "autocomplete"), Some(autocomplete), "{id}");
        assert_eq!(attr(tag, "inputmode"), Some(inputmode), "{id}");
        assert_eq!(
            attr(tag, "aria-describedby"),
            Some(format!("{id}-hint").as_str())
        );
    }
    let consent = input_tag(&html, "consent");
    assert_eq!(attr(consent, "type"), Some("checkbox"));
    assert_eq!(attr(consent, "name"), Some("consent"));
    assert_eq!(attr(consent, "value"), Some("yes"));
    assert!(!consent.contains("checked"), "consent is never pre-ticked");
    // Values typed before an error are kept.
    assert_eq!(attr(input_tag(&html, "name"), "value"), Some("홍길동"));
    assert_eq!(
        attr(input_tag(&html, "birthdate"), "value"),
        Some("19900131")
    );
    assert_eq!(
        attr(input_tag(&html, "phone"), "value"),
        Some("010-1234-5678")
    );
}

#[test]
fn identify_errors_are_tied_to_fields_and_summarised() {
    for lang in langs() {
        let errors = [Field::Consent, Field::BirthDate];
        let html = identify(&identify_view(lang, "s", &errors)).unwrap();
        assert_labelled(&html);
        let prefix = if lang == Lang::Ko {
            "<title>오류: "
        } else {
            "<title>Error: "
        };
        assert!(html.contains(prefix), "title says error");
        // Summary first, linking to the fields in form order.
        let summary = html.find("mj-error-summary").unwrap();
        assert!(summary < html.find("<h1").unwrap());
        let birth_link = html.find("href=\"#birthdate\"").unwrap();
        let consent_link = html.find("href=\"#consent\"").unwrap();
        assert!(birth_link < consent_link);
        assert!(!html.contains("href=\"#name\""));
        // Each field in error is described by its message and marked invalid.
        for id in ["birthdate", "consent"] {
            let tag = input_tag(&html, id);
            assert_eq!(
                attr(tag, "aria-describedby"),
                Some(format!("{id}-hint {id}-error").as_str())
            );
            assert_eq!(attr(tag, "aria-invalid"), Some("true"));
            assert!(html.contains(&format!("id=\"{id}-error\"")));
        }
        for id in ["name", "phone"] {
            let tag = input_tag(&html, id);
            assert_eq!(attr(tag, "aria-invalid"), None);
            assert!(!html.contains(&format!("id=\"{id}-error\"")));
        }
    }
}

#[test]
fn identify_all_errors_once_each() {
    let errors = [
        Field::Phone,
        Field::Name,
        Field::Phone,
        Field::BirthDate,
        Field::Consent,
    ];
    let html = identify(&identify_view(Lang::En, "s", &errors)).unwrap();
    for id in ["name", "birthdate", "phone", "consent"] {
        assert_eq!(html.matches(&format!("href=\"#{id}\"")).count(), 1, "{id}");
        assert_eq!(
            html.matches(&format!("id=\"{id}-error\"")).count(),
            1,
            "{id}"
        );
    }
}

#[test]
fn identify_escapes_hostile_values() {
    let mut v = identify_view(Lang::Ko, HOSTILE, &[]);
    v.name = HOSTILE;
    v.phone = "\"><script>x</script>";
    v.provider_name_ko = HOSTILE;
    let html = identify(&v).unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains(HOSTILE_ESCAPED));
    assert!(attr(input_tag(&html, "phone"), "value")
        .unwrap()
        .starts_with("&#34;&#62;"));
}

// ---- waiting ----

fn waiting_view(lang: Lang, site: &str) -> WaitingView<'_> {
    WaitingView {
        lang,
        site_name: site,
        provider_name_ko: "카카오",
        provider_name_en: "Kakao",
        status_url: "/login/t1/status",
        refresh_url: "/login/t1/wait?a=1&b=2",
        continue_url: "/login/t1/continue",
        cancel_action: "/login/t1/cancel",
        csrf: "csrf-token-2",
        other_provider_href: "/login/t1",
        expires_in_secs: 299,
        code: "47",
        lang_ko_href: "/x?lang=ko",
        lang_en_href: "/x?lang=en",
        provider_down: false,
        qr_svg: "",
        wallet_link: "",
        app_link: "",
        market_link: "",
        app_returns: false,
    }
}

#[test]
fn waiting_offers_the_app_and_says_how_the_citizen_comes_back() {
    for lang in langs() {
        let plain = waiting(&waiting_view(lang, "s")).unwrap();
        assert!(!plain.contains("mj-app-open\""), "{plain}");
        assert!(plain.contains("mj-details"), "{plain}");
        let manual = WaitingView {
            app_link: "passcert://identity?receiptID=1&x=2",
            market_link: "https://play.google.com/store/apps/details?id=a",
            ..waiting_view(lang, "s")
        };
        let html = waiting(&manual).unwrap();
        assert!(
            html.contains("id=\"mj-app-open\" href=\"passcert://identity?receiptID=1&#38;x=2\""),
            "{html}"
        );
        assert!(html.contains("id=\"mj-app-market\""), "{html}");
        let t = crate::pages::Frame::texts(lang);
        assert!(html.contains(t.app_step_back_manual), "{html}");
        assert!(
            !html.contains("mj-details"),
            "a push's advice on an app-to-app page: {html}"
        );
        let auto = WaitingView {
            app_link: "kakaotalk://x",
            app_returns: true,
            ..waiting_view(lang, "s")
        };
        let html = waiting(&auto).unwrap();
        assert!(html.contains(t.app_step_back_auto), "{html}");
        assert!(!html.contains("mj-app-market"), "{html}");
    }
}

#[test]
fn waiting_shows_a_wallet_qr_code_only_when_there_is_one() {
    for lang in langs() {
        let plain = waiting(&waiting_view(lang, "정부24")).unwrap();
        assert!(!plain.contains("mj-wallet-qr"), "{plain}");
        let svg = crate::oidc::device_page::qr_inline("eyJ0eXBlIjoibWlwIn0").unwrap();
        let with = WaitingView {
            qr_svg: &svg,
            provider_name_ko: "모바일 신분증",
            provider_name_en: "mobile ID",
            ..waiting_view(lang, "정부24")
        };
        let html = waiting(&with).unwrap();
        assert_common(&html, lang);
        assert_csp_clean(&html);
        assert!(
            !html.contains("mj-wallet-open"),
            "no same-device link without one"
        );
        // Nothing was pushed: the steps say to scan, with no advice about
        // a missing notification.
        let t = crate::pages::Frame::texts(lang);
        assert!(
            html.contains(&(t.wallet_step_open)("모바일 신분증"))
                || html.contains(&(t.wallet_step_open)("mobile ID")),
            "{html}"
        );
        assert!(!html.contains("mj-details"), "{html}");
        let alt = match lang {
            Lang::Ko => "모바일 신분증 앱으로 촬영할 QR 코드",
            Lang::En => "QR code to scan with your mobile ID app",
        };
        assert!(
            html.contains(&format!(
                "id=\"mj-wallet-qr\" role=\"img\" aria-label=\"{alt}\"><svg"
            )),
            "{html}"
        );
        assert!(!html.contains("<?xml"), "inline, without a declaration");
        // A wallet on this phone: the same request as a link, escaped.
        let link = "openid4vp://?client_id=x509_san_dns%3Ah&request_uri=https%3A%2F%2Fh%2Fr&a=\"b";
        let html = waiting(&WaitingView {
            wallet_link: link,
            ..with
        })
        .unwrap();
        assert!(
            html.contains("id=\"mj-wallet-open\" href=\"openid4vp://?client_id=x509_san_dns%3Ah&#38;request_uri=https%3A%2F%2Fh%2Fr&#38;a=&#34;b\""),
            "{html}"
        );
    }
}

#[test]
fn waiting_offers_another_provider_when_its_provider_went_down() {
    for lang in langs() {
        let calm = waiting(&waiting_view(lang, "정부24")).unwrap();
        // The notice is on every waiting page, hidden until the provider
        // goes down (the script shows it in place).
        assert!(
            calm.contains("<div class=\"mj-notice\" role=\"alert\" id=\"mj-down\" hidden>"),
            "{calm}"
        );
        assert!(calm.contains("data-provider-down=\"0\""));
        let down = WaitingView {
            provider_down: true,
            ..waiting_view(lang, "정부24")
        };
        let html = waiting(&down).unwrap();
        assert_common(&html, lang);
        assert_csp_clean(&html);
        assert!(html.contains("data-provider-down=\"1\""));
        assert!(
            html.contains("role=\"alert\" id=\"mj-down\">"),
            "shown: {html}"
        );
        let notice = html
            .split("<div class=\"mj-notice\" role=\"alert\"")
            .nth(1)
            .and_then(|n| n.split("</div>").next())
            .expect("an alert with the way out");
        let (name, other) = match lang {
            Lang::Ko => ("카카오", "다른 인증서로 로그인"),
            Lang::En => ("Kakao", "Log in with another provider"),
        };
        assert!(notice.contains(name), "{notice}");
        assert!(
            notice.contains(&format!("href=\"/login/t1\">{other}</a>")),
            "{notice}"
        );
    }
}

#[test]
fn waiting_shows_the_push_code_only_when_there_is_one() {
    for lang in langs() {
        let html = waiting(&waiting_view(lang, "정부24")).unwrap();
        assert!(
            html.contains("<strong class=\"mj-pushcode__value\">47</strong>"),
            "{html}"
        );
        let none = WaitingView {
            code: "",
            ..waiting_view(lang, "정부24")
        };
        assert!(!waiting(&none).unwrap().contains("mj-pushcode"));
    }
}

#[test]
fn waiting_in_both_languages() {
    for lang in langs() {
        let html = waiting(&waiting_view(lang, "정부24")).unwrap();
        assert_common(&html, lang);
        assert_labelled(&html);
        assert!(html.contains(&format!("<script src=\"{JS_PATH}\" defer></script>")));
        assert!(html.contains(
            "<noscript><meta http-equiv=\"refresh\" content=\"3;url=/login/t1/wait?a=1&#38;b=2\"></noscript>"
        ));
        assert!(html.contains("data-status-url=\"/login/t1/status\""));
        assert!(html.contains("data-continue-url=\"/login/t1/continue\""));
        assert!(html.contains("data-expires-in=\"299\""));
        assert!(html.contains("aria-live=\"polite\""));
        assert!(html.contains(">04:59</span>"), "countdown");
        assert!(
            html.contains("href=\"/login/t1/continue\""),
            "continue link without JS"
        );
        assert!(html.contains("href=\"/login/t1\""), "other provider");
        assert!(html.contains(
            "<form class=\"mj-inline-form\" method=\"post\" action=\"/login/t1/cancel\">"
        ));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-token-2\">"));
        for key in [
            "pending", "viewed", "done", "ended", "retrying", "expired", "minute",
        ] {
            let a = format!("data-text-{key}=\"");
            let at = html.find(&a).unwrap_or_else(|| panic!("{a}"));
            assert!(!html[at + a.len()..].starts_with('"'), "{key} text empty");
        }
        assert!(html.contains("정부24"), "site name visible");
        let provider = if lang == Lang::Ko {
            "카카오 앱"
        } else {
            "Kakao app"
        };
        assert!(html.contains(provider));
    }
}

#[test]
fn waiting_escapes_hostile_site_name() {
    let html = waiting(&waiting_view(Lang::En, HOSTILE)).unwrap();
    assert!(html.contains(HOSTILE_ESCAPED));
    assert!(!html.contains("<script>alert"));
}

#[test]
fn script_reads_the_attributes_the_page_sets() {
    let html = waiting(&waiting_view(Lang::Ko, "s")).unwrap();
    for id in ["mj-waiting", "mj-status", "mj-countdown"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        assert!(JS.contains(&format!("'{id}'")), "{id} in JS");
    }
    for a in [
        "data-status-url",
        "data-refresh-url",
        "data-continue-url",
        "data-expires-in",
    ] {
        assert!(JS.contains(a), "{a} in JS");
    }
    for key in [
        "pending", "viewed", "done", "ended", "retrying", "expired", "minute",
    ] {
        assert!(JS.contains(&format!("'{key}'")), "{key} in JS");
    }
}

// ---- error ----

fn error_view(lang: Lang, problem: Problem) -> ErrorView<'static> {
    ErrorView {
        lang,
        problem,
        code: "MJ-P03",
        txn: Some("txn-abc"),
        retry_href: Some("/retry"),
        other_provider_href: Some("/login/t1"),
        back_to_site_href: Some("/site-back"),
        lang_ko_href: "/x?lang=ko",
        lang_en_href: "/x?lang=en",
        wait: None,
        detail: None,
    }
}

#[test]
fn a_detail_for_developers_is_labelled_escaped_and_only_when_given() {
    for (lang, label) in [
        (Lang::Ko, "사이트 개발자용 정보"),
        (Lang::En, "For developers of the site"),
    ] {
        let plain = error(&error_view(lang, Problem::BadRequest)).unwrap();
        assert!(!plain.contains(label));
        let v = ErrorView {
            detail: Some(HOSTILE),
            ..error_view(lang, Problem::BadRequest)
        };
        let html = error(&v).unwrap();
        assert!(html.contains(label), "{html}");
        assert!(html.contains(HOSTILE_ESCAPED), "{html}");
        assert!(!html.contains(HOSTILE));
        assert!(
            html.contains("<code lang=\"en\">"),
            "marked as English for screen readers"
        );
    }
}

#[test]
fn every_problem_renders_in_both_languages() {
    for lang in langs() {
        let mut titles = Vec::new();
        for problem in ALL_PROBLEMS {
            let html = error(&error_view(lang, problem)).unwrap();
            assert_common(&html, lang);
            assert!(html.contains("<code>MJ-P03</code>"));
            assert!(html.contains("<code>txn-abc</code>"));
            assert!(
                html.contains("class=\"mj-button\" href=\"/retry\""),
                "retry is primary"
            );
            assert!(html.contains("href=\"/login/t1\""));
            assert!(html.contains("href=\"/site-back\""));
            let title = &html[html.find("<h1").unwrap()..html.find("</h1>").unwrap()];
            titles.push(title.to_owned());
        }
        titles.sort();
        titles.dedup();
        assert_eq!(
            titles.len(),
            ALL_PROBLEMS.len(),
            "a distinct title per problem"
        );
    }
}

#[test]
fn problem_texts_differ_between_languages() {
    for problem in ALL_PROBLEMS {
        let ko = problem.text(Text::of(Lang::Ko));
        let en = problem.text(Text::of(Lang::En));
        for (k, e) in [(ko.title, en.title), (ko.what, en.what), (ko.next, en.next)] {
            assert!(!k.is_empty() && !e.is_empty(), "{problem:?}");
            assert_ne!(k, e, "{problem:?} untranslated");
        }
    }
}

#[test]
fn error_shows_only_the_actions_given() {
    let v = ErrorView {
        txn: None,
        retry_href: None,
        other_provider_href: None,
        back_to_site_href: Some("/site-back"),
        ..error_view(Lang::Ko, Problem::SessionExpired)
    };
    let html = error(&v).unwrap();
    assert!(
        html.contains("class=\"mj-button\" href=\"/site-back\""),
        "first given is primary"
    );
    assert!(!html.contains("/retry") && !html.contains("/login/t1"));
    assert!(!html.contains("거래 번호"));
    let none = ErrorView {
        back_to_site_href: None,
        ..v
    };
    let html = error(&none).unwrap();
    assert!(!html.contains("mj-actions"));
}

#[test]
fn error_escapes_code_and_txn() {
    let v = ErrorView {
        code: HOSTILE,
        txn: Some(HOSTILE),
        ..error_view(Lang::En, Problem::Internal)
    };
    let html = error(&v).unwrap();
    assert!(!html.contains("<script>"));
    assert_eq!(html.matches(HOSTILE_ESCAPED).count(), 2);
}

#[test]
fn fallback_cannot_fail_and_escapes() {
    for lang in langs() {
        for problem in ALL_PROBLEMS {
            let html = error_fallback(problem, lang, HOSTILE);
            assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
            assert!(html.contains(problem.text(Text::of(lang)).title));
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
            assert!(!html.contains("<script>"));
            assert_csp_clean(&html);
        }
    }
}

// ---- logged out ----

#[test]
fn logged_out_in_both_languages() {
    for lang in langs() {
        let v = LoggedOutView {
            lang,
            back_href: Some("/site"),
            unconfirmed: &[],
            frames: &[],
            next: None,
            auto: false,
            lang_ko_href: "/x?lang=ko",
            lang_en_href: "/x?lang=en",
        };
        let html = logged_out(&v).unwrap();
        assert_common(&html, lang);
        assert!(html.contains("href=\"/site\""));
        let t = Text::of(lang);
        assert!(!html.contains(t.logout_unconfirmed_title));
        assert!(tags(&html, "iframe").is_empty());
        assert!(tags(&html, "script").is_empty());
        let html = logged_out(&LoggedOutView {
            back_href: None,
            ..v
        })
        .unwrap();
        assert!(!html.contains("href=\"/site\""));
    }
}

#[test]
fn logged_out_names_unconfirmed_sites_holds_frames_and_leads_on() {
    for lang in langs() {
        let t = Text::of(lang);
        let unconfirmed = [HOSTILE.to_owned(), "구청".to_owned()];
        let frames = ["https://rp.example/fc?iss=x&sid=y".to_owned()];
        let form = LoggedOutNext::Form {
            action: "https://sp.example/slo".into(),
            fields: vec![
                ("SAMLResponse", "PHg+".into()),
                ("RelayState", HOSTILE.into()),
            ],
        };
        let v = LoggedOutView {
            lang,
            back_href: Some("/ignored-when-next"),
            unconfirmed: &unconfirmed,
            frames: &frames,
            next: Some(&form),
            auto: false,
            lang_ko_href: "/x?lang=ko",
            lang_en_href: "/x?lang=en",
        };
        let html = logged_out(&v).unwrap();
        // The only outside addresses are the frames' and the way on.
        let outside = |h: &str| {
            h.replace("https://rp.example", "")
                .replace("https://sp.example", "")
        };
        assert_common(&outside(&html), lang);
        assert!(html.contains(t.logout_unconfirmed_title));
        assert!(html.contains("<li>구청</li>"));
        assert!(!html.contains("<script>"));
        let iframes = tags(&html, "iframe");
        assert_eq!(iframes.len(), 1);
        assert_eq!(
            attr(iframes[0], "src"),
            Some("https://rp.example/fc?iss=x&#38;sid=y")
        );
        assert_eq!(attr(iframes[0], "title"), Some(t.logout_frame_title));
        let forms = tags(&html, "form");
        assert_eq!(forms.len(), 1);
        assert_eq!(attr(forms[0], "method"), Some("post"));
        assert_eq!(attr(forms[0], "action"), Some("https://sp.example/slo"));
        assert!(!html.contains("/ignored-when-next"));
        // Not followed by itself while a site did not confirm.
        assert!(!html.contains("data-auto"));
        let link = LoggedOutNext::Link("https://rp.example/bye?state=s".into());
        let html = logged_out(&LoggedOutView {
            unconfirmed: &[],
            next: Some(&link),
            auto: true,
            ..v
        })
        .unwrap();
        assert!(html.contains("data-auto=\"1\""));
        assert!(html.contains("href=\"https://rp.example/bye?state=s\""));
        assert!(!html.contains(t.logout_unconfirmed_title));
        assert_csp_clean(&outside(&html));
    }
}

// ---- logout confirmation ----

#[test]
fn logout_confirmation_is_a_post_form_in_both_languages() {
    for lang in langs() {
        let carry = [("client_id", "town"), ("state", HOSTILE)];
        let v = LogoutConfirmView {
            lang,
            action: "/logout",
            csrf: "tok-123",
            carry: &carry,
            retry: false,
            back_href: None,
            lang_ko_href: "/x?lang=ko",
            lang_en_href: "/x?lang=en",
        };
        let html = logout_confirm(&v).unwrap();
        assert_common(&html, lang);
        let t = Text::of(lang);
        assert!(html.contains(t.logout_confirm_title));
        assert!(html.contains(t.logout_confirm_body));
        let forms = tags(&html, "form");
        assert_eq!(forms.len(), 1);
        assert_eq!(attr(forms[0], "method"), Some("post"));
        assert_eq!(attr(forms[0], "action"), Some("/logout"));
        let inputs = tags(&html, "input");
        assert!(inputs
            .iter()
            .any(|i| attr(i, "name") == Some("csrf") && attr(i, "value") == Some("tok-123")));
        assert!(inputs
            .iter()
            .any(|i| attr(i, "name") == Some("client_id") && attr(i, "value") == Some("town")));
        assert!(html.contains(HOSTILE_ESCAPED), "carried values escaped");
        assert!(!html.contains("<script>"));
        // A real button, reachable by keyboard, named by its text.
        let buttons = tags(&html, "button");
        assert_eq!(buttons.len(), 1);
        assert_eq!(attr(buttons[0], "type"), Some("submit"));
        assert!(html.contains(&format!(">{}</button>", t.logout_confirm_button)));
        assert!(!html.contains("role=\"alert\""));
        assert_labelled(&html);

        let html = logout_confirm(&LogoutConfirmView {
            retry: true,
            back_href: Some("/app/"),
            ..v
        })
        .unwrap();
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains(t.logout_confirm_retry));
        assert!(html.contains("href=\"/app/\""));
    }
}

// ---- demo ----

#[test]
fn demo_home_in_both_languages() {
    for lang in langs() {
        let v = DemoHomeView {
            lang,
            login_href: "/demo/login",
            sign_href: "/demo/sign",
            callcentre_href: None,
            kiosk_href: None,
            lang_ko_href: "/x?lang=ko",
            lang_en_href: "/x?lang=en",
        };
        let html = demo_home(&v).unwrap();
        assert!(!html.contains("/demo/callcentre") && !html.contains("/demo/kiosk"));
        let with = demo_home(&DemoHomeView {
            callcentre_href: Some("/demo/callcentre"),
            kiosk_href: Some("/demo/kiosk"),
            ..v
        })
        .unwrap();
        assert_common(&with, lang);
        assert!(
            with.contains("href=\"/demo/callcentre\"") && with.contains("href=\"/demo/kiosk\"")
        );
        assert_common(&html, lang);
        assert!(html.contains("href=\"/demo/login\""));
        assert!(html.contains("href=\"/demo/sign\""));
        assert!(html.contains("간편인증"));
        assert!(
            html.contains("mj-header--demo"),
            "dressed as the sample site"
        );
        assert!(html.contains("mj-demo-banner"));
    }
}

#[test]
fn demo_result_in_both_languages() {
    let claims = [
        DemoClaim {
            name: "sub",
            value: "abc",
        },
        DemoClaim {
            name: "name",
            value: HOSTILE,
        },
    ];
    for lang in langs() {
        let v = DemoResultView {
            lang,
            id_token_claims: &claims,
            userinfo: &[],
            raw_id_token: "eyJ.<b>.sig",
            logout_href: "/demo/logout",
            home_href: "/demo",
            sign_href: "/demo/sign",
            lang_ko_href: "/x?lang=ko",
            lang_en_href: "/x?lang=en",
        };
        let html = demo_result(&v).unwrap();
        assert_common(&html, lang);
        assert!(html.contains("<th scope=\"row\"><code>sub</code></th><td><code>abc</code></td>"));
        assert!(html.contains(HOSTILE_ESCAPED));
        assert!(html.contains("eyJ.&#60;b&#62;.sig"));
        assert!(html.contains("href=\"/demo/logout\""));
        assert!(html.contains("href=\"/demo\""));
        let none = if lang == Lang::Ko {
            "<p>없음</p>"
        } else {
            "<p>None</p>"
        };
        assert!(html.contains(none), "empty userinfo");
    }
}

#[test]
fn demo_sign_form_in_both_languages() {
    for lang in langs() {
        for error in [
            None,
            Some(DemoSignError::Empty),
            Some(DemoSignError::TooLarge),
        ] {
            let v = DemoSignView {
                lang,
                action: "/demo/sign",
                csrf: "tok",
                title: HOSTILE,
                text: HOSTILE,
                error,
                max_file_bytes: 1024,
                home_href: "/demo",
                lang_ko_href: "/x?lang=ko",
                lang_en_href: "/x?lang=en",
            };
            let html = demo_sign(&v).unwrap();
            assert_common(&html, lang);
            assert!(html.contains("id=\"mj-demo-sign\" method=\"post\" action=\"/demo/sign\""));
            assert!(html.contains("name=\"csrf\" value=\"tok\""));
            assert!(html.contains("<textarea") && html.contains("type=\"file\""));
            assert!(!html.contains(HOSTILE) && html.contains(HOSTILE_ESCAPED));
            assert!(html.contains(JS_PATH), "the file reader");
            assert_eq!(html.contains("aria-invalid=\"true\""), error.is_some());
        }
    }
}

#[test]
fn demo_signed_outcomes_in_both_languages() {
    let docs = [DemoClaim {
        name: HOSTILE,
        value: "ab12",
    }];
    for lang in langs() {
        let outcomes = [
            DemoSignedOutcome::Signed {
                request_title: "전입신고서",
                provider: "kakao",
                signer: "홍길동",
                signing_time: "2026-11-23 10:00:00 KST",
                documents: &docs,
                download_href: "/demo/receipt/r1",
            },
            DemoSignedOutcome::Failed {
                reason: "wrong_signer",
            },
            DemoSignedOutcome::Pending,
        ];
        for outcome in outcomes {
            let signed = matches!(outcome, DemoSignedOutcome::Signed { .. });
            let failed = matches!(outcome, DemoSignedOutcome::Failed { .. });
            let v = DemoSignedView {
                lang,
                outcome,
                sign_href: "/demo/sign",
                home_href: "/demo",
                lang_ko_href: "/x?lang=ko",
                lang_en_href: "/x?lang=en",
            };
            let html = demo_signed(&v).unwrap();
            assert_common(&html, lang);
            assert_eq!(html.contains("href=\"/demo/receipt/r1\" download"), signed);
            assert_eq!(html.contains("<code>ab12</code>"), signed);
            assert!(!html.contains(HOSTILE));
            assert_eq!(html.contains("wrong_signer"), failed);
            assert!(html.contains("href=\"/demo/sign\""));
        }
    }
}

// ---- static files ----

#[test]
fn static_files_are_self_contained() {
    assert!(CSS.contains(":focus"));
    assert!(!CSS.contains("@import") && !CSS.contains("url("));
    assert!(!JS.contains("eval(") && !JS.contains("innerHTML"));
    assert!(CSS_PATH.starts_with("/static/") && JS_PATH.starts_with("/static/"));
}

#[test]
fn demo_call_centre_form_escapes_what_was_typed_and_shows_the_gateways_refusal() {
    for lang in langs() {
        let providers = [("kakao", "카카오"), ("naver", HOSTILE)];
        let html = demo_callcentre(&DemoCallCentreView {
            lang,
            action: "/demo/callcentre",
            csrf: "tok",
            providers: &providers,
            name: HOSTILE,
            birthdate: "1990-01-31",
            phone: "010",
            provider: "naver",
            error: Some("invalid_request: <b>x</b>"),
            home_href: "/demo",
            lang_ko_href: "/x?lang=ko",
            lang_en_href: "/x?lang=en",
        })
        .unwrap();
        assert_common(&html, lang);
        assert!(!html.contains("<script>alert"), "escaped");
        assert!(html.contains("role=\"alert\"") && html.contains("invalid_request: &#60;b&#62;x"));
        assert!(html.contains("<option value=\"naver\" selected>"));
        assert!(html.contains("for=\"provider\"") && html.contains("name=\"csrf\" value=\"tok\""));
    }
}

#[test]
fn demo_away_pages_wait_then_show_the_result_in_both_languages() {
    for lang in langs() {
        let t = Text::of(lang);
        for kind in [DemoAway::CallCentre, DemoAway::Kiosk] {
            let waiting = demo_away(&DemoAwayView {
                lang,
                kind,
                state: DemoAwayState::Waiting {
                    code: "4821",
                    qr_src: "/device/qr?user_code=BCDF-GHJK",
                    verification_uri: "/device",
                    status_url: "/demo/kiosk/status",
                    refresh_url: "/demo/kiosk/wait",
                },
                again_href: "/demo/kiosk",
                home_href: "/demo",
                lang_ko_href: "/x?lang=ko",
                lang_en_href: "/x?lang=en",
            })
            .unwrap();
            assert_common(&waiting, lang);
            assert!(waiting.contains("4821") && waiting.contains("role=\"status\""));
            assert!(waiting.contains("data-status-url=\"/demo/kiosk/status\""));
            assert!(waiting.contains("<noscript><meta http-equiv=\"refresh\""));
            assert_eq!(waiting.contains("mj-kiosk-qr"), kind == DemoAway::Kiosk);
            assert_eq!(
                waiting.contains(t.demo_cc_script),
                kind == DemoAway::CallCentre
            );
            let claims = [DemoClaim {
                name: "name",
                value: HOSTILE,
            }];
            let done = demo_away(&DemoAwayView {
                lang,
                kind,
                state: DemoAwayState::Done {
                    name: HOSTILE,
                    claims: &claims,
                },
                again_href: "/demo/kiosk",
                home_href: "/demo",
                lang_ko_href: "/x?lang=ko",
                lang_en_href: "/x?lang=en",
            })
            .unwrap();
            assert_common(&done, lang);
            assert!(!done.contains("<script>alert") && done.contains("mj-away-claims"));
            assert_eq!(done.contains("mj-kiosk-welcome"), kind == DemoAway::Kiosk);
            assert!(!done.contains("http-equiv=\"refresh\""));
            let failed = demo_away(&DemoAwayView {
                lang,
                kind,
                state: DemoAwayState::Failed {
                    reason: "access_denied",
                },
                again_href: "/demo/kiosk",
                home_href: "/demo",
                lang_ko_href: "/x?lang=ko",
                lang_en_href: "/x?lang=en",
            })
            .unwrap();
            assert!(failed.contains("access_denied") && failed.contains(t.demo_away_failed_lead));
        }
    }
}
