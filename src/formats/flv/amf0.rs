//! AMF0 (Adobe Action Message Format 0 specification, §2): the values of FLV script tags
//! (`onMetaData`) and RTMP commands. Decoding is bounded: nesting by [`MAX_DEPTH`],
//! element counts by the bytes present (never pre-allocated from the wire).

/// Deepest nesting accepted (metadata is 2 levels deep in practice).
pub const MAX_DEPTH: usize = 16;
/// Most values decoded from one buffer: a keyframe index of a day of 1-second GOPs has
/// 2 × 86,400; this bounds memory to a few MiB whatever the input.
pub const MAX_VALUES: usize = 262_144;

/// An AMF0 value.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0 {
    /// 0x00.
    Number(f64),
    /// 0x01.
    Boolean(bool),
    /// 0x02 / 0x0C.
    String(String),
    /// 0x03: ordered properties.
    Object(Vec<(String, Amf0)>),
    /// 0x05.
    Null,
    /// 0x06.
    Undefined,
    /// 0x08: ordered properties.
    EcmaArray(Vec<(String, Amf0)>),
    /// 0x0A.
    StrictArray(Vec<Amf0>),
    /// 0x0B: ms since the epoch and a time-zone field.
    Date(f64, i16),
}

/// Why bytes are not AMF0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Amf0Error {
    /// Input ended inside a value.
    #[error("AMF0 value truncated at byte {0}")]
    Truncated(usize),
    /// A type marker this decoder does not read.
    #[error("AMF0 type marker {marker:#04x} at byte {offset} is not supported")]
    Unsupported {
        /// The marker.
        marker: u8,
        /// Where.
        offset: usize,
    },
    /// More than [`MAX_VALUES`] values.
    #[error("AMF0 data holds more than {MAX_VALUES} values (at byte {0})")]
    TooMany(usize),
    /// Nesting beyond [`MAX_DEPTH`].
    #[error("AMF0 nesting deeper than {MAX_DEPTH} at byte {0}")]
    TooDeep(usize),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    values: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Amf0Error> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Amf0Error::Truncated(self.pos))?;
        let slice = self
            .data
            .get(self.pos..end)
            .ok_or(Amf0Error::Truncated(self.pos))?;
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, Amf0Error> {
        self.take(1).map(|b| b.first().copied().unwrap_or(0))
    }

    fn u16(&mut self) -> Result<u16, Amf0Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }

    fn u32(&mut self) -> Result<u32, Amf0Error> {
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| Amf0Error::Truncated(self.pos))?;
        Ok(u32::from_be_bytes(b))
    }

    fn f64(&mut self) -> Result<f64, Amf0Error> {
        let b: [u8; 8] = self
            .take(8)?
            .try_into()
            .map_err(|_| Amf0Error::Truncated(self.pos))?;
        Ok(f64::from_be_bytes(b))
    }

    fn string(&mut self, long: bool) -> Result<String, Amf0Error> {
        let len = if long {
            self.u32()? as usize
        } else {
            usize::from(self.u16()?)
        };
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0)>, Amf0Error> {
        let mut props = Vec::new();
        loop {
            let key = self.string(false)?;
            if key.is_empty() && self.data.get(self.pos) == Some(&0x09) {
                self.pos += 1;
                return Ok(props);
            }
            props.push((key, self.value(depth + 1)?));
        }
    }

    fn value(&mut self, depth: usize) -> Result<Amf0, Amf0Error> {
        if depth > MAX_DEPTH {
            return Err(Amf0Error::TooDeep(self.pos));
        }
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(Amf0Error::TooMany(self.pos));
        }
        let offset = self.pos;
        Ok(match self.u8()? {
            0x00 => Amf0::Number(self.f64()?),
            0x01 => Amf0::Boolean(self.u8()? != 0),
            0x02 => Amf0::String(self.string(false)?),
            0x03 => Amf0::Object(self.properties(depth)?),
            0x05 => Amf0::Null,
            0x06 => Amf0::Undefined,
            0x08 => {
                let _count = self.u32()?;
                Amf0::EcmaArray(self.properties(depth)?)
            }
            0x0A => {
                let count = self.u32()? as usize;
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Amf0::StrictArray(items)
            }
            0x0B => {
                let ms = self.f64()?;
                let tz = self.u16()? as i16;
                Amf0::Date(ms, tz)
            }
            0x0C => Amf0::String(self.string(true)?),
            marker => return Err(Amf0Error::Unsupported { marker, offset }),
        })
    }
}

/// Decodes every value in `data` (an FLV script tag holds a name and a value).
pub fn decode_all(data: &[u8]) -> Result<Vec<Amf0>, Amf0Error> {
    let mut r = Reader {
        data,
        pos: 0,
        values: 0,
    };
    let mut out = Vec::new();
    while r.pos < data.len() {
        out.push(r.value(0)?);
    }
    Ok(out)
}

/// Key of the padding property; one byte longer ([`PADDING_KEY_ODD`]) for an odd count.
pub const PADDING_KEY: &str = "liverecPadding";
/// See [`PADDING_KEY`].
pub const PADDING_KEY_ODD: &str = "liverecPadding1";

/// Adds a padding property to the ECMA array that starts at `array_at` and ends `out`:
/// [`PADDING_KEY`] = a strict array of `false`s (two bytes each), `bytes` bytes beyond
/// the property's fixed 21 (key, marker, count) — an odd count takes the one-byte-longer
/// [`PADDING_KEY_ODD`], so any count but 1 is exact. Booleans, not one-byte nulls: flv.js
/// and mpegts.js, the web's FLV players, stop at an AMF null. The bytes are those of
/// encoding the array with that property. Returns false, leaving `out` alone, when no
/// ECMA array starts there or ends `out`, or for a count of 1.
pub fn append_padding(out: &mut Vec<u8>, array_at: usize, bytes: u32) -> bool {
    let Some((&0x08, rest)) = out.get(array_at..).and_then(<[u8]>::split_first) else {
        return false;
    };
    let Some(count) = rest.first_chunk::<4>().map(|c| u32::from_be_bytes(*c)) else {
        return false;
    };
    if !out.ends_with(&[0, 0, 0x09]) || out.len() < array_at + 8 || bytes == 1 {
        return false;
    }
    let (key, falses) = if bytes % 2 == 0 {
        (PADDING_KEY, bytes / 2)
    } else {
        (PADDING_KEY_ODD, (bytes - 1) / 2)
    };
    let count = count.saturating_add(1).to_be_bytes();
    if let Some(at) = out.get_mut(array_at + 1..array_at + 5) {
        at.copy_from_slice(&count);
    }
    out.truncate(out.len() - 3);
    put_string(out, key);
    out.push(0x0A);
    out.extend_from_slice(&falses.to_be_bytes());
    for _ in 0..falses {
        out.extend_from_slice(&[0x01, 0x00]);
    }
    out.extend_from_slice(&[0, 0, 0x09]);
    true
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let len = bytes.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(bytes.get(..len).unwrap_or_default());
}

/// Encodes a value.
pub fn encode(out: &mut Vec<u8>, value: &Amf0) {
    match value {
        Amf0::Number(n) => {
            out.push(0x00);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0::Boolean(b) => out.extend_from_slice(&[0x01, u8::from(*b)]),
        Amf0::String(s) if s.len() > u16::MAX as usize => {
            out.push(0x0C);
            out.extend_from_slice(&(s.len().min(u32::MAX as usize) as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Amf0::String(s) => {
            out.push(0x02);
            put_string(out, s);
        }
        Amf0::Object(props) | Amf0::EcmaArray(props) => {
            if let Amf0::EcmaArray(_) = value {
                out.push(0x08);
                out.extend_from_slice(&(props.len() as u32).to_be_bytes());
            } else {
                out.push(0x03);
            }
            for (key, v) in props {
                put_string(out, key);
                encode(out, v);
            }
            out.extend_from_slice(&[0, 0, 0x09]);
        }
        Amf0::Null => out.push(0x05),
        Amf0::Undefined => out.push(0x06),
        Amf0::StrictArray(items) => {
            out.push(0x0A);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for v in items {
                encode(out, v);
            }
        }
        Amf0::Date(ms, tz) => {
            out.push(0x0B);
            out.extend_from_slice(&ms.to_be_bytes());
            out.extend_from_slice(&tz.to_be_bytes());
        }
    }
}

impl Amf0 {
    /// Property `name` of an object or ECMA array.
    pub fn get(&self, name: &str) -> Option<&Amf0> {
        match self {
            Amf0::Object(props) | Amf0::EcmaArray(props) => {
                props.iter().find(|(k, _)| k == name).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf0::Number(n) => Some(*n),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_the_encoding_of_the_padded_array() {
        let props = vec![
            ("duration".to_owned(), Amf0::Number(3.0)),
            ("keyframes".to_owned(), Amf0::Object(vec![])),
        ];
        for bytes in [0u32, 2, 3, 700, 701] {
            let mut fast = Vec::new();
            encode(&mut fast, &Amf0::String("onMetaData".into()));
            let at = fast.len();
            encode(&mut fast, &Amf0::EcmaArray(props.clone()));
            let unpadded = fast.len();
            assert!(append_padding(&mut fast, at, bytes));
            assert_eq!(fast.len(), unpadded + 21 + bytes as usize);
            let mut padded = props.clone();
            let key = if bytes % 2 == 0 {
                PADDING_KEY
            } else {
                PADDING_KEY_ODD
            };
            let pad = Amf0::StrictArray(vec![Amf0::Boolean(false); bytes as usize / 2]);
            padded.push((key.to_owned(), pad));
            let mut slow = Vec::new();
            encode(&mut slow, &Amf0::String("onMetaData".into()));
            encode(&mut slow, &Amf0::EcmaArray(padded));
            assert_eq!(fast, slow);
        }
        // Not an ECMA array there, or not at the end: nothing changes.
        let mut other = Vec::new();
        encode(&mut other, &Amf0::Number(1.0));
        let before = other.clone();
        assert!(!append_padding(&mut other, 0, 3));
        assert!(!append_padding(&mut other, 7, 3));
        assert_eq!(other, before);
    }

    #[test]
    fn round_trip_every_type() {
        let value = Amf0::EcmaArray(vec![
            ("duration".into(), Amf0::Number(12.5)),
            ("stereo".into(), Amf0::Boolean(true)),
            ("encoder".into(), Amf0::String("Lavf".into())),
            (
                "nested".into(),
                Amf0::Object(vec![
                    ("a".into(), Amf0::Null),
                    ("b".into(), Amf0::Undefined),
                ]),
            ),
            (
                "times".into(),
                Amf0::StrictArray(vec![Amf0::Number(0.0), Amf0::Number(2.0)]),
            ),
            ("when".into(), Amf0::Date(1.7e12, -480)),
            ("long".into(), Amf0::String("x".repeat(70_000))),
        ]);
        let mut bytes = Vec::new();
        encode(&mut bytes, &Amf0::String("onMetaData".into()));
        encode(&mut bytes, &value);
        let decoded = decode_all(&bytes).unwrap();
        assert_eq!(
            decoded,
            vec![Amf0::String("onMetaData".into()), value.clone()]
        );
        assert_eq!(value.get("duration").and_then(Amf0::as_f64), Some(12.5));
        for cut in 1..bytes.len().min(200) {
            let whole_first_value = cut == 13;
            assert_eq!(
                decode_all(&bytes[..cut]).is_err(),
                !whole_first_value,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn bounds() {
        let deep: Vec<u8> = std::iter::repeat_n([0x0A, 0, 0, 0, 1], 40)
            .flatten()
            .collect();
        assert!(matches!(decode_all(&deep), Err(Amf0Error::TooDeep(_))));
        let mut flood = vec![0x0A, 0xFF, 0xFF, 0xFF, 0xFF];
        flood.resize(MAX_VALUES + 10, 0x05);
        assert!(matches!(decode_all(&flood), Err(Amf0Error::TooMany(_))));
        let huge_count = [0x0A, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(matches!(
            decode_all(&huge_count),
            Err(Amf0Error::Truncated(_))
        ));
        assert!(matches!(
            decode_all(&[0x07, 0, 1]),
            Err(Amf0Error::Unsupported {
                marker: 0x07,
                offset: 0
            })
        ));
    }
}
