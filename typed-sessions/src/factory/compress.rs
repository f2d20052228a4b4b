//! The compression fallback of cookie factories (feature `compression`): a session payload
//! that does not fit its cookie is deflated (raw DEFLATE, RFC 1951, by `flate2` on its pure
//! Rust back end) behind a marker byte, and inflated on load only after the codec has
//! checked the signature or tag, never past [`MAX_INFLATED_LEN`].

use std::io::{Read, Write};

use crate::error::Rejection;

/// The first byte of a compressed payload. A JSON payload starts with `[` and a pickle with
/// `0x80`, so nothing else a factory writes starts with it, and a factory without
/// compression refuses such a payload as not JSON.
pub(crate) const MARK: u8 = 0x01;

/// The most bytes a compressed cookie may inflate to: 64 KiB, sixteen times a cookie, far
/// more than any session that deflates into 4 KiB, and a bound on what a forged or
/// replayed payload can make the server allocate. Past it the cookie is refused
/// ([`Rejection::Decompression`]) and the request gets a fresh session.
pub const MAX_INFLATED_LEN: usize = 64 * 1024;

/// `payload` deflated behind [`MARK`].
pub(crate) fn deflate(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() / 2 + 16);
    out.push(MARK);
    let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::default());
    encoder
        .write_all(payload)
        .expect("writing into a Vec does not fail");
    encoder.finish().expect("writing into a Vec does not fail")
}

/// The payload a marked, deflated payload holds (the bytes after [`MARK`]); an error for
/// anything that is not DEFLATE or inflates past `cap` bytes, reading at most `cap + 1`.
pub(crate) fn inflate(deflated: &[u8], cap: usize) -> Result<Vec<u8>, Rejection> {
    let mut out = Vec::with_capacity(deflated.len().saturating_mul(4).min(cap));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| Rejection::Decompression)?;
    if out.len() > cap {
        return Err(Rejection::Decompression);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bombs_and_garbage() {
        let payload =
            br#"[1, 1, {"cart": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]"#;
        let deflated = deflate(payload);
        assert_eq!(deflated[0], MARK);
        assert!(deflated.len() < payload.len());
        assert_eq!(inflate(&deflated[1..], 1024).unwrap(), payload);
        // Exactly at the cap inflates; one byte under it is refused.
        assert_eq!(inflate(&deflated[1..], payload.len()).unwrap(), payload);
        assert_eq!(
            inflate(&deflated[1..], payload.len() - 1),
            Err(Rejection::Decompression)
        );
        // A megabyte of zeros deflates to about a kilobyte: refused at the cap.
        let bomb = deflate(&vec![0; 1 << 20]);
        assert!(bomb.len() < 2048, "{}", bomb.len());
        assert_eq!(
            inflate(&bomb[1..], MAX_INFLATED_LEN),
            Err(Rejection::Decompression)
        );
        assert_eq!(
            inflate(b"\xff\xff not deflate", MAX_INFLATED_LEN),
            Err(Rejection::Decompression)
        );
    }
}
