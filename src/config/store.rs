//! The recording configuration as a whole: templates, rules and tasks, with the
//! reference API's create/delete semantics, quotas and conflicts (reference §3.1–3.12,
//! §4).
//!
//! Pure: the caller passes ids it allocated and the current time, and persists the
//! result. The control plane loads a [`ConfigStore`], applies one operation, and writes
//! back what changed; the data plane reads it to plan a push ([`super::plan`]).
//!
//! Choices the reference leaves open: a rule created without `AppName` stores an empty
//! one (any app), which is what `DeleteLiveRecordRule`'s exact-match text implies; a
//! record task naming a template that does not exist is accepted and records with the
//! default template, as the reference says for wrong ids.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::problem::{ConfigError, ErrorCode, Problem, Subject};
use super::rule::{validate_rule_request, RecordRule, StreamKey};
use super::task::{check_concurrency, validate_task, RecordTask, MAX_CONCURRENT_TASKS};
use super::template::{validate_template, RecordTemplate, TemplateIdField};
use super::wall_time::beijing_datetime;

/// Recording templates per installation (reference §4: 50 per account).
pub const MAX_TEMPLATES: usize = 50;
/// Recording rules per installation (reference §4: 50 per account).
pub const MAX_RULES: usize = 50;
/// Record tasks kept at once (each is small; the bound keeps every check cheap).
pub const MAX_TASKS: usize = 10_000;
/// Task records are kept this long after they end, seconds (reference §3.9: 3 months).
pub const TASK_RETENTION_S: i64 = 90 * 24 * 3600;

/// Templates, rules and tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigStore {
    /// Recording templates, each with its `TemplateId`.
    pub templates: Vec<RecordTemplate>,
    /// Recording rules.
    pub rules: Vec<RecordRule>,
    /// Record tasks, stopped ones included, deleted ones removed. Shared (`Arc`): a copy
    /// of the store (the server changes a copy, then swaps it in) copies pointers, not
    /// thousands of tasks.
    pub tasks: Vec<Arc<RecordTask>>,
}

impl ConfigStore {
    /// The template with `id`.
    pub fn template(&self, id: i64) -> Option<&RecordTemplate> {
        self.templates.iter().find(|t| t.template_id == Some(id))
    }

    /// `CreateLiveRecordTemplate`: validates `input` and stores it under `id`.
    pub fn create_template(
        &mut self,
        id: i64,
        input: &Value,
    ) -> Result<&RecordTemplate, ConfigError> {
        let validation = validate_template(input, TemplateIdField::Forbidden);
        if !validation.ok {
            return Err(ConfigError::Invalid(validation.errors));
        }
        if self.templates.len() >= MAX_TEMPLATES {
            return Err(ConfigError::ConfOutLimit {
                of: Subject::Recording,
                limit: MAX_TEMPLATES,
            });
        }
        if self.template(id).is_some() {
            return Err(ConfigError::TemplateIdTaken { template_id: id });
        }
        let mut template = validation.template;
        template.template_id = Some(id);
        self.templates.push(template);
        self.templates.last().ok_or(ConfigError::ConfNotFound {
            of: Subject::Recording,
            template_id: id,
        })
    }

    /// `DeleteLiveRecordTemplate`: refused while a rule binds the template.
    pub fn delete_template(&mut self, id: i64) -> Result<RecordTemplate, ConfigError> {
        let index = self
            .templates
            .iter()
            .position(|t| t.template_id == Some(id))
            .ok_or(ConfigError::ConfNotFound {
                of: Subject::Recording,
                template_id: id,
            })?;
        let rules = self.rules.iter().filter(|r| r.template_id == id).count();
        if rules > 0 {
            return Err(ConfigError::ConfInUsed {
                of: Subject::Recording,
                template_id: id,
                rules,
            });
        }
        Ok(self.templates.remove(index))
    }

    /// `CreateLiveRecordRule` at `now` (Unix seconds).
    pub fn create_rule(&mut self, input: &Value, now: i64) -> Result<&RecordRule, ConfigError> {
        let request = validate_rule_request(input).map_err(ConfigError::Invalid)?;
        if self.template(request.template_id).is_none() {
            let message = format!(
                "TemplateId {} does not name a recording template",
                request.template_id
            );
            return Err(ConfigError::Invalid(vec![Problem::new(
                ErrorCode::ConfNotFoundParameter,
                "TemplateId",
                message,
            )]));
        }
        if self
            .rules
            .iter()
            .any(|r| r.key().same_binding(&request.key))
        {
            let key = request.key;
            return Err(ConfigError::RuleAlreadyExist {
                of: Subject::Recording,
                domain: key.domain_name,
                app: key.app_name,
                stream: key.stream_name,
            });
        }
        if self.rules.len() >= MAX_RULES {
            return Err(ConfigError::RuleOutLimit {
                of: Subject::Recording,
                limit: MAX_RULES,
            });
        }
        let stamp = beijing_datetime(now).unwrap_or_default();
        self.rules.push(RecordRule {
            template_id: request.template_id,
            domain_name: request.key.domain_name,
            app_name: request.key.app_name,
            stream_name: request.key.stream_name,
            create_time: stamp.clone(),
            update_time: stamp,
        });
        self.rules.last().ok_or(ConfigError::RuleOutLimit {
            of: Subject::Recording,
            limit: MAX_RULES,
        })
    }

    /// `DeleteLiveRecordRule`: the key must match exactly.
    pub fn delete_rule(&mut self, key: &StreamKey) -> Result<RecordRule, ConfigError> {
        let index = self
            .rules
            .iter()
            .position(|r| r.key().same_binding(key))
            .ok_or_else(|| ConfigError::RuleNotFound {
                of: Subject::Recording,
                domain: key.domain_name.clone(),
                app: key.app_name.clone(),
                stream: key.stream_name.clone(),
            })?;
        Ok(self.rules.remove(index))
    }

    /// `CreateRecordTask` at `now`, stored under `task_id`.
    pub fn create_task(
        &mut self,
        task_id: &str,
        input: &Value,
        now: i64,
    ) -> Result<&RecordTask, ConfigError> {
        let validation = validate_task(input, now);
        if !validation.ok {
            return Err(ConfigError::Invalid(validation.errors));
        }
        if self.tasks.len() >= MAX_TASKS {
            return Err(ConfigError::TaskOutLimit { limit: MAX_TASKS });
        }
        let mut task = validation.task;
        task.task_id = task_id.to_owned();
        check_concurrency(&self.tasks, &task).map_err(|_| ConfigError::MaximumRunningTask {
            stream: task.key().display(),
            limit: MAX_CONCURRENT_TASKS,
        })?;
        self.tasks.push(Arc::new(task));
        self.tasks
            .last()
            .map(|t| &**t)
            .ok_or_else(|| ConfigError::TaskNotFound {
                task_id: task_id.to_owned(),
            })
    }

    /// Forgets tasks that ended more than [`TASK_RETENTION_S`] before `now`; returns their ids.
    pub fn purge_tasks(&mut self, now: i64) -> Vec<String> {
        let horizon = now.saturating_sub(TASK_RETENTION_S);
        let (old, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.tasks)
            .into_iter()
            .partition(|t| t.effective_end() < horizon);
        self.tasks = kept;
        old.into_iter().map(|t| t.task_id.clone()).collect()
    }

    /// `StopRecordTask` at `now`: the task ends now and never starts again. Stopping a
    /// stopped task keeps its first stop time.
    pub fn stop_task(&mut self, task_id: &str, now: i64) -> Result<&RecordTask, ConfigError> {
        let task = self
            .tasks
            .iter_mut()
            .find(|t| t.task_id == task_id)
            .ok_or_else(|| ConfigError::TaskNotFound {
                task_id: task_id.to_owned(),
            })?;
        if task.stopped == 0 {
            Arc::make_mut(task).stopped = now.max(1);
        }
        Ok(task)
    }

    /// `DeleteRecordTask`: forgets the task (a running recording is not interrupted by
    /// this layer; the data plane finishes it).
    pub fn delete_task(&mut self, task_id: &str) -> Result<Arc<RecordTask>, ConfigError> {
        let index = self
            .tasks
            .iter()
            .position(|t| t.task_id == task_id)
            .ok_or_else(|| ConfigError::TaskNotFound {
                task_id: task_id.to_owned(),
            })?;
        Ok(self.tasks.remove(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn with_template() -> ConfigStore {
        let mut store = ConfigStore::default();
        store
            .create_template(1, &json!({"TemplateName": "t1", "HlsParam": {"Enable": 1}}))
            .unwrap();
        store
    }

    #[test]
    fn template_quota_is_fifty() {
        let mut store = ConfigStore::default();
        for id in 1..=MAX_TEMPLATES as i64 {
            store
                .create_template(id, &json!({"TemplateName": format!("t{id}")}))
                .unwrap();
        }
        let err = store
            .create_template(99, &json!({"TemplateName": "x"}))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfOutLimit);
        store.delete_template(1).unwrap();
        assert!(store
            .create_template(99, &json!({"TemplateName": "x"}))
            .is_ok());
    }

    #[test]
    fn invalid_template_is_not_stored() {
        let mut store = ConfigStore::default();
        let err = store
            .create_template(1, &json!({"TemplateName": "a b"}))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
        assert!(store.templates.is_empty());
        let err = store
            .create_template(1, &json!({"TemplateName": "t", "TemplateId": 3}))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownParameter);
    }

    #[test]
    fn rule_conflicts_quota_and_time_stamps() {
        let mut store = with_template();
        let rule = json!({"DomainName": "d.com", "AppName": "live", "TemplateId": 1});
        let created = store.create_rule(&rule, 1_536_738_721).unwrap();
        assert_eq!(created.create_time, "2018-09-12 15:52:01");
        let err = store.create_rule(&rule, NOW).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuleAlreadyExist);
        let same_key_other_case =
            json!({"DomainName": "D.COM", "AppName": "live", "TemplateId": 1});
        assert_eq!(
            store
                .create_rule(&same_key_other_case, NOW)
                .unwrap_err()
                .code(),
            ErrorCode::RuleAlreadyExist
        );
        let unknown_template = json!({"DomainName": "d.com", "TemplateId": 2});
        assert_eq!(
            store
                .create_rule(&unknown_template, NOW)
                .unwrap_err()
                .code(),
            ErrorCode::ConfNotFoundParameter
        );
        for i in 1..MAX_RULES {
            store
                .create_rule(
                    &json!({"DomainName": "d.com", "StreamName": format!("s{i}"), "TemplateId": 1}),
                    NOW,
                )
                .unwrap();
        }
        let err = store
            .create_rule(&json!({"DomainName": "e.com", "TemplateId": 1}), NOW)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuleOutLimit);
    }

    #[test]
    fn bound_template_cannot_be_deleted_until_unbound() {
        let mut store = with_template();
        store
            .create_rule(&json!({"DomainName": "d.com", "TemplateId": 1}), NOW)
            .unwrap();
        let err = store.delete_template(1).unwrap_err();
        assert_eq!(
            err,
            ConfigError::ConfInUsed {
                of: Subject::Recording,
                template_id: 1,
                rules: 1
            }
        );
        assert_eq!(err.code(), ErrorCode::ConfInUsed);
        // Exact key: an AppName of "live" is another rule than one without AppName.
        let err = store
            .delete_rule(&StreamKey::new("d.com", "live", ""))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuleNotFound);
        store.delete_rule(&StreamKey::new("d.com", "", "")).unwrap();
        store.delete_template(1).unwrap();
        assert_eq!(
            store.delete_template(1).unwrap_err().code(),
            ErrorCode::ConfNotFound
        );
    }

    #[test]
    fn task_lifecycle_and_running_limit() {
        let mut store = ConfigStore::default();
        let body = json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s", "EndTime": NOW + 600});
        for id in ["a", "b", "c"] {
            store.create_task(id, &body, NOW).unwrap();
        }
        let err = store.create_task("d", &body, NOW).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MaximumRunningTask);
        let stopped = store.stop_task("a", NOW + 5).unwrap();
        assert_eq!(stopped.stopped, NOW + 5);
        assert_eq!(
            store.stop_task("a", NOW + 9).unwrap().stopped,
            NOW + 5,
            "first stop time kept"
        );
        store.create_task("d", &body, NOW + 10).unwrap();
        store.delete_task("b").unwrap();
        assert_eq!(
            store.delete_task("b").unwrap_err(),
            ConfigError::TaskNotFound {
                task_id: "b".into()
            }
        );
        assert_eq!(
            store.stop_task("zz", NOW).unwrap_err().code(),
            ErrorCode::TaskNotExist
        );
        let invalid = store
            .create_task("e", &json!({"DomainName": "d.com"}), NOW)
            .unwrap_err();
        assert_eq!(invalid.code(), ErrorCode::MissingParameter);
        assert_eq!(
            store.purge_tasks(NOW + TASK_RETENTION_S),
            Vec::<String>::new()
        );
        let mut purged = store.purge_tasks(NOW + 700 + TASK_RETENTION_S);
        purged.sort();
        assert_eq!(purged, ["a", "c", "d"], "b was deleted already");
        assert!(store.tasks.is_empty());
    }
}
