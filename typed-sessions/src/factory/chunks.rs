//! The chunking fallback of cookie factories ([`chunks`](crate::Builder::chunks)): a
//! sealed value too long for one cookie is split over the cookies `name`, `name.1`, …,
//! `name.{n-1}`, each value `{generation}.{index}.{count}.{piece}`.
//!
//! The generation names the write: 48 random bits, in base64url, drawn for each save that
//! chunks. A load takes the chunks only when each carries the first one's generation, its
//! own index and the same count; then the codec checks its signature or tag over the
//! reassembled value, which pieces of another write, or pieces cut or changed under a
//! copied generation, do not pass. (A hash of the value as the generation would check
//! nothing the signature does not, for two more passes over the whole value per request.)
//! Chunks of two writes (two tabs saving at once, a chunk replayed from an older,
//! longer session) therefore never combine: the request gets a fresh session with a logged
//! reason ([`Rejection::Chunks`]). Every save of a chunking factory expires the chunk names
//! it does not write, up to the maximum, so no stale chunk survives a session that shrank.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Rejection, SessionError};

/// The most cookies a session may be chunked into: 9, so that an index and a count are
/// one digit each.
pub const MAX_CHUNKS: usize = 9;

/// The length of a generation: 6 bytes in base64url.
const GENERATION_LEN: usize = 8;

/// The length of a chunk's header, `{generation}.{index}.{count}.`.
pub(crate) const HEADER_LEN: usize = GENERATION_LEN + 5;

/// The cookie name of chunk `index` of cookie `name`.
pub(crate) fn name(name: &str, index: usize) -> Cow<'_, str> {
    if index == 0 {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("{name}.{index}"))
    }
}

/// A new write's generation. An error only when the operating system's random source
/// fails.
pub(crate) fn generation() -> Result<String, SessionError> {
    let mut bytes = [0u8; 6];
    crate::random::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The value of chunk `index` of `count` holding `piece`.
pub(crate) fn value(generation: &str, index: usize, count: usize, piece: &str) -> String {
    format!("{generation}.{index}.{count}.{piece}")
}

/// A chunk's parts: generation, index, count, piece. `None` for a value that is not a
/// chunk (a plain sealed value, which never holds a `.` followed by this pattern).
fn parse(value: &str) -> Option<(&str, usize, usize, &str)> {
    let bytes = value.as_bytes();
    if bytes.len() < HEADER_LEN
        || bytes[GENERATION_LEN] != b'.'
        || bytes[GENERATION_LEN + 2] != b'.'
        || bytes[GENERATION_LEN + 4] != b'.'
    {
        return None;
    }
    let digit = |at: usize| {
        let byte = bytes[at];
        byte.is_ascii_digit().then(|| usize::from(byte - b'0'))
    };
    let index = digit(GENERATION_LEN + 1)?;
    let count = digit(GENERATION_LEN + 3)?;
    Some((
        value.get(..GENERATION_LEN)?,
        index,
        count,
        value.get(HEADER_LEN..)?,
    ))
}

/// The sealed value a request's cookies hold, given the session cookie's value `first` and
/// `find`, which gives the value of a cookie by name: `first` itself when it is not a
/// chunk; the reassembled value when it is chunk 0 of at most `max` and every other chunk
/// of its write is there; [`Rejection::Chunks`] otherwise.
pub(crate) fn reassemble<'v>(
    first: &'v str,
    name: &str,
    max: usize,
    find: impl Fn(&str) -> Option<Cow<'v, str>>,
) -> Result<Cow<'v, str>, Rejection> {
    let Some((generation, index, count, piece)) = parse(first) else {
        return Ok(Cow::Borrowed(first));
    };
    if index != 0 || count < 2 || count > max {
        return Err(Rejection::Chunks);
    }
    let mut joined = String::with_capacity(first.len() * count);
    joined.push_str(piece);
    for expected in 1..count {
        let chunk = find(&self::name(name, expected)).ok_or(Rejection::Chunks)?;
        match parse(&chunk) {
            Some((chunk_generation, index, chunk_count, piece))
                if chunk_generation == generation && index == expected && chunk_count == count =>
            {
                joined.push_str(piece);
            }
            _ => return Err(Rejection::Chunks),
        }
    }
    // Pieces cut elsewhere, or changed under a copied generation, make a value whose
    // signature or tag the codec refuses next.
    Ok(Cow::Owned(joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies<'a>(pairs: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<Cow<'a, str>> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| Cow::Borrowed(v.as_str()))
        }
    }

    #[test]
    fn reassembles_one_write_and_refuses_mixtures() {
        let whole = "AAAABBBBCCCC";
        let g = generation().unwrap();
        let jar = [
            ("s.1", value(&g, 1, 3, "BBBB")),
            ("s.2", value(&g, 2, 3, "CCCC")),
        ];
        let first = value(&g, 0, 3, "AAAA");
        assert_eq!(reassemble(&first, "s", 3, cookies(&jar)).unwrap(), whole);
        // A plain value is itself.
        assert_eq!(reassemble("plain", "s", 3, cookies(&jar)).unwrap(), "plain");
        // More chunks than the factory allows, a missing chunk, another write's chunk.
        assert_eq!(
            reassemble(&first, "s", 2, cookies(&jar)),
            Err(Rejection::Chunks)
        );
        assert_eq!(
            reassemble(&first, "s", 3, cookies(&jar[..1])),
            Err(Rejection::Chunks)
        );
        let other = generation().unwrap();
        assert_ne!(g, other);
        let mixed = [jar[0].clone(), ("s.2", value(&other, 2, 3, "CCCC"))];
        assert_eq!(
            reassemble(&first, "s", 3, cookies(&mixed)),
            Err(Rejection::Chunks)
        );
        // Chunk 1 offered as the first cookie.
        assert_eq!(
            reassemble(&jar[0].1, "s", 3, cookies(&jar)),
            Err(Rejection::Chunks)
        );
    }
}
