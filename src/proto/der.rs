//! Just enough DER (X.690) to read and write the private-key containers the client module
//! meets: PKCS#8 `PrivateKeyInfo` (RFC 5958), SEC1 `ECPrivateKey` (RFC 5915), and to recognise
//! the key inside. Definite lengths only, minimal encodings only; anything else is refused.
//!
//! The simulator and the tools use the `der` crate for certificates; the client module, which
//! the page downloads first, carries only this.

/// `SEQUENCE`.
pub const SEQUENCE: u8 = 0x30;
/// `INTEGER`.
pub const INTEGER: u8 = 0x02;
/// `BIT STRING`.
pub const BIT_STRING: u8 = 0x03;
/// `OCTET STRING`.
pub const OCTET_STRING: u8 = 0x04;
/// `NULL`.
pub const NULL: u8 = 0x05;
/// `OBJECT IDENTIFIER`.
pub const OID: u8 = 0x06;

/// Why bytes are not the DER expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not valid DER: {0}")]
pub struct DerError(pub String);

/// One element: its tag and its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The contents.
    pub value: &'a [u8],
}

/// Reads the elements of a sequence one after the other.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// True when every element has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element.
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let bad = |why: &str| DerError(why.to_owned());
        let (&tag, rest) = self.rest.split_first().ok_or_else(|| bad("an element was expected"))?;
        if tag & 0x1f == 0x1f {
            return Err(bad("high tag numbers are not used here"));
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(|| bad("a length was expected"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(bad("an indefinite or oversized length"));
            }
            let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 || rest[0] == 0 {
                return Err(bad("a length that is not minimally encoded"));
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(bad("an element longer than the data"));
        }
        let (value, after) = rest.split_at(len);
        self.rest = after;
        Ok(Tlv { tag, value })
    }

    /// The next element, which must have `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], DerError> {
        let t = self.read()?;
        if t.tag != tag {
            return Err(DerError(format!("{what} was expected (tag {tag:#04x}, found {:#04x})", t.tag)));
        }
        Ok(t.value)
    }
}

/// The single element that makes up `bytes`, which must have `tag` (nothing may follow it).
pub fn single(bytes: &[u8], tag: u8, what: &str) -> Result<Vec<u8>, DerError> {
    let mut r = Reader::new(bytes);
    let v = r.expect(tag, what)?;
    if !r.is_empty() {
        return Err(DerError(format!("data after the {what}")));
    }
    Ok(v.to_vec())
}

/// The dotted form of an OID's contents (`1.2.840.10045.2.1`).
pub fn oid_string(content: &[u8]) -> Result<String, DerError> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, &b) in content.iter().enumerate() {
        if acc == 0 && b == 0x80 {
            return Err(DerError("an OID arc that is not minimally encoded".into()));
        }
        acc = acc.checked_mul(128).ok_or_else(|| DerError("an OID arc too large".into()))? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        } else if i == content.len() - 1 {
            return Err(DerError("a truncated OID".into()));
        }
    }
    if arcs.is_empty() {
        return Err(DerError("an empty OID".into()));
    }
    Ok(arcs.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

/// One element: `tag`, the length, `content`.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_refuses_the_rest() {
        let inner = encode(INTEGER, &[1]);
        let long = encode(OCTET_STRING, &[7u8; 300]);
        let seq = encode(SEQUENCE, &[inner.clone(), long.clone()].concat());
        let body = single(&seq, SEQUENCE, "a sequence").unwrap();
        let mut r = Reader::new(&body);
        assert_eq!(r.expect(INTEGER, "an integer").unwrap(), [1]);
        assert_eq!(r.expect(OCTET_STRING, "octets").unwrap().len(), 300);
        assert!(r.is_empty());
        assert!(single(&[0x30, 0x80, 0, 0], SEQUENCE, "x").is_err(), "indefinite length");
        assert!(single(&[0x30, 0x81, 0x05, 1, 2, 3, 4, 5], SEQUENCE, "x").is_err(), "non-minimal length");
        assert!(single(&[0x30, 0x05, 1], SEQUENCE, "x").is_err(), "short");
        assert!(single(&[0x30, 0x00, 0x00], SEQUENCE, "x").is_err(), "trailing data");
    }

    #[test]
    fn oids() {
        // 1.2.840.10045.2.1 (id-ecPublicKey), 1.3.132.0.34 (secp384r1).
        assert_eq!(oid_string(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]).unwrap(), "1.2.840.10045.2.1");
        assert_eq!(oid_string(&[0x2b, 0x81, 0x04, 0x00, 0x22]).unwrap(), "1.3.132.0.34");
        assert!(oid_string(&[0x2a, 0x86]).is_err());
    }
}
