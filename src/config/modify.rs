//! Partial updates (`ModifyLiveRecordTemplate`, `ModifyLiveCallbackTemplate`).
//!
//! The reference does not say whether omitted parts are kept (§10 item 2). liverec keeps
//! them, at every level: a Modify body is merged field by field into the stored object,
//! so `{"TemplateId": 5, "Mp4Param": {"Enable": 0}}` turns MP4 off and changes nothing
//! else. The merged object is then validated like a Create body, so every rule holds.

use serde_json::Value;

/// Merges `patch` into `base`: objects field by field (recursively), anything else replaced.
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_field_by_field() {
        let mut base = json!({"TemplateName": "t", "Mp4Param": {"Enable": 1, "RecordInterval": 600}, "HlsParam": {"Enable": 1}});
        merge(
            &mut base,
            &json!({"Mp4Param": {"Enable": 0}, "Description": "d"}),
        );
        assert_eq!(
            base,
            json!({"TemplateName": "t", "Mp4Param": {"Enable": 0, "RecordInterval": 600}, "HlsParam": {"Enable": 1}, "Description": "d"})
        );
        merge(&mut base, &json!({"HlsParam": 5}));
        assert_eq!(
            base["HlsParam"],
            json!(5),
            "a non-object replaces, validation then rejects it"
        );
    }
}
