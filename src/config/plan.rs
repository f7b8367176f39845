//! The recording plan: what to record when a push starts (reference §3.9, §4, §7).
//!
//! [`plan_recording`] is the one function the server calls at push start. It takes the
//! whole configuration, the pushed stream and the time, and returns:
//! - the winning rule (most specific match) and its template's enabled outputs — a
//!   template with no format enabled yields no outputs: "do not record";
//! - every task recording this stream now (at most [`MAX_CONCURRENT_TASKS`], earliest
//!   start first), each with its own outputs (its template, or the default HLS template
//!   when its `TemplateId` is 0 or unknown) and the instant it ends;
//! - the tasks that will start later while the push may still be live, so the server
//!   knows when to plan again.
//!
//! A rule and a task on the same stream both record (reference §4: "recorded twice").

use serde::Serialize;

use super::naming::DEFAULT_VOD_FILE_NAME;
use super::rule::{resolve, RecordRule, StreamKey};
use super::store::ConfigStore;
use super::task::{RecordTask, MAX_CONCURRENT_TASKS};
use super::template::{Format, RecordTemplate};

/// One file series to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputPlan {
    /// Container format.
    pub format: Format,
    /// Seconds per file; `None` for HLS (one playlist per push or auto-spliced run).
    pub record_interval_seconds: Option<i64>,
    /// Retention; 0 keeps forever.
    pub storage_time_seconds: i64,
    /// The naming pattern in effect (the default when the template's is empty).
    pub vod_file_name: String,
    /// HLS auto-splice timeout (0 = none); `None` for other formats.
    pub flow_continue_seconds: Option<i64>,
}

/// The rule that applies, with its template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RulePlan {
    /// The winning rule.
    pub rule: RecordRule,
    /// Its priority level, 1 (most specific) to 4.
    pub priority: u8,
    /// The bound template; `None` when the rule names a template that no longer exists.
    pub template: Option<RecordTemplate>,
    /// The outputs it asks for; empty means "do not record".
    pub outputs: Vec<OutputPlan>,
}

/// A task recording this stream now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskPlan {
    /// The task.
    pub task: RecordTask,
    /// Unix seconds at which it stops recording.
    pub end_time: i64,
    /// The template in effect (the default HLS one for id 0 or an unknown id).
    pub template: RecordTemplate,
    /// Its outputs.
    pub outputs: Vec<OutputPlan>,
}

/// A task that starts later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingTask {
    /// Task id.
    pub task_id: String,
    /// Unix seconds it starts.
    pub start_time: i64,
    /// Unix seconds it ends.
    pub end_time: i64,
}

/// What to record for one push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingPlan {
    /// True when at least one output is to be written now.
    pub record: bool,
    /// The rule that applies, if any.
    pub rule: Option<RulePlan>,
    /// Tasks recording now.
    pub tasks: Vec<TaskPlan>,
    /// Tasks that start later, earliest first.
    pub pending_tasks: Vec<PendingTask>,
}

impl RecordingPlan {
    /// This plan for a push that is a mix's output or not: `StreamType` 1 tasks record
    /// only mix outputs (reference §7, "A+B=C").
    pub fn for_source(mut self, mix_output: bool) -> Self {
        if !mix_output {
            self.tasks.retain(|t| t.task.stream_type == 0);
        }
        self.record = self.rule.as_ref().is_some_and(|r| !r.outputs.is_empty())
            || self.tasks.iter().any(|t| !t.outputs.is_empty());
        self
    }

    /// Nothing recorded now or later: a pushed stream a mix's output replaces
    /// (`OutputStreamType` 0 — its mixed version is recorded instead).
    pub fn nothing() -> Self {
        Self {
            record: false,
            rule: None,
            tasks: Vec::new(),
            pending_tasks: Vec::new(),
        }
    }
}

/// The enabled outputs of a template.
pub fn outputs_of(template: &RecordTemplate) -> Vec<OutputPlan> {
    template
        .enabled_formats()
        .into_iter()
        .map(|format| {
            let param = template.param(format);
            let pattern = if param.vod_file_name.is_empty() {
                DEFAULT_VOD_FILE_NAME
            } else {
                &param.vod_file_name
            };
            OutputPlan {
                format,
                record_interval_seconds: format.interval_range().map(|_| param.record_interval),
                storage_time_seconds: param.storage_time,
                vod_file_name: pattern.to_owned(),
                flow_continue_seconds: (format == Format::Hls)
                    .then_some(template.hls_special_param.flow_continue_duration),
            }
        })
        .collect()
}

/// Plans the recording of a push of `push` starting at `now` (Unix seconds).
pub fn plan_recording(config: &ConfigStore, push: &StreamKey, now: i64) -> RecordingPlan {
    let rule = resolve(&config.rules, push).map(|resolved| {
        let template = config.template(resolved.rule.template_id).cloned();
        RulePlan {
            rule: resolved.rule.clone(),
            priority: resolved.priority.level(),
            outputs: template.as_ref().map(outputs_of).unwrap_or_default(),
            template,
        }
    });
    let tasks = active_tasks(config, push, now);
    let record = rule.as_ref().is_some_and(|r| !r.outputs.is_empty())
        || tasks.iter().any(|t| !t.outputs.is_empty());
    RecordingPlan {
        record,
        rule,
        tasks,
        pending_tasks: pending_tasks(config, push, now),
    }
}

fn tasks_of<'c>(
    config: &'c ConfigStore,
    push: &'c StreamKey,
) -> impl Iterator<Item = &'c RecordTask> {
    config
        .tasks
        .iter()
        .map(|t| &**t)
        .filter(move |t| t.key().same_binding(push))
}

fn active_tasks(config: &ConfigStore, push: &StreamKey, now: i64) -> Vec<TaskPlan> {
    let mut active: Vec<&RecordTask> = tasks_of(config, push)
        .filter(|t| t.is_active_at(now))
        .collect();
    active.sort_by_key(|t| t.start_time);
    active
        .into_iter()
        .take(MAX_CONCURRENT_TASKS)
        .map(|task| {
            let template = task_template(config, task);
            TaskPlan {
                task: task.clone(),
                end_time: task.effective_end(),
                outputs: outputs_of(&template),
                template,
            }
        })
        .collect()
}

fn task_template(config: &ConfigStore, task: &RecordTask) -> RecordTemplate {
    if task.template_id == 0 {
        return RecordTemplate::default_for_tasks();
    }
    config
        .template(task.template_id)
        .cloned()
        .unwrap_or_else(RecordTemplate::default_for_tasks)
}

fn pending_tasks(config: &ConfigStore, push: &StreamKey, now: i64) -> Vec<PendingTask> {
    let mut pending: Vec<PendingTask> = tasks_of(config, push)
        .filter(|t| t.is_pending_at(now))
        .map(|t| PendingTask {
            task_id: t.task_id.clone(),
            start_time: t.start_time,
            end_time: t.end_time,
        })
        .collect();
    pending.sort_by_key(|t| t.start_time);
    pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn store() -> ConfigStore {
        let mut s = ConfigStore::default();
        s.create_template(1, &json!({"TemplateName": "domain", "FlvParam": {"Enable": 1, "RecordInterval": 600},
            "HlsParam": {"Enable": 1, "VodFileName": "{StreamID}"}, "HlsSpecialParam": {"FlowContinueDuration": 30}}))
            .unwrap();
        s.create_template(2, &json!({"TemplateName": "off"}))
            .unwrap();
        s.create_template(
            3,
            &json!({"TemplateName": "mp4", "Mp4Param": {"Enable": 1, "StorageTime": 86400}}),
        )
        .unwrap();
        s.create_rule(&json!({"DomainName": "d.com", "TemplateId": 1}), NOW)
            .unwrap();
        s.create_rule(&json!({"DomainName": "d.com", "AppName": "live", "StreamName": "quiet", "TemplateId": 2}), NOW)
            .unwrap();
        s
    }

    fn key(stream: &str) -> StreamKey {
        StreamKey::new("d.com", "live", stream)
    }

    #[test]
    fn domain_rule_outputs() {
        let plan = plan_recording(&store(), &key("cam"), NOW);
        assert!(plan.record);
        let rule = plan.rule.unwrap();
        assert_eq!(rule.priority, 4);
        let formats: Vec<Format> = rule.outputs.iter().map(|o| o.format).collect();
        assert_eq!(formats, [Format::Flv, Format::Hls]);
        assert_eq!(rule.outputs[0].record_interval_seconds, Some(600));
        assert_eq!(rule.outputs[0].vod_file_name, DEFAULT_VOD_FILE_NAME);
        assert_eq!(rule.outputs[0].flow_continue_seconds, None);
        assert_eq!(rule.outputs[1].record_interval_seconds, None);
        assert_eq!(rule.outputs[1].vod_file_name, "{StreamID}");
        assert_eq!(rule.outputs[1].flow_continue_seconds, Some(30));
    }

    #[test]
    fn empty_template_on_a_more_specific_rule_disables_recording() {
        let plan = plan_recording(&store(), &key("quiet"), NOW);
        assert!(!plan.record);
        let rule = plan.rule.unwrap();
        assert_eq!((rule.priority, rule.outputs.len()), (1, 0));
    }

    #[test]
    fn no_rule_no_task_nothing_to_record() {
        let plan = plan_recording(&store(), &StreamKey::new("x.com", "live", "s"), NOW);
        assert_eq!(
            plan,
            RecordingPlan {
                record: false,
                rule: None,
                tasks: vec![],
                pending_tasks: vec![]
            }
        );
    }

    #[test]
    fn tasks_record_beside_rules_with_their_templates() {
        let mut s = store();
        let base = json!({"DomainName": "d.com", "AppName": "live", "StreamName": "quiet"});
        let mut default_task = base.clone();
        default_task["EndTime"] = json!(NOW + 100);
        s.create_task("t-default", &default_task, NOW).unwrap();
        let mut mp4_task = base.clone();
        mp4_task["EndTime"] = json!(NOW + 50);
        mp4_task["TemplateId"] = json!(3);
        s.create_task("t-mp4", &mp4_task, NOW).unwrap();
        let mut later = base.clone();
        later["StartTime"] = json!(NOW + 200);
        later["EndTime"] = json!(NOW + 300);
        s.create_task("t-later", &later, NOW).unwrap();
        let mut missing_template = base;
        missing_template["EndTime"] = json!(NOW + 100);
        missing_template["TemplateId"] = json!(77);
        s.create_task("t-missing", &missing_template, NOW).unwrap();

        let plan = plan_recording(&s, &key("quiet"), NOW + 1);
        assert!(plan.record, "tasks record even where the rule says not to");
        let got: Vec<(&str, i64, Vec<Format>)> = plan
            .tasks
            .iter()
            .map(|t| {
                (
                    t.task.task_id.as_str(),
                    t.end_time,
                    t.outputs.iter().map(|o| o.format).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("t-default", NOW + 100, vec![Format::Hls]),
                ("t-mp4", NOW + 50, vec![Format::Mp4]),
                ("t-missing", NOW + 100, vec![Format::Hls]),
            ]
        );
        assert_eq!(
            plan.pending_tasks,
            [PendingTask {
                task_id: "t-later".into(),
                start_time: NOW + 200,
                end_time: NOW + 300
            }]
        );

        s.stop_task("t-mp4", NOW + 2).unwrap();
        let plan = plan_recording(&s, &key("quiet"), NOW + 3);
        assert_eq!(plan.tasks.len(), 2, "a stopped task never records again");
        let plan = plan_recording(&s, &key("quiet"), NOW + 250);
        let ids: Vec<&str> = plan.tasks.iter().map(|t| t.task.task_id.as_str()).collect();
        assert_eq!(
            ids,
            ["t-later"],
            "scheduled task armed inside its window only"
        );
        assert!(plan_recording(&s, &key("quiet"), NOW + 300)
            .tasks
            .is_empty());
    }

    #[test]
    fn rule_pointing_at_a_missing_template_records_nothing() {
        let mut s = store();
        s.templates.retain(|t| t.template_id != Some(1));
        let plan = plan_recording(&s, &key("cam"), NOW);
        assert!(!plan.record);
        assert_eq!(plan.rule.map(|r| r.template), Some(None));
    }
}
