//! A simulated bank's result answer: its fields in the dialect's shape, the
//! encrypted ones sealed to their place, and the ways it misbehaves on demand.
//!
//! Sealing (the declarative family's wire format, written here from its
//! description rather than shared with the adapter): an encrypted field is
//! `b64(iv ‖ AES-256-GCM ct ‖ tag)` with associated data `request \n path` —
//! the request's handle (in a start request, which has none yet, the nonce)
//! and the field's JSON path in the body. A field copied to another place or
//! another request then fails its tag check.
//!
//! Misbehaviour (per person's scenario, on the result only; other scenarios
//! answer as `approve` here): `duplicate_keys` names the person's name key
//! twice, a stranger's name first and the genuine one last (what a reader that
//! keeps the last key would accept); `invisible_name` (every family's, in
//! `people.rs`) has U+202E after the name; `number_field` sends the birth date as a JSON number
//! (`19900131`); and, where fields are encrypted (`flat_encrypted`),
//! `swapped_field` swaps the sealed name and birth date (each sealed for its
//! own path), `replayed_field` seals the CI for another request, as if copied
//! from an earlier answer.
//!
//! Not here: signing (`bank.rs`), or the request's state.

use serde_json::{json, Value};

use super::super::Scenario;
use super::{gender_word, json_reply, ok, BankDialect, BankErr, Reply};
use munjigi_providers::barocert::crypto;

/// Seals `value` for the field at `path` of `request`.
pub(super) fn seal(
    key: &[u8; 32],
    value: &str,
    request: &str,
    path: &str,
) -> Result<String, BankErr> {
    crypto::encrypt_field_bound(key, value, format!("{request}\n{path}").as_bytes())
        .map_err(|_| BankErr::Internal)
}

/// Opens the field at `path` of `request`; anything sealed elsewhere fails.
pub(super) fn open(
    key: &[u8; 32],
    sealed: &str,
    request: &str,
    path: &str,
) -> Result<String, BankErr> {
    crypto::decrypt_field_bound(key, sealed, format!("{request}\n{path}").as_bytes())
        .map_err(|_| BankErr::BadParams)
}

/// What the result says, before the dialect writes it.
pub(super) struct Person<'a> {
    pub ci: &'a str,
    /// As answered ([`super::super::people::Subject::answered_name`]).
    pub name: String,
    pub birth_yyyymmdd: String,
    pub birth_iso: String,
    pub phone_national: String,
    pub phone_e164: &'a str,
    pub gender: munjigi_providers::person::Gender,
}

/// The result answer of request `id`, in `dialect`, as `scenario` has it.
pub(super) fn reply(
    dialect: BankDialect,
    key: Option<&[u8; 32]>,
    scenario: Scenario,
    id: &str,
    signed: &str,
    p: &Person<'_>,
) -> Result<Reply, BankErr> {
    let name = p.name.clone();
    let number_birth = || -> Result<Value, BankErr> {
        Ok(Value::from(
            p.birth_yyyymmdd
                .parse::<u64>()
                .map_err(|_| BankErr::Internal)?,
        ))
    };
    let gender = gender_word(p.gender, dialect);
    let (body, name_key, decoy) = match dialect {
        BankDialect::FlatEncrypted => {
            let key = key.ok_or(BankErr::Internal)?;
            let sealed = |v: &str, path: &str| seal(key, v, id, path);
            let mut name_field = sealed(&name, "userNm")?;
            let mut birth_field = Value::from(sealed(&p.birth_yyyymmdd, "birthDt")?);
            if scenario == Scenario::SwappedField {
                let birth = sealed(&p.birth_yyyymmdd, "birthDt")?;
                birth_field = Value::from(std::mem::replace(&mut name_field, birth));
            }
            if scenario == Scenario::NumberField {
                birth_field = number_birth()?;
            }
            let ci_request = if scenario == Scenario::ReplayedField {
                format!("{id}-earlier")
            } else {
                id.to_owned()
            };
            let v = json!({
                "txId": id,
                "signedData": signed,
                "ci": seal(key, p.ci, &ci_request, "ci")?,
                "userNm": name_field,
                "birthDt": birth_field,
                "telNo": sealed(&p.phone_national, "telNo")?,
                "genderCd": gender,
            });
            (v, "\"userNm\":", Value::from(sealed("김철수", "userNm")?))
        }
        BankDialect::Enveloped => {
            let birthday = if scenario == Scenario::NumberField {
                number_birth()?
            } else {
                Value::from(p.birth_iso.as_str())
            };
            let v = json!({
                "result": "SUCCESS",
                "data": {
                    "transactionId": id,
                    "signature": signed,
                    "person": {
                        "ci": p.ci,
                        "name": name,
                        "birthday": birthday,
                        "mobileNo": p.phone_e164,
                        "gender": gender,
                    },
                },
            });
            (v, "\"name\":", Value::from("김철수"))
        }
    };
    if scenario != Scenario::DuplicateKeys {
        return Ok(match dialect {
            // `ok` adds the envelope; this body has it already.
            BankDialect::FlatEncrypted => ok(dialect, body),
            BankDialect::Enveloped => json_reply(200, &body),
        });
    }
    // No JSON writer emits a key twice: the decoy is spliced in before the
    // genuine member, as text.
    let text = serde_json::to_string(&body).map_err(|_| BankErr::Internal)?;
    let at = text.find(name_key).ok_or(BankErr::Internal)?;
    let (before, after) = text.split_at(at);
    let spliced = format!("{before}{name_key}{decoy},{after}");
    let mut r = json_reply(200, &Value::Null);
    *r.body_mut() = http_body_util::Full::new(bytes::Bytes::from(spliced));
    Ok(r)
}
