//! Attribute lists (RFC 8216 §4.2): `NAME=value,NAME="quoted, value",...`, and the
//! values of the tags that carry numbers (`decimal-integer`, BYTERANGE, START).

use super::decimal::{decode_signed_decimal, Micros};

/// One attribute: its name and value, quotes removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// `AttributeName` (`[A-Z0-9-]`).
    pub name: &'a str,
    /// The value without surrounding quotes.
    pub value: &'a str,
    /// Whether the value was a quoted-string.
    pub quoted: bool,
}

/// Splits an attribute list; `None` when it is malformed (missing `=`, unterminated
/// quote, bad name, text after a quoted value).
pub fn decode_attributes(text: &str) -> Option<Vec<Attribute<'_>>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let name = rest.get(..eq)?;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return None;
        }
        let after = rest.get(eq + 1..)?;
        let (value, quoted, tail) = if let Some(q) = after.strip_prefix('"') {
            let close = q.find('"')?;
            (q.get(..close)?, true, q.get(close + 1..)?)
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after.get(..end)?, false, after.get(end..)?)
        };
        out.push(Attribute {
            name,
            value,
            quoted,
        });
        rest = match tail.strip_prefix(',') {
            Some(next) if !next.is_empty() => next,
            Some(_) => return None,
            None if tail.is_empty() => tail,
            None => return None,
        };
    }
    Some(out)
}

/// The value of attribute `name`.
pub fn find<'a>(attributes: &[Attribute<'a>], name: &str) -> Option<Attribute<'a>> {
    attributes.iter().copied().find(|a| a.name == name)
}

/// RFC 8216 §4.2 `decimal-integer`: 1 to 20 digits, within `u64`.
pub fn decode_integer(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `n[@o]`.
pub(super) fn decode_byte_range(value: &str) -> Option<(u64, Option<u64>)> {
    match value.split_once('@') {
        Some((n, o)) => Some((decode_integer(n)?, Some(decode_integer(o)?))),
        None => Some((decode_integer(value)?, None)),
    }
}

/// `TIME-OFFSET=x[,PRECISE=YES|NO]`.
pub(super) fn decode_start(value: &str) -> Option<(Micros, bool)> {
    let attributes = decode_attributes(value)?;
    let offset = decode_signed_decimal(find(&attributes, "TIME-OFFSET")?.value)?;
    let precise = match find(&attributes, "PRECISE").map(|p| p.value) {
        None | Some("NO") => false,
        Some("YES") => true,
        Some(_) => return None,
    };
    Some((offset, precise))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        let a = decode_attributes(r#"METHOD=AES-128,URI="k.bin?a=1,b=2",IV=0x1F"#).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(
            find(&a, "URI").map(|x| (x.value, x.quoted)),
            Some(("k.bin?a=1,b=2", true))
        );
        assert_eq!(find(&a, "IV").map(|x| x.value), Some("0x1F"));
        assert_eq!(decode_attributes("").map(|v| v.len()), Some(0));
        for bad in [
            "URI",
            r#"URI="x"#,
            "uri=1",
            "A=1,",
            r#"A="x"y"#,
            "=1",
            "A=1,,B=2",
        ] {
            assert_eq!(decode_attributes(bad), None, "{bad:?}");
        }
    }
}
