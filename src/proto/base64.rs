//! Base64 (RFC 4648): the url-safe alphabet without padding for JOSE (RFC 7515 §2), and the
//! standard alphabet with padding for HTTP Basic, PEM bodies and certificate pins.
//!
//! Written out here rather than taken from a crate: it is a few lines, and every byte counts in
//! the WebAssembly module the page downloads.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Base64url without padding (RFC 4648 §5, RFC 7515 §2).
pub fn url_encode(bytes: &[u8]) -> String {
    encode(bytes, URL_SAFE, false)
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn encode_standard(bytes: &[u8]) -> String {
    encode(bytes, STANDARD, true)
}

/// Why a text is not base64.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Base64Error(pub String);

fn decode(text: &str, url_safe: bool) -> Result<Vec<u8>, Base64Error> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' if url_safe => 62,
            b'_' if url_safe => 63,
            b'+' if !url_safe => 62,
            b'/' if !url_safe => 63,
            _ => return None,
        } as u32)
    };
    let body = text.trim_end_matches('=');
    if !url_safe && text.len() - body.len() > 2 {
        return Err(Base64Error("too much padding".into()));
    }
    if body.len() % 4 == 1 {
        return Err(Base64Error("the length is not that of base64".into()));
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = value(c).ok_or_else(|| Base64Error(format!("{:?} is not a base64{} character", c as char, if url_safe { "url" } else { "" })))?;
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        // Bits beyond the last full byte must be zero (RFC 4648 §3.5): one text, one value.
        let spare = match keep {
            1 => n & 0xFFFF,
            2 => n & 0xFF,
            _ => 0,
        };
        if spare != 0 {
            return Err(Base64Error("non-canonical base64 (unused bits are set)".into()));
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(out)
}

/// Decodes base64url without padding (trailing `=` tolerated).
pub fn url_decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    decode(text, true)
}

/// Decodes standard base64 (padding optional), ignoring ASCII whitespace (PEM line breaks).
pub fn decode_standard(text: &str) -> Result<Vec<u8>, Base64Error> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    decode(&compact, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10.
        for (plain, b64) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(encode_standard(plain.as_bytes()), b64);
            assert_eq!(decode_standard(b64).unwrap(), plain.as_bytes());
            assert_eq!(url_encode(plain.as_bytes()), b64.trim_end_matches('='));
            assert_eq!(url_decode(b64.trim_end_matches('=')).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn url_safe_alphabet_and_errors() {
        assert_eq!(url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(url_decode("+/8").is_err());
        assert!(url_decode("abcde").is_err());
        assert!(url_decode("Zh").is_err(), "unused bits set");
        assert_eq!(decode_standard("Zm9v\r\nYmFy\n").unwrap(), b"foobar");
    }
}
