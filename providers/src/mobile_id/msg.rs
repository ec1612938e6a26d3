//! The `mip` messages between the wallet and the SP, read strictly.
//!
//! Every call from the wallet is `POST /mip/{profile|vp|error}` with
//! `{"data": base64url(message JSON)}`; the SP always answers HTTP 200 with
//! `{"result": bool, "data": base64url(answer)}`, an M900 when it refuses.
//! A message names each key once (the crate's [`crate::json`] rule), has
//! `type` "mip", `version` "1.0.0" and the `cmd` of the endpoint it came
//! to, and nothing we do not know (strict reading: the specification lists
//! every field). Refusals carry the specification's SP error codes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const TYPE: &str = "mip";
pub const VERSION: &str = "1.0.0";
/// The largest body any `/mip/` call may have.
pub const MAX_BODY: usize = 512 * 1024;

/// The SP error codes of the specification (M900 `errcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    NotJson = 10001,
    MissingItem = 10002,
    Base64 = 10003,
    InvalidData = 10100,
    Type = 10101,
    Version = 10102,
    Cmd = 10103,
    UnknownTrx = 10104,
    UnsupportedPresentType = 10106,
    UnsupportedEncryptType = 10107,
    UnsupportedKeyType = 10108,
    UnsupportedVpType = 10109,
    UnsupportedAuthType = 10110,
    Nonce = 10111,
    Sequence = 10201,
    Timeout = 10202,
    Unknown = 99999,
}

impl Code {
    pub fn message(self) -> &'static str {
        match self {
            Code::NotJson => "not JSON",
            Code::MissingItem => "a required item is missing",
            Code::Base64 => "not base64url",
            Code::InvalidData => "invalid data",
            Code::Type => "type is not mip",
            Code::Version => "unsupported version",
            Code::Cmd => "unexpected cmd",
            Code::UnknownTrx => "unknown trxcode",
            Code::UnsupportedPresentType => "unsupported presentType",
            Code::UnsupportedEncryptType => "unsupported encryptType",
            Code::UnsupportedKeyType => "unsupported keyType",
            Code::UnsupportedVpType => "unsupported VP type",
            Code::UnsupportedAuthType => "unsupported authType",
            Code::Nonce => "nonce mismatch",
            Code::Sequence => "out of sequence",
            Code::Timeout => "timed out",
            Code::Unknown => "unknown error",
        }
    }
}

/// M200: what the SP sends the wallet (by push, QR or app link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct M200 {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub cmd: String,
    pub trxcode: String,
    pub mode: String,
    /// Ask for the CI in the holder's proof.
    pub ci: bool,
    /// The SP's base URL; the wallet appends `/mip/...`.
    pub host: String,
}

impl M200 {
    pub fn direct(trxcode: &str, host: &str) -> Self {
        M200 {
            kind: TYPE.into(),
            version: VERSION.into(),
            cmd: "200".into(),
            trxcode: trxcode.into(),
            mode: "direct".into(),
            ci: true,
            host: host.into(),
        }
    }
}

/// M310: the wallet asks for the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct M310 {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub cmd: String,
    pub request: String,
    pub trxcode: String,
    /// In the SP's answer only: base64url of the signed profile JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// M400: the wallet presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct M400 {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub cmd: String,
    pub request: String,
    pub trxcode: String,
    pub vp: Sealed,
}

/// The presentation as sent: sealed, with its declared kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    #[serde(rename = "presentType")]
    pub present_type: u8,
    #[serde(rename = "encryptType")]
    pub encrypt_type: u8,
    #[serde(rename = "keyType")]
    pub key_type: u8,
    #[serde(rename = "type")]
    pub kind: String,
    /// Hex of the sealed presentation ([`super::seal`]).
    pub data: String,
    #[serde(rename = "authType", default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Sent empty by wallets for a DID VP.
    #[serde(rename = "zkpNonce", default, skip_serializing_if = "Option::is_none")]
    pub zkp_nonce: Option<String>,
}

/// M900: an error, either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct M900 {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub cmd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trxcode: Option<String>,
    /// An integer; a wallet's string of digits is read as one.
    #[serde(deserialize_with = "int_or_digits")]
    pub errcode: u32,
    pub errmsg: String,
}

fn int_or_digits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| serde::de::Error::custom("errcode out of range")),
        Value::String(s)
            if !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().map_err(serde::de::Error::custom)
        }
        _ => Err(serde::de::Error::custom("errcode is not a number")),
    }
}

impl M900 {
    pub fn of(trxcode: Option<&str>, code: Code) -> Self {
        M900 {
            kind: TYPE.into(),
            version: VERSION.into(),
            cmd: "900".into(),
            trxcode: trxcode.map(str::to_owned),
            errcode: code as u32,
            errmsg: code.message().into(),
        }
    }
}

/// The wallet's M900 codes, as the login ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletEnd {
    /// 20901: the citizen cancelled in the app.
    Rejected,
    /// 20202 / 10202: too late.
    Expired,
    /// Anything else (a failed unlock, a profile the wallet refused …).
    Failed,
}

pub fn wallet_end(errcode: u32) -> WalletEnd {
    match errcode {
        20901 => WalletEnd::Rejected,
        20202 | 10202 => WalletEnd::Expired,
        _ => WalletEnd::Failed,
    }
}

/// Reads a wallet's call: the envelope, base64url, JSON with unique keys,
/// then `T`, whose `type`, `version` and `cmd` must be `cmd`'s.
pub fn read<T: serde::de::DeserializeOwned + Header>(body: &[u8], cmd: &str) -> Result<T, Code> {
    if body.len() > MAX_BODY {
        return Err(Code::InvalidData);
    }
    crate::json::unique_keys(body).map_err(|_| Code::NotJson)?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope {
        data: String,
    }
    let env: Envelope = serde_json::from_slice(body).map_err(|_| Code::MissingItem)?;
    let inner = super::b64::decode(&env.data).ok_or(Code::Base64)?;
    crate::json::unique_keys(&inner).map_err(|_| Code::NotJson)?;
    let v: Value = serde_json::from_slice(&inner).map_err(|_| Code::NotJson)?;
    let field = |k: &str| v.get(k).and_then(Value::as_str);
    match (field("type"), field("version"), field("cmd")) {
        (Some(TYPE), Some(VERSION), Some(c)) if c == cmd => {}
        (Some(TYPE), Some(VERSION), Some(_)) => return Err(Code::Cmd),
        (Some(TYPE), Some(_), _) => return Err(Code::Version),
        (Some(_), _, _) => return Err(Code::Type),
        _ => return Err(Code::MissingItem),
    }
    let m: T = serde_json::from_value(v).map_err(|_| Code::MissingItem)?;
    Ok(m)
}

/// Messages that carry the common header.
pub trait Header {}
impl Header for M310 {}
impl Header for M400 {}
impl Header for M900 {}

/// The SP's answer: `{"result", "data"}`, `data` the base64url of `msg`.
pub fn answer<T: Serialize>(result: bool, msg: Option<&T>) -> Vec<u8> {
    let data = msg
        .and_then(|m| serde_json::to_vec(m).ok())
        .map(|b| super::b64::encode(&b));
    let body = match data {
        Some(d) => serde_json::json!({"result": result, "data": d}),
        None => serde_json::json!({"result": result}),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// What a wallet posts: `{"data": base64url(msg)}` (the simulator's wallet).
pub fn envelope<T: Serialize>(msg: &T) -> Vec<u8> {
    let data = serde_json::to_vec(msg)
        .map(|b| super::b64::encode(&b))
        .unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({"data": data})).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m310() -> M310 {
        M310 {
            kind: TYPE.into(),
            version: VERSION.into(),
            cmd: "310".into(),
            request: "profile".into(),
            trxcode: "t1".into(),
            profile: None,
        }
    }

    #[test]
    fn a_wallet_call_reads_back_and_each_flaw_has_its_code() {
        let body = envelope(&m310());
        assert_eq!(read::<M310>(&body, "310").unwrap(), m310());
        let wrap = |v: serde_json::Value| {
            serde_json::to_vec(
                &serde_json::json!({"data": super::super::b64::encode(v.to_string().as_bytes())}),
            )
            .unwrap()
        };
        let base = serde_json::to_value(m310()).unwrap();
        let with = |k: &str, v: serde_json::Value| {
            let mut b = base.clone();
            b[k] = v;
            wrap(b)
        };
        for (body, code) in [
            (b"not json".to_vec(), Code::NotJson),
            (br#"{"data":"a","data":"b"}"#.to_vec(), Code::NotJson),
            (br#"{"dat":"x"}"#.to_vec(), Code::MissingItem),
            (br#"{"data":"+/+/"}"#.to_vec(), Code::Base64),
            (with("type", "other".into()), Code::Type),
            (with("version", "2.0.0".into()), Code::Version),
            (with("cmd", "400".into()), Code::Cmd),
            (with("extra", "x".into()), Code::MissingItem),
            (
                wrap(serde_json::json!({"type": "mip", "version": "1.0.0", "cmd": "310"})),
                Code::MissingItem,
            ),
            (vec![b' '; MAX_BODY + 1], Code::InvalidData),
        ] {
            assert_eq!(
                read::<M310>(&body, "310").err(),
                Some(code),
                "{}",
                String::from_utf8_lossy(&body[..body.len().min(60)])
            );
        }
    }

    #[test]
    fn errcodes_are_numbers_or_digit_strings_and_map_to_an_end() {
        let m: M900 = serde_json::from_str(r#"{"type":"mip","version":"1.0.0","cmd":"900","trxcode":"t","errcode":"20901","errmsg":"x"}"#).unwrap();
        assert_eq!(wallet_end(m.errcode), WalletEnd::Rejected);
        assert!(serde_json::from_str::<M900>(
            r#"{"type":"mip","version":"1.0.0","cmd":"900","errcode":"2x","errmsg":"x"}"#
        )
        .is_err());
        assert_eq!(wallet_end(90001), WalletEnd::Failed);
        assert_eq!(wallet_end(20202), WalletEnd::Expired);
        let a = answer(false, Some(&M900::of(Some("t"), Code::Nonce)));
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["result"], false);
        let inner = super::super::b64::decode(v["data"].as_str().unwrap()).unwrap();
        let m: M900 = serde_json::from_slice(&inner).unwrap();
        assert_eq!((m.errcode, m.cmd.as_str()), (10111, "900"));
    }
}
