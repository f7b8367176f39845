//! `DescribeRecordTask` (reference §3.12): the window rules and paging.
//!
//! `StartTime` and `EndTime` are required, `EndTime > StartTime`, both no earlier than
//! `now` − 90 days, and the window at most 7 days; a task is listed only when both its
//! start and end fall inside the window. Stopped tasks are listed (with `Stopped`), deleted
//! ones are not. Pages hold [`PAGE_SIZE`] tasks ordered by (StartTime, TaskId); the
//! `ScrollToken` (the reference leaves its format open) is the last listed task's
//! `StartTime:TaskId`, and an empty token means no more.

use serde_json::Value;
use std::borrow::Borrow;

use super::json::Fields;
use super::problem::{ErrorCode, Problem};
use super::task::{RecordTask, MAX_UNIX_S};

/// Tasks per page.
pub const PAGE_SIZE: usize = 100;
/// How far back the window may start, seconds (90 days).
pub const MAX_LOOKBACK_S: i64 = 90 * 24 * 3600;
/// Longest window, seconds (7 days).
pub const MAX_WINDOW_S: i64 = 7 * 24 * 3600;

/// A validated query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskQuery {
    /// Window start.
    pub start_time: i64,
    /// Window end.
    pub end_time: i64,
    /// Filters (empty: any).
    pub domain_name: String,
    /// Filter.
    pub app_name: String,
    /// Filter.
    pub stream_name: String,
    /// Continue after this (StartTime, TaskId).
    pub after: Option<(i64, String)>,
}

/// Reads a DescribeRecordTask body at `now`.
pub fn validate_task_query(input: &Value, now: i64) -> Result<TaskQuery, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut q = TaskQuery::default();
    if let Some(mut fields) = Fields::open(input, "", &mut problems) {
        let start = fields.required_int_in("StartTime", 0..=MAX_UNIX_S);
        let end = fields.required_int_in("EndTime", 0..=MAX_UNIX_S);
        for (name, slot) in [
            ("DomainName", &mut q.domain_name),
            ("AppName", &mut q.app_name),
            ("StreamName", &mut q.stream_name),
        ] {
            if let Some(v) = fields.string(name) {
                *slot = v.to_owned();
            }
        }
        if let Some(token) = fields.string("ScrollToken").filter(|t| !t.is_empty()) {
            match decode_token(token) {
                Some(after) => q.after = Some(after),
                None => fields.problem(
                    ErrorCode::InvalidParameterValue,
                    "ScrollToken",
                    "ScrollToken is not one this server issued",
                ),
            }
        }
        if let (Some(start), Some(end)) = (start, end) {
            check_window(&mut fields, start, end, now);
            q.start_time = start;
            q.end_time = end;
        }
        fields.finish();
    }
    if problems.is_empty() {
        Ok(q)
    } else {
        Err(problems)
    }
}

fn check_window(fields: &mut Fields<'_>, start: i64, end: i64, now: i64) {
    let earliest = now.saturating_sub(MAX_LOOKBACK_S);
    if end <= start {
        fields.problem(
            ErrorCode::InvalidTaskTime,
            "EndTime",
            format!("EndTime ({end}) must be after StartTime ({start})"),
        );
    }
    if start < earliest {
        fields.problem(
            ErrorCode::InvalidTaskTime,
            "StartTime",
            format!("StartTime ({start}) must not be more than 90 days ago ({earliest})"),
        );
    }
    if end - start > MAX_WINDOW_S {
        fields.problem(
            ErrorCode::InvalidTaskTime,
            "EndTime",
            format!(
                "the window is {} s; at most {MAX_WINDOW_S} s (7 days)",
                end - start
            ),
        );
    }
}

fn decode_token(token: &str) -> Option<(i64, String)> {
    let (start, id) = token.split_once(':')?;
    Some((start.parse().ok()?, id.to_owned()))
}

/// One page of the tasks matching `q`, and the token for the next page ("" when done).
pub fn page<'t, T: Borrow<RecordTask>>(
    tasks: &'t [T],
    q: &TaskQuery,
) -> (Vec<&'t RecordTask>, String) {
    let mut matching: Vec<&RecordTask> = tasks
        .iter()
        .map(Borrow::borrow)
        .filter(|t| t.start_time >= q.start_time && t.end_time <= q.end_time)
        .filter(|t| q.domain_name.is_empty() || t.domain_name.eq_ignore_ascii_case(&q.domain_name))
        .filter(|t| q.app_name.is_empty() || t.app_name == q.app_name)
        .filter(|t| q.stream_name.is_empty() || t.stream_name == q.stream_name)
        .filter(|t| {
            q.after
                .as_ref()
                .is_none_or(|(s, id)| (t.start_time, &t.task_id) > (*s, id))
        })
        .collect();
    let order = |a: &&RecordTask, b: &&RecordTask| {
        (a.start_time, &a.task_id).cmp(&(b.start_time, &b.task_id))
    };
    let more = matching.len() > PAGE_SIZE;
    if more {
        // Only the page is sorted: the first PAGE_SIZE are selected in linear time.
        matching.select_nth_unstable_by(PAGE_SIZE, order);
        matching.truncate(PAGE_SIZE);
    }
    matching.sort_unstable_by(order);
    let token = match (more, matching.last()) {
        (true, Some(last)) => format!("{}:{}", last.start_time, last.task_id),
        _ => String::new(),
    };
    (matching, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn window_rules() {
        let ok = json!({"StartTime": NOW - 3600, "EndTime": NOW});
        assert!(validate_task_query(&ok, NOW).is_ok());
        let cases = [
            (json!({}), vec!["StartTime", "EndTime"]),
            (json!({"StartTime": NOW, "EndTime": NOW}), vec!["EndTime"]),
            (
                json!({"StartTime": NOW - MAX_LOOKBACK_S - 1, "EndTime": NOW - MAX_LOOKBACK_S + 10}),
                vec!["StartTime"],
            ),
            (
                json!({"StartTime": NOW - MAX_LOOKBACK_S, "EndTime": NOW - MAX_LOOKBACK_S + 10}),
                vec![],
            ),
            (
                json!({"StartTime": NOW, "EndTime": NOW + MAX_WINDOW_S}),
                vec![],
            ),
            (
                json!({"StartTime": NOW, "EndTime": NOW + MAX_WINDOW_S + 1}),
                vec!["EndTime"],
            ),
            (
                json!({"StartTime": NOW, "EndTime": NOW + 5, "ScrollToken": "garbage"}),
                vec!["ScrollToken"],
            ),
        ];
        for (input, want) in cases {
            let got: Vec<String> = validate_task_query(&input, NOW)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.field)
                .collect();
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn paging_covers_every_task_once() {
        let tasks: Vec<RecordTask> = (0..250)
            .map(|i| RecordTask {
                task_id: format!("t{i:03}"),
                domain_name: "d.com".into(),
                app_name: "live".into(),
                stream_name: if i % 2 == 0 {
                    "even".into()
                } else {
                    "odd".into()
                },
                start_time: NOW + (i % 7),
                end_time: NOW + 100,
                ..RecordTask::default()
            })
            .collect();
        let mut q =
            validate_task_query(&json!({"StartTime": NOW, "EndTime": NOW + 100}), NOW).unwrap();
        let mut seen = Vec::new();
        loop {
            let (page, token) = page(&tasks, &q);
            assert!(page.len() <= PAGE_SIZE);
            seen.extend(page.iter().map(|t| t.task_id.clone()));
            if token.is_empty() {
                break;
            }
            q = validate_task_query(
                &json!({"StartTime": NOW, "EndTime": NOW + 100, "ScrollToken": token}),
                NOW,
            )
            .unwrap();
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 250);
        let odd = validate_task_query(
            &json!({"StartTime": NOW, "EndTime": NOW + 100, "StreamName": "odd"}),
            NOW,
        )
        .unwrap();
        assert_eq!(page(&tasks, &odd).0.len(), PAGE_SIZE);
        let narrow =
            validate_task_query(&json!({"StartTime": NOW, "EndTime": NOW + 99}), NOW).unwrap();
        assert!(
            page(&tasks, &narrow).0.is_empty(),
            "end must fall inside the window"
        );
    }
}
