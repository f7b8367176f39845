//! Reading an MP4 file's layout back (ISO/IEC 14496-12 §4.2: a box is a 32-bit size —
//! 1 for a 64-bit size after the type, 0 for "to the end of the file" — and a
//! four-character type): the top-level boxes that lie wholly inside a byte range, and
//! the prefix of a fragmented file that ends with a complete fragment. Sans-IO: bytes
//! come from a `read_at(offset, buf)` the caller supplies (a file, memory).

/// One box: where it starts, its size (header included), its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxAt {
    /// Offset of its header.
    pub offset: u64,
    /// Its size, header included.
    pub size: u64,
    /// Its four-character type.
    pub kind: [u8; 4],
}

/// The size and type of a box whose header starts `header` (up to 16 bytes read);
/// `None` for a box that runs to the end of the file (size 0), a 64-bit size that was
/// not read, or a size below the header's own.
pub fn box_header(header: &[u8]) -> Option<(u64, [u8; 4])> {
    let small = u32::from_be_bytes(header.get(..4)?.try_into().ok()?);
    let kind: [u8; 4] = header.get(4..8)?.try_into().ok()?;
    let size = match small {
        0 => return None,
        1 => u64::from_be_bytes(header.get(8..16)?.try_into().ok()?),
        s => u64::from(s),
    };
    (size >= if small == 1 { 16 } else { 8 }).then_some((size, kind))
}

/// The boxes that lie wholly inside `from..to`, in order, up to the first that does not.
/// `read_at(offset, buf)` fills up to 16 bytes of `buf` from `offset` and says how many.
pub fn boxes<E>(
    from: u64,
    to: u64,
    mut read_at: impl FnMut(u64, &mut [u8; 16]) -> Result<usize, E>,
) -> Result<Vec<BoxAt>, E> {
    let mut found = Vec::new();
    let mut at = from;
    let mut header = [0u8; 16];
    while at + 8 <= to {
        let n = read_at(at, &mut header)?;
        let Some((size, kind)) = header.get(..n.min(16)).and_then(box_header) else {
            break;
        };
        match at.checked_add(size) {
            Some(end) if end <= to => {
                found.push(BoxAt {
                    offset: at,
                    size,
                    kind,
                });
                at = end;
            }
            _ => break,
        }
    }
    Ok(found)
}

/// Length of the prefix of a fragmented file that ends with its last complete fragment
/// (an `mdat` after the `moov`), from its top-level boxes; 0 when there is none.
pub fn complete_prefix(top: &[BoxAt]) -> u64 {
    let mut moov = false;
    let mut good = 0;
    for b in top {
        match &b.kind {
            b"moov" => moov = true,
            b"mdat" if moov => good = b.offset + b.size,
            _ => {}
        }
    }
    good
}

/// Length of the prefix of an HLS fMP4 media segment (fragments only) that ends with its
/// last complete fragment (a `moof` followed by its `mdat`); 0 when there is none.
pub fn segment_complete_prefix(top: &[BoxAt]) -> u64 {
    let mut good = 0;
    for pair in top.windows(2) {
        if let [moof, mdat] = pair {
            if &moof.kind == b"moof" && &mdat.kind == b"mdat" {
                good = mdat.offset + mdat.size;
            }
        }
    }
    good
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: usize) -> Vec<u8> {
        let mut b = ((body + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.resize(body + 8, 0);
        b
    }

    fn read(file: &[u8]) -> impl FnMut(u64, &mut [u8; 16]) -> Result<usize, ()> + '_ {
        move |at, buf| {
            let rest = file.get(at as usize..).unwrap_or_default();
            let n = rest.len().min(16);
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
    }

    #[test]
    fn headers() {
        assert_eq!(box_header(b"\0\0\0\x10moov"), Some((16, *b"moov")));
        let mut large = vec![0, 0, 0, 1];
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(1u64 << 33).to_be_bytes());
        assert_eq!(box_header(&large), Some((1 << 33, *b"mdat")));
        assert_eq!(box_header(&large[..12]), None, "64-bit size not read");
        assert_eq!(box_header(b"\0\0\0\0mdat"), None, "to the end of the file");
        assert_eq!(
            box_header(b"\0\0\0\x07free"),
            None,
            "smaller than its header"
        );
        assert_eq!(box_header(b"\0\0\0"), None);
    }

    /// A fragmented file cut at every length: the walk stops at the cut, and the
    /// complete prefix ends with the last whole fragment.
    #[test]
    fn walks_and_prefixes_at_every_cut() {
        let parts = [
            mp4_box(b"ftyp", 16),
            mp4_box(b"free", 40),
            mp4_box(b"moov", 100),
            mp4_box(b"moof", 30),
            mp4_box(b"mdat", 500),
            mp4_box(b"moof", 30),
            mp4_box(b"mdat", 400),
        ];
        let file: Vec<u8> = parts.concat();
        let ends: Vec<u64> = parts
            .iter()
            .scan(0u64, |at, p| {
                *at += p.len() as u64;
                Some(*at)
            })
            .collect();
        for cut in 0..=file.len() {
            let top = boxes(0, cut as u64, read(&file[..cut])).unwrap();
            let whole = ends.iter().filter(|&&e| e <= cut as u64).count();
            assert_eq!(top.len(), whole, "cut at {cut}");
            let want = match whole {
                0..=4 => 0,
                5 | 6 => ends[4],
                _ => ends[6],
            };
            assert_eq!(complete_prefix(&top), want, "cut at {cut}");
        }
        let inside = boxes(ends[1] + 8, ends[2], read(&file)).unwrap();
        assert!(inside.is_empty(), "the moov's body holds no boxes here");
    }
}
