//! The identity form: name, birth date and phone for the chosen provider.
//!
//! The provider needs these to find the citizen's certificate and push a request to
//! their app. On a wrong value the gateway renders the form again with the typed
//! values and the fields in error: each error is shown above its field, tied to it
//! with `aria-describedby`, and listed in a summary at the top that links to it.
//! Not here: validating the values (the providers crate's `person` types do that)
//! or checking the CSRF token.

use super::{Frame, Lang, PageError};
use askama::Template;

/// A form field that can be in error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    BirthDate,
    Phone,
    Consent,
    Carrier,
}

impl Field {
    /// The field's `id` and form `name`.
    fn id(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::BirthDate => "birthdate",
            Field::Phone => "phone",
            Field::Consent => "consent",
            Field::Carrier => "carrier",
        }
    }
}

pub struct IdentifyView<'a> {
    pub lang: Lang,
    pub site_name: &'a str,
    pub provider_id: &'a str,
    pub provider_name_ko: &'a str,
    pub provider_name_en: &'a str,
    /// Where the form is POSTed.
    pub action: &'a str,
    /// Sent back as the hidden field `csrf`.
    pub csrf: &'a str,
    /// Values to show again after an error (empty on first display).
    pub name: &'a str,
    pub birthdate: &'a str,
    pub phone: &'a str,
    pub errors: &'a [Field],
    /// Signing: (title, SHA-256 hex) of each document, for the citizen to review.
    pub documents: &'a [(String, String)],
    /// Back to the chooser.
    pub back_href: &'a str,
    pub lang_ko_href: &'a str,
    pub lang_en_href: &'a str,
    /// Where the provider can open its app from this browser: the choice
    /// between that and a push.
    pub app: Option<AppChoice<'a>>,
}

/// The identity form's "where will you approve?" question.
pub struct AppChoice<'a> {
    /// App-to-app is preselected (a phone browser, or the citizen chose it).
    pub here: bool,
    /// The provider needs the carrier (PASS).
    pub needs_carrier: bool,
    /// The carrier chosen so far (`SKT`, `KT`, `LGU`, or empty).
    pub carrier: &'a str,
}

/// One text input, everything its markup needs.
struct Input<'a> {
    id: &'static str,
    kind: &'static str,
    label: &'static str,
    hint: &'static str,
    error: Option<&'static str>,
    value: &'a str,
    autocomplete: &'static str,
    inputmode: &'static str,
    maxlength: u32,
    width: &'static str,
}

#[derive(Template)]
#[template(path = "identify.html")]
struct IdentifyPage<'a> {
    frame: Frame<'a>,
    v: &'a IdentifyView<'a>,
    caption: String,
    heading: String,
    inputs: [Input<'a>; 3],
    consent_label: String,
    consent_error: Option<&'static str>,
    /// (field id, message) in form order, for the error summary.
    summary: Vec<(&'static str, &'static str)>,
    reach_here: String,
    carrier_error: Option<&'static str>,
    /// (value, label, selected) of the carrier options.
    carriers: [(&'static str, &'static str, bool); 3],
}

pub fn identify(v: &IdentifyView<'_>) -> Result<String, PageError> {
    let t = Frame::texts(v.lang);
    let provider = match v.lang {
        Lang::Ko => v.provider_name_ko,
        Lang::En => v.provider_name_en,
    };
    let error = |f: Field, message: &'static str| v.errors.contains(&f).then_some(message);
    let inputs = [
        Input {
            id: Field::Name.id(),
            kind: "text",
            label: t.name_label,
            hint: t.name_hint,
            error: error(Field::Name, t.error_name),
            value: v.name,
            autocomplete: "name",
            inputmode: "text",
            maxlength: 50,
            width: "mj-input--20",
        },
        Input {
            id: Field::BirthDate.id(),
            kind: "text",
            label: t.birthdate_label,
            hint: t.birthdate_hint,
            error: error(Field::BirthDate, t.error_birthdate),
            value: v.birthdate,
            autocomplete: "bday",
            inputmode: "numeric",
            maxlength: 14,
            width: "mj-input--10",
        },
        Input {
            id: Field::Phone.id(),
            kind: "tel",
            label: t.phone_label,
            hint: t.phone_hint,
            error: error(Field::Phone, t.error_phone),
            value: v.phone,
            autocomplete: "tel",
            inputmode: "tel",
            maxlength: 20,
            width: "mj-input--20",
        },
    ];
    let consent_error = error(Field::Consent, t.error_consent);
    let carrier_error = error(Field::Carrier, t.error_carrier);
    let summary = inputs
        .iter()
        .filter_map(|i| i.error.map(|e| (i.id, e)))
        .chain(carrier_error.map(|e| (Field::Carrier.id(), e)))
        .chain(consent_error.map(|e| (Field::Consent.id(), e)))
        .collect::<Vec<_>>();
    let chosen = v.app.as_ref().map_or("", |a| a.carrier);
    let carriers = [("SKT", "SKT"), ("KT", "KT"), ("LGU", "LG U+")]
        .map(|(value, label)| (value, label, value == chosen));
    let signing = !v.documents.is_empty();
    let heading = if signing {
        (t.sign_title)(provider)
    } else {
        (t.identify_title)(provider)
    };
    // A page in error says so first in its title, so it is announced on load.
    let title = if summary.is_empty() {
        heading.clone()
    } else {
        format!("{}{heading}", t.error_prefix)
    };
    let page = IdentifyPage {
        frame: Frame::new(v.lang, title, v.lang_ko_href, v.lang_en_href),
        v,
        caption: if signing {
            (t.signing_for)(v.site_name)
        } else {
            (t.logging_in_to)(v.site_name)
        },
        heading,
        inputs,
        consent_label: (t.consent_label)(provider),
        consent_error,
        summary,
        reach_here: (t.reach_here)(provider),
        carrier_error,
        carriers,
    };
    Ok(page.render()?)
}
