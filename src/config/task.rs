//! Record tasks: `CreateRecordTask` input and `RecordTask` output (reference §2.6,
//! §3.9–3.12, §4).
//!
//! Time rules, all against a `now` passed in (Unix seconds): `EndTime` is required,
//! greater than `StartTime` and than `now`, less than `now` + 7 days, and at most 24 h
//! after `StartTime`; an omitted `StartTime` means `now`. Violations are reported as
//! `InvalidParameter.InvalidTaskTime` naming the field. `TemplateId` 0 or omitted means
//! the built-in default template (HLS, kept forever); so does an id that no longer
//! exists when the task runs (reference §3.9). At most [`MAX_CONCURRENT_TASKS`] tasks may
//! record one stream at the same instant.
//!
//! `StreamType` 1 tasks record only a mix's output of that name (reference §7): the
//! plan of a push leaves them out unless the push is one ([`super::plan::RecordingPlan::for_source`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Borrow;

use super::json::Fields;
use super::problem::{ErrorCode, Problem};
use super::rule::{read_key, KeyParts, StreamKey};
use super::template::MAX_ID;

/// Latest `EndTime` is strictly before `now` + this many seconds (7 days).
pub const MAX_END_AHEAD_S: i64 = 7 * 24 * 3600;
/// Longest task, `EndTime` − `StartTime`, seconds (24 h).
pub const MAX_TASK_SPAN_S: i64 = 24 * 3600;
/// Tasks that may record one stream at the same instant.
pub const MAX_CONCURRENT_TASKS: usize = 3;
/// Longest `Extension`, bytes.
pub const MAX_EXTENSION_BYTES: usize = 1024;
/// Latest time accepted anywhere, Unix seconds (9999-12-31): keeps arithmetic in range.
pub const MAX_UNIX_S: i64 = 253_402_300_799;

/// A record task (`RecordTask`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RecordTask {
    /// Opaque id, assigned when stored.
    pub task_id: String,
    /// Push domain.
    pub domain_name: String,
    /// Push path.
    pub app_name: String,
    /// Stream name.
    pub stream_name: String,
    /// Unix seconds recording starts.
    pub start_time: i64,
    /// Unix seconds recording ends.
    pub end_time: i64,
    /// Template; 0 = the default (HLS, kept forever).
    pub template_id: i64,
    /// Unix seconds StopRecordTask was called; 0 = never.
    pub stopped: i64,
    /// 0 pushed stream, 1 mix output.
    pub stream_type: i64,
    /// Reserved free text.
    pub extension: String,
}

impl RecordTask {
    /// The stream this task records.
    pub fn key(&self) -> StreamKey {
        StreamKey::new(&self.domain_name, &self.app_name, &self.stream_name)
    }

    /// When this task stops recording: `EndTime`, or earlier when stopped.
    pub fn effective_end(&self) -> i64 {
        if self.stopped > 0 {
            self.stopped.min(self.end_time)
        } else {
            self.end_time
        }
    }

    /// Whether the task records at `now`.
    pub fn is_active_at(&self, now: i64) -> bool {
        self.stopped == 0 && self.start_time <= now && now < self.end_time
    }

    /// Whether the task will start recording after `now`.
    pub fn is_pending_at(&self, now: i64) -> bool {
        self.stopped == 0 && self.start_time > now && self.start_time < self.end_time
    }

    /// Whether the two tasks' recording windows share an instant.
    pub fn overlaps(&self, other: &RecordTask) -> bool {
        self.start_time < other.effective_end() && other.start_time < self.effective_end()
    }
}

/// The outcome of validating a `CreateRecordTask` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskValidation {
    /// True when `errors` is empty.
    pub ok: bool,
    /// Every problem found.
    pub errors: Vec<Problem>,
    /// The task as it would be stored (`StartTime` filled in, no `TaskId` yet).
    pub task: RecordTask,
}

/// Validates a `CreateRecordTask` body against `now` (Unix seconds).
pub fn validate_task(input: &Value, now: i64) -> TaskValidation {
    let mut errors = Vec::new();
    let mut task = RecordTask::default();
    if let Some(mut fields) = Fields::open(input, "", &mut errors) {
        read_task(&mut fields, &mut task, now);
        fields.finish();
    }
    TaskValidation {
        ok: errors.is_empty(),
        errors,
        task,
    }
}

fn read_task(fields: &mut Fields<'_>, task: &mut RecordTask, now: i64) {
    let key = read_key(fields, KeyParts::All);
    task.domain_name = key.domain_name;
    task.app_name = key.app_name;
    task.stream_name = key.stream_name;
    let end = fields.required_int_in("EndTime", 0..=MAX_UNIX_S);
    let start = fields.int_in("StartTime", 0..=MAX_UNIX_S);
    task.stream_type = fields.int_in("StreamType", 0..=1).unwrap_or(0);
    task.template_id = fields.int_in("TemplateId", 0..=MAX_ID).unwrap_or(0);
    if let Some(extension) = fields.string("Extension") {
        if extension.len() > MAX_EXTENSION_BYTES {
            let message = format!(
                "Extension is {} bytes long; at most {MAX_EXTENSION_BYTES} are allowed",
                extension.len()
            );
            fields.problem(ErrorCode::InvalidParameterValue, "Extension", message);
        }
        task.extension = extension.to_owned();
    }
    task.start_time = start.unwrap_or(now);
    if let Some(end) = end {
        task.end_time = end;
        check_times(fields, start.is_some(), task.start_time, end, now);
    }
}

fn check_times(fields: &mut Fields<'_>, start_given: bool, start: i64, end: i64, now: i64) {
    let mut bad = |field: &str, message: String| {
        fields.problem(ErrorCode::InvalidTaskTime, field, message);
    };
    let start_name = if start_given {
        "StartTime"
    } else {
        "StartTime (now)"
    };
    if end <= start {
        bad(
            "EndTime",
            format!("EndTime ({end}) must be after {start_name} ({start})"),
        );
    }
    if end <= now {
        bad(
            "EndTime",
            format!("EndTime ({end}) must be in the future (now is {now})"),
        );
    }
    if end >= now.saturating_add(MAX_END_AHEAD_S) {
        bad(
            "EndTime",
            format!(
                "EndTime ({end}) must be less than 7 days ahead (before {})",
                now.saturating_add(MAX_END_AHEAD_S)
            ),
        );
    }
    if end.saturating_sub(start) > MAX_TASK_SPAN_S {
        bad(
            "EndTime",
            format!(
                "EndTime - StartTime is {} s; at most {MAX_TASK_SPAN_S} s (24 h) are allowed",
                end.saturating_sub(start)
            ),
        );
    }
}

/// The largest number of `tasks` recording `candidate`'s stream at one instant of
/// `candidate`'s window (not counting `candidate`).
pub fn max_concurrent<T: Borrow<RecordTask>>(tasks: &[T], candidate: &RecordTask) -> usize {
    let key = candidate.key();
    let overlapping: Vec<&RecordTask> = tasks
        .iter()
        .map(Borrow::borrow)
        .filter(|t| t.task_id != candidate.task_id || t.task_id.is_empty())
        .filter(|t| t.key().same_binding(&key) && t.overlaps(candidate))
        .collect();
    // The count is highest at some task's start (clamped into the window).
    overlapping
        .iter()
        .map(|t| t.start_time.max(candidate.start_time))
        .map(|instant| {
            overlapping
                .iter()
                .filter(|t| t.start_time <= instant && instant < t.effective_end())
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Fails when adding `candidate` would make more than [`MAX_CONCURRENT_TASKS`] tasks
/// record its stream at once.
pub fn check_concurrency<T: Borrow<RecordTask>>(
    tasks: &[T],
    candidate: &RecordTask,
) -> Result<(), usize> {
    let busiest = max_concurrent(tasks, candidate);
    if busiest + 1 > MAX_CONCURRENT_TASKS {
        Err(busiest)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn body(start: Option<i64>, end: Option<i64>) -> Value {
        let mut v = json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s"});
        if let Some(s) = start {
            v["StartTime"] = json!(s);
        }
        if let Some(e) = end {
            v["EndTime"] = json!(e);
        }
        v
    }

    fn time_errors(start: Option<i64>, end: Option<i64>) -> usize {
        let v = validate_task(&body(start, end), NOW);
        assert!(
            v.errors
                .iter()
                .all(|p| p.code == ErrorCode::InvalidTaskTime && p.field == "EndTime"),
            "{:?}",
            v.errors
        );
        v.errors.len()
    }

    #[test]
    fn every_task_time_rule_at_its_edge() {
        let day = MAX_TASK_SPAN_S;
        let week = MAX_END_AHEAD_S;
        let cases = [
            // (StartTime, EndTime, number of time problems)
            (None, Some(NOW + 1), 0),        // start = now, end just after
            (None, Some(NOW), 2),            // end == start and end == now
            (Some(NOW - 100), Some(NOW), 1), // end not in the future
            (Some(NOW - 100), Some(NOW + 1), 0), // started in the past, still running
            (Some(NOW + 10), Some(NOW + 10), 1), // end == start
            (Some(NOW + 10), Some(NOW + 9), 1), // end before start
            (Some(NOW), Some(NOW + day), 0), // exactly 24 h
            (Some(NOW), Some(NOW + day + 1), 1), // 24 h + 1 s
            (Some(NOW + week - 100), Some(NOW + week - 1), 0), // ends just inside 7 days
            (Some(NOW + week - 100), Some(NOW + week), 1), // ends at now + 7 d: not less
            (Some(NOW - 2 * day), Some(NOW - day), 1), // entirely in the past (end <= now)
            (Some(NOW - 2 * day), Some(NOW + 1), 1), // span over 24 h
        ];
        for (start, end, want) in cases {
            assert_eq!(time_errors(start, end), want, "start {start:?} end {end:?}");
        }
    }

    #[test]
    fn start_time_defaults_to_now_and_fields_are_kept() {
        let v = validate_task(
            &json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s",
            "EndTime": NOW + 60, "StreamType": 1, "TemplateId": 9, "Extension": "x"}),
            NOW,
        );
        assert!(v.ok, "{:?}", v.errors);
        assert_eq!(v.task.start_time, NOW);
        assert_eq!(
            (
                v.task.stream_type,
                v.task.template_id,
                v.task.extension.as_str()
            ),
            (1, 9, "x")
        );
        let v = validate_task(&body(None, Some(NOW + 60)), NOW);
        assert_eq!(
            (v.task.template_id, v.task.stream_type),
            (0, 0),
            "absent TemplateId = default template"
        );
    }

    #[test]
    fn required_and_typed_fields() {
        let v = validate_task(&json!({}), NOW);
        let fields: Vec<(&str, ErrorCode)> = v
            .errors
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            fields,
            [
                ("DomainName", ErrorCode::MissingParameter),
                ("AppName", ErrorCode::MissingParameter),
                ("StreamName", ErrorCode::MissingParameter),
                ("EndTime", ErrorCode::MissingParameter),
            ]
        );
        let v = validate_task(
            &json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s",
            "EndTime": NOW + 60, "StreamType": 2, "TemplateId": -1, "StartTime": -5, "Foo": 1}),
            NOW,
        );
        let fields: Vec<(&str, ErrorCode)> = v
            .errors
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            fields,
            [
                ("StartTime", ErrorCode::InvalidParameterValue),
                ("StreamType", ErrorCode::InvalidParameterValue),
                ("TemplateId", ErrorCode::InvalidParameterValue),
                ("Foo", ErrorCode::UnknownParameter),
            ]
        );
    }

    fn task(id: &str, start: i64, end: i64) -> RecordTask {
        RecordTask {
            task_id: id.into(),
            domain_name: "d.com".into(),
            app_name: "live".into(),
            stream_name: "s".into(),
            start_time: start,
            end_time: end,
            ..RecordTask::default()
        }
    }

    #[test]
    fn concurrency_counts_simultaneous_tasks_only() {
        // Three tasks one after another never overlap each other.
        let serial = vec![task("a", 0, 10), task("b", 10, 20), task("c", 20, 30)];
        assert_eq!(max_concurrent(&serial, &task("n", 0, 30)), 1);
        assert!(check_concurrency(&serial, &task("n", 0, 30)).is_ok());
        // Three at once: a fourth overlapping all of them is refused...
        let parallel = vec![task("a", 0, 10), task("b", 5, 15), task("c", 8, 20)];
        assert_eq!(check_concurrency(&parallel, &task("n", 9, 12)), Err(3));
        // ...but not one that starts when the first has ended.
        assert_eq!(max_concurrent(&parallel, &task("n", 10, 12)), 2);
        assert!(check_concurrency(&parallel, &task("n", 10, 12)).is_ok());
        // Other streams and stopped tasks do not count.
        let mut other = task("x", 0, 100);
        other.stream_name = "other".into();
        let mut stopped = task("y", 0, 100);
        stopped.stopped = 1;
        let mixed = vec![task("a", 0, 10), task("b", 0, 10), other, stopped];
        assert!(check_concurrency(&mixed, &task("n", 1, 10)).is_ok());
        // A stopped task did record until it was stopped.
        assert_eq!(check_concurrency(&mixed, &task("n", 0, 10)), Err(3));
    }
}
