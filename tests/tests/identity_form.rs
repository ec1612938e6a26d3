//! The identity form takes every spelling a citizen is likely to type of a
//! name, a birth date and a phone number, end to end: each one logs in
//! through Kakao (the simulator) to an Authlib site as the same person, with
//! the same pairwise `sub` and the values released in one form; a spelling
//! that is not a date or a number gets the form again with the field
//! flagged, the typed value kept.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_spelling_logs_in_as_the_same_person() {
    let w = world("spellings");
    // 홍길동 as eight conjoining jamo (NFD): it looks the same.
    let jamo = "\u{1112}\u{1169}\u{11BC}\u{1100}\u{1175}\u{11AF}\u{1103}\u{1169}\u{11BC}";
    let mut cases: Vec<Citizen<'_>> = Vec::new();
    for birthdate in [
        "19900131",
        "1990-01-31",
        "1990.01.31",
        "1990. 01. 31.",
        "1990/01/31",
        "1990 01 31",
        "900131",
        "90-01-31",
        "90.01.31",
    ] {
        cases.push(Citizen { birthdate, ..HONG });
    }
    for phone in [
        "01012345678",
        "010 1234 5678",
        "+82 10 1234 5678",
        "+821012345678",
        " 010-1234-5678 ",
    ] {
        cases.push(Citizen { phone, ..HONG });
    }
    for name in [" 홍길동 ", jamo] {
        cases.push(Citizen { name, ..HONG });
    }
    let first = login_via(&w, "kakao", &["카카오"], &HONG).await;
    let sub = first["id_token_claims"]["sub"].as_str().unwrap().to_owned();
    let runs = cases.iter().map(|who| {
        let (w, sub) = (&w, &sub);
        async move {
            let site = login_via(w, "kakao", &["카카오"], who).await;
            let c = &site["id_token_claims"];
            let same = c["sub"] == sub.as_str()
                && c["name"] == "홍길동"
                && c["birthdate"] == "1990-01-31"
                && c["phone_number"] == "+821012345678";
            (!same).then(|| {
                format!(
                    "{:?} / {:?} / {:?}: {c}",
                    who.name, who.birthdate, who.phone
                )
            })
        }
    });
    let wrong: Vec<String> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spelling_that_is_not_a_date_or_a_number_gets_the_form_again() {
    let w = world("spellings-bad");
    for (field, who) in [
        (
            "birthdate",
            Citizen {
                birthdate: "1990-0131",
                ..HONG
            },
        ),
        (
            "birthdate",
            Citizen {
                birthdate: "9001311",
                ..HONG
            },
        ),
        (
            "birthdate",
            Citizen {
                birthdate: "900231",
                ..HONG
            },
        ),
        (
            "birthdate",
            Citizen {
                birthdate: "2099-01-01",
                ..HONG
            },
        ),
        (
            "phone",
            Citizen {
                phone: "010-1234-56",
                ..HONG
            },
        ),
        (
            "phone",
            Citizen {
                phone: "+1 415 555 0100",
                ..HONG
            },
        ),
        (
            "name",
            Citizen {
                name: "홍\u{200B}길동",
                ..HONG
            },
        ),
    ] {
        let mut b = Browser::new(None);
        let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
        let base = chooser_url.split('?').next().unwrap().to_owned();
        let form = b.get(&format!("{base}/identify?provider=kakao")).await;
        let r = post_identity(&mut b, &base, &form, "kakao", &who, &[]).await;
        let typed = format!("{} {} {}", who.name, who.birthdate, who.phone);
        assert_eq!(r.status, 422, "{field} {typed}: {}", r.body);
        assert!(
            r.body.contains(&format!("id=\"{field}\""))
                && r.body.contains(&format!("href=\"#{field}\"")),
            "{field} flagged in the summary: {}",
            r.body
        );
        let flagged = r
            .body
            .split("<input")
            .find(|i| i.contains(&format!("id=\"{field}\"")))
            .unwrap();
        assert!(
            flagged.contains("aria-invalid=\"true\""),
            "{field}: {flagged}"
        );
    }
}
