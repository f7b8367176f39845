//! A bit reader over RBSP bytes (emulation-prevention bytes removed), with the
//! Exp-Golomb codes of H.264 §9.1 / H.265 §9.2.

/// Removes emulation-prevention bytes (`00 00 03` → `00 00`), H.264 §7.4.1.
pub fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads bits MSB first; every read fails cleanly past the end.
pub struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, bit: 0 }
    }

    /// One bit.
    pub fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.bit / 8)?;
        let v = (byte >> (7 - self.bit % 8)) & 1;
        self.bit += 1;
        Some(u32::from(v))
    }

    /// `n` bits (n ≤ 32).
    pub fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n.min(32)).try_fold(0u32, |acc, _| Some(acc << 1 | self.bit()?))
    }

    /// Skips `n` bits.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.bit = self.bit.checked_add(n)?;
        (self.bit <= self.data.len() * 8).then_some(())
    }

    /// `ue(v)`.
    pub fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    /// `se(v)`.
    pub fn se(&mut self) -> Option<i32> {
        let k = self.ue()?;
        let magnitude = k.div_ceil(2) as i32;
        Some(if k % 2 == 1 { magnitude } else { -magnitude })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_and_rbsp() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0, 1, 2, 3, 4
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000]);
        assert_eq!(
            (r.ue(), r.ue(), r.ue(), r.ue(), r.ue()),
            (Some(0), Some(1), Some(2), Some(3), Some(4))
        );
        let mut r = BitReader::new(&[0b0100_1100, 0b1000_0000]);
        assert_eq!((r.se(), r.se(), r.se()), (Some(1), Some(-1), Some(2)));
        assert_eq!(BitReader::new(&[0, 0, 0, 0, 0]).ue(), None);
        assert_eq!(
            rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 3]),
            vec![0, 0, 1, 0, 0, 0, 3]
        );
    }
}
