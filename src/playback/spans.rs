//! What the recordings of a stream cover: their time ranges merged across files and
//! formats into spans, with the gaps between them, inside a requested range.
//!
//! Two recordings belong to one span when the later starts no more than
//! [`JOIN_TOLERANCE_MS`] after the earlier (or the span so far) ends: files cut by
//! RecordInterval from one push abut exactly; a push that stopped and came back leaves a
//! gap of at least the reconnect time.

use std::collections::BTreeSet;

use serde::Serialize;

use super::range::TimeRange;

/// Largest hole still counted as continuous, ms (a frame's duration and rounding).
pub const JOIN_TOLERANCE_MS: i64 = 250;

/// One recording's coverage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covered {
    /// First frame, Unix ms.
    pub start_ms: i64,
    /// Last frame's end, Unix ms.
    pub end_ms: i64,
    /// `flv`, `hls`, `mp4` or `aac`.
    pub format: String,
}

/// A stretch of time some recording covers without a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// Start, Unix ms.
    pub start_ms: i64,
    /// End, Unix ms.
    pub end_ms: i64,
    /// Formats recorded somewhere in the span, sorted.
    pub formats: Vec<String>,
}

/// A stretch no recording covers, between two spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    /// Start, Unix ms.
    pub start_ms: i64,
    /// End, Unix ms.
    pub end_ms: i64,
}

/// Merges recordings into spans (sorted by start), each clipped to `range`; recordings
/// outside the range are ignored.
pub fn merge(mut covered: Vec<Covered>, range: &TimeRange) -> Vec<Span> {
    covered.retain(|c| c.end_ms > c.start_ms && range.overlaps(c.start_ms, c.end_ms));
    covered.sort_by_key(|c| (c.start_ms, c.end_ms));
    let mut spans: Vec<(i64, i64, BTreeSet<String>)> = Vec::new();
    for c in covered {
        match spans.last_mut() {
            Some(last) if c.start_ms <= last.1.saturating_add(JOIN_TOLERANCE_MS) => {
                last.1 = last.1.max(c.end_ms);
                last.2.insert(c.format);
            }
            _ => spans.push((c.start_ms, c.end_ms, BTreeSet::from([c.format]))),
        }
    }
    spans
        .into_iter()
        .map(|(start_ms, end_ms, formats)| Span {
            start_ms: start_ms.max(range.start_ms),
            end_ms: end_ms.min(range.end_ms),
            formats: formats.into_iter().collect(),
        })
        .collect()
}

/// The gaps between consecutive spans.
pub fn gaps(spans: &[Span]) -> Vec<Gap> {
    spans
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(Gap {
                start_ms: a.end_ms,
                end_ms: b.start_ms,
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(start_ms: i64, end_ms: i64, format: &str) -> Covered {
        Covered {
            start_ms,
            end_ms,
            format: format.into(),
        }
    }

    const ALL: TimeRange = TimeRange {
        start_ms: 0,
        end_ms: i64::MAX,
    };

    #[test]
    fn merged_across_files_and_formats() {
        let spans = merge(
            vec![
                c(60_000, 120_000, "flv"),
                c(0, 60_000, "flv"),
                c(0, 119_900, "hls"),
                c(120_100, 130_000, "mp4"),
                c(140_000, 150_000, "hls"),
            ],
            &ALL,
        );
        assert_eq!(
            spans,
            vec![
                Span {
                    start_ms: 0,
                    end_ms: 130_000,
                    formats: vec!["flv".into(), "hls".into(), "mp4".into()]
                },
                Span {
                    start_ms: 140_000,
                    end_ms: 150_000,
                    formats: vec!["hls".into()]
                },
            ]
        );
        assert_eq!(
            gaps(&spans),
            vec![Gap {
                start_ms: 130_000,
                end_ms: 140_000
            }]
        );
    }

    #[test]
    fn clipped_to_the_range() {
        let range = TimeRange {
            start_ms: 50_000,
            end_ms: 145_000,
        };
        let spans = merge(
            vec![
                c(0, 60_000, "flv"),
                c(60_000, 130_000, "flv"),
                c(140_000, 150_000, "flv"),
                c(150_000, 160_000, "aac"),
                c(10, 10, "flv"),
            ],
            &range,
        );
        let ends: Vec<_> = spans.iter().map(|s| (s.start_ms, s.end_ms)).collect();
        assert_eq!(ends, vec![(50_000, 130_000), (140_000, 145_000)]);
        assert!(merge(vec![c(0, 10, "flv")], &range).is_empty());
    }
}
