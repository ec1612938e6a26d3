//! Login records stored compact: the JSON record, LZ4-compressed against a
//! fixed dictionary of typical records.
//!
//! Why: during the year-end rush a hundred thousand logins wait at once, each
//! a record in Redis, and most of a record's JSON is the same in every login
//! (field names, the front's shape, the provider list, the site's policy).
//! Compressed against a dictionary that already holds those bytes, a record
//! keeps little but its own ids, nonces and the citizen's fields, and costs a
//! few microseconds to write and read (`lz4_flex`, no unsafe code). The JSON
//! inside is the record's usual format, so what it means and how formats
//! follow each other does not change.
//!
//! A replica of an older version cannot read a compact record: the operator
//! turns it on (`[store] compact_logins = true`) once every replica reads it.
//! The in-memory store, one process, always uses it. The dictionary is part
//! of the format: changing it makes a new envelope version ([`MAGIC`]), and a
//! test pins its digest.

use super::TxnError;

/// Starts every compact record; JSON never starts with a zero byte. The last
/// byte is the envelope's version (which dictionary).
pub const MAGIC: [u8; 4] = [0, b'M', b'J', 1];

/// Typical records of every front, as this version writes them (format 1)
/// and the next will (format 2), with their ids blanked.
pub(super) const DICTIONARY: &[u8] = include_bytes!("records.dict");

/// A record larger than this is not sealed (it is stored as plain JSON) and
/// a sealed one claiming more is not read.
pub const MAX_RECORD: usize = 1 << 20;

/// `json` as a compact record: [`MAGIC`], its length (u32, little-endian),
/// the LZ4 block.
pub fn seal(json: &[u8]) -> Result<Vec<u8>, TxnError> {
    let len = u32::try_from(json.len())
        .ok()
        .filter(|_| json.len() <= MAX_RECORD)
        .ok_or_else(|| TxnError::Corrupt("login record too large to store".into()))?;
    let block = lz4_flex::block::compress_with_dict(json, DICTIONARY);
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + block.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&block);
    Ok(out)
}

/// The JSON inside `raw` if it is a compact record, `None` if it is not one
/// (plain JSON); an unreadable one is corrupt.
pub fn open(raw: &[u8]) -> Option<Result<Vec<u8>, TxnError>> {
    let rest = raw.strip_prefix(&MAGIC[..3])?;
    Some(match rest.split_first() {
        Some((&1, rest)) => unseal(rest),
        Some((v, _)) => Err(TxnError::Corrupt(format!(
            "compact login record of envelope version {v}, newer than this replica's 1"
        ))),
        None => Err(TxnError::Corrupt("truncated compact login record".into())),
    })
}

fn unseal(rest: &[u8]) -> Result<Vec<u8>, TxnError> {
    let corrupt = |why: &str| TxnError::Corrupt(format!("compact login record: {why}"));
    let (len, block) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("truncated"))?;
    let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| corrupt("too large"))?;
    if len > MAX_RECORD {
        return Err(corrupt("too large"));
    }
    let json = lz4_flex::block::decompress_with_dict(block, len, DICTIONARY)
        .map_err(|e| corrupt(&e.to_string()))?;
    if json.len() != len {
        return Err(corrupt("length differs"));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dictionary is part of the stored format: replicas of different
    /// versions must hold the same bytes under one [`MAGIC`].
    #[test]
    fn the_dictionary_is_the_one_of_envelope_version_1() {
        let digest = hex::encode(openssl::sha::sha256(DICTIONARY));
        assert_eq!(digest, PINNED, "a changed dictionary needs a new MAGIC");
    }

    const PINNED: &str = "600175dd568155f22f18f54885fb8ad63cc8889875dead3944cfe761664c66ba";

    #[test]
    fn records_round_trip_and_bad_ones_are_corrupt() {
        let json = br#"{"id":"abc","rev":1,"state":"pending"}"#;
        let sealed = seal(json).unwrap();
        assert!(sealed.starts_with(&MAGIC));
        assert_eq!(open(&sealed).unwrap().unwrap(), json);
        assert!(open(json).is_none(), "plain JSON is not compact");

        // Truncated, a wrong length, a newer envelope, a bomb's length: each
        // is corrupt, none panics or allocates what it claims.
        for bad in [
            sealed[..6].to_vec(),
            sealed[..sealed.len() - 3].to_vec(),
            [&sealed[..4], &100u32.to_le_bytes()[..], &sealed[8..]].concat(),
            [&MAGIC[..3], &[2u8][..], &sealed[4..]].concat(),
            [&sealed[..4], &u32::MAX.to_le_bytes()[..], &sealed[8..]].concat(),
            MAGIC[..3].to_vec(),
        ] {
            assert!(
                matches!(open(&bad), Some(Err(TxnError::Corrupt(_)))),
                "{bad:?}"
            );
        }
    }
}
