//! Conversions between protobuf messages and domain types.

use chrono::{DateTime, Utc};
use prost_types::{ListValue, Struct, Timestamp, Value, value::Kind};
use storeplane_proto::v1 as pb;

use crate::domain::{
    Condition, ConditionStatus, Config, FieldViolation, Outcome, Phase, Store, StoreEvent,
    admin::limit,
    backup::{Backup, BackupPhase, BackupTrigger, OperationKind},
    ports::AuditEntry,
    tenancy::{Quota, Role, Tenant, Token},
};

/// A protobuf timestamp.
pub fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A phase as its API enum.
pub fn phase_to_pb(phase: Phase) -> pb::StorePhase {
    match phase {
        Phase::Provisioning => pb::StorePhase::Provisioning,
        Phase::Ready => pb::StorePhase::Ready,
        Phase::Failed => pb::StorePhase::Failed,
        Phase::Deleting => pb::StorePhase::Deleting,
        Phase::Suspended => pb::StorePhase::Suspended,
    }
}

/// Parses the `phases` filter; unknown or unspecified values are violations.
pub fn phases_from_pb(values: &[i32]) -> Result<Vec<Phase>, FieldViolation> {
    values
        .iter()
        .map(|v| match pb::StorePhase::try_from(*v) {
            Ok(pb::StorePhase::Provisioning) => Ok(Phase::Provisioning),
            Ok(pb::StorePhase::Ready) => Ok(Phase::Ready),
            Ok(pb::StorePhase::Failed) => Ok(Phase::Failed),
            Ok(pb::StorePhase::Deleting) => Ok(Phase::Deleting),
            Ok(pb::StorePhase::Suspended) => Ok(Phase::Suspended),
            Ok(pb::StorePhase::Unspecified) | Err(_) => Err(FieldViolation::new(
                "phases",
                format!(
                    "{v} is not a store phase (PROVISIONING, READY, FAILED, DELETING, SUSPENDED)"
                ),
            )),
        })
        .collect()
}

fn condition_to_pb(c: &Condition) -> pb::Condition {
    pb::Condition {
        r#type: c.type_.clone(),
        status: match c.status {
            ConditionStatus::True => pb::ConditionStatus::True,
            ConditionStatus::False => pb::ConditionStatus::False,
            ConditionStatus::Unknown => pb::ConditionStatus::Unknown,
        }
        .into(),
        reason: c.reason.clone(),
        message: c.message.clone(),
        last_transition_time: Some(timestamp(c.last_transition_time)),
        observed_generation: c.observed_generation,
    }
}

/// A store as the API shows it.
pub fn store_to_pb(s: &Store) -> pb::Store {
    let (failure_reason, failure_message) = s
        .failure
        .as_ref()
        .map(|f| (f.reason.clone(), f.message.clone()))
        .unwrap_or_default();
    pb::Store {
        id: s.id.to_string(),
        name: s.name.clone(),
        tenant: s.tenant.resource_name(),
        engine: s.engine.clone(),
        config: Some(config_to_struct(&s.config)),
        phase: phase_to_pb(s.phase).into(),
        conditions: s.conditions.iter().map(condition_to_pb).collect(),
        urls: Some(pb::StoreUrls {
            storefront: s.urls.storefront.clone(),
            admin: s.urls.admin.clone(),
        }),
        generation: s.generation,
        observed_generation: s.observed_generation,
        etag: s.etag(),
        create_time: Some(timestamp(s.created_at)),
        update_time: Some(timestamp(s.updated_at)),
        failure_reason,
        failure_message,
        engine_version: s.engine_version.clone(),
        credentials_available: s.credentials_secret.is_some(),
        suspended: s.suspended,
        custom_domains: s.custom_domains.clone(),
        operation: s.operation.as_ref().map(|op| pb::StoreOperation {
            kind: match op.kind {
                OperationKind::Backup => pb::store_operation::Kind::Backup,
                OperationKind::Restore => pb::store_operation::Kind::Restore,
            }
            .into(),
            backup_id: op.backup.to_string(),
            start_time: Some(timestamp(op.started_at)),
        }),
        backup_schedule: s.backup_schedule.as_ref().map(|b| pb::BackupSchedule {
            cron: b.cron.clone(),
            retention: i32::try_from(b.retention).unwrap_or(i32::MAX),
        }),
        cloned_from: s.cloned_from.map(|b| b.to_string()).unwrap_or_default(),
    }
}

/// A backup as the API shows it.
pub fn backup_to_pb(b: &Backup) -> pb::Backup {
    pb::Backup {
        id: b.id.to_string(),
        store_id: b.store_id.to_string(),
        store_name: b.store_name.clone(),
        tenant: b.tenant.resource_name(),
        engine: b.engine.clone(),
        engine_version: b.engine_version.clone(),
        phase: match b.phase {
            BackupPhase::Pending => pb::BackupPhase::Pending,
            BackupPhase::Running => pb::BackupPhase::Running,
            BackupPhase::Succeeded => pb::BackupPhase::Succeeded,
            BackupPhase::Failed => pb::BackupPhase::Failed,
        }
        .into(),
        trigger: match b.trigger {
            BackupTrigger::Manual => pb::BackupTrigger::Manual,
            BackupTrigger::Scheduled => pb::BackupTrigger::Scheduled,
            BackupTrigger::PreUpgrade => pb::BackupTrigger::PreUpgrade,
        }
        .into(),
        size_bytes: b
            .size_bytes
            .and_then(|s| i64::try_from(s).ok())
            .unwrap_or(0),
        sha256: b.sha256.clone().unwrap_or_default(),
        message: b.message.clone(),
        failure_reason: b.failure_reason.clone().unwrap_or_default(),
        create_time: Some(timestamp(b.created_at)),
        complete_time: b.completed_at.map(timestamp),
    }
}

/// A timeline entry as the API shows it.
pub fn event_to_pb(e: &StoreEvent) -> pb::StoreEvent {
    pb::StoreEvent {
        id: e.id,
        store_id: e.store_id.to_string(),
        reason: e.reason.clone(),
        message: e.message.clone(),
        outcome: match e.outcome {
            Outcome::Succeeded => pb::EventOutcome::Succeeded,
            Outcome::Failed => pb::EventOutcome::Failed,
            Outcome::Info => pb::EventOutcome::Info,
        }
        .into(),
        time: Some(timestamp(e.time)),
        duration_ms: e.duration_ms,
        trace_id: e.trace_id.clone(),
    }
}

/// A role as its API enum.
pub fn role_to_pb(role: Role) -> pb::Role {
    match role {
        Role::Admin => pb::Role::Admin,
        Role::Member => pb::Role::Member,
    }
}

/// The role of an API enum value; `None` when unspecified or unknown.
pub fn role_from_pb(role: i32) -> Option<Role> {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Admin) => Some(Role::Admin),
        Ok(pb::Role::Member) => Some(Role::Member),
        _ => None,
    }
}

/// A quota as the API shows it.
pub fn quota_to_pb(q: &Quota) -> pb::Quota {
    let limit = |v: Option<u32>| v.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
    pb::Quota {
        max_stores: limit(q.max_stores),
        max_concurrent_provisions: limit(q.max_concurrent_provisions),
        allowed_engines: q.allowed_engines.clone(),
    }
}

/// A quota from the API, checked.
pub fn quota_from_pb(q: Option<pb::Quota>) -> Result<Quota, FieldViolation> {
    let q = q.unwrap_or_default();
    Ok(Quota {
        max_stores: limit(q.max_stores, "quota.max_stores")?,
        max_concurrent_provisions: limit(
            q.max_concurrent_provisions,
            "quota.max_concurrent_provisions",
        )?,
        allowed_engines: q.allowed_engines,
    })
}

/// A tenant as the API shows it.
pub fn tenant_to_pb(t: &Tenant) -> pb::Tenant {
    pb::Tenant {
        name: t.id.resource_name(),
        id: t.id.0.clone(),
        display_name: t.display_name.clone(),
        quota: Some(quota_to_pb(&t.quota)),
        create_time: Some(timestamp(t.created_at)),
    }
}

/// A token as the API shows it (never its secret).
pub fn token_to_pb(t: &Token) -> pb::Token {
    pb::Token {
        id: t.id.clone(),
        tenant: t.tenant.resource_name(),
        role: role_to_pb(t.role).into(),
        description: t.description.clone(),
        create_time: Some(timestamp(t.created_at)),
        expire_time: t.expires_at.map(timestamp),
        revoke_time: t.revoked_at.map(timestamp),
    }
}

/// An audit entry as the API shows it.
pub fn audit_to_pb(e: &AuditEntry) -> pb::AuditEntry {
    let parameters = match &e.record.parameters {
        serde_json::Value::Object(map) => Some(config_to_struct(map)),
        _ => None,
    };
    pb::AuditEntry {
        id: e.id,
        time: Some(timestamp(e.time)),
        tenant: e
            .record
            .tenant
            .as_ref()
            .map(|t| t.resource_name())
            .unwrap_or_default(),
        token_id: e.record.token_id.clone().unwrap_or_default(),
        client_address: e.record.client_address.clone(),
        method: e.record.method.clone(),
        resource: e.record.resource.clone(),
        parameters,
        outcome: e.record.outcome.clone(),
        message: e.record.message.clone(),
    }
}

/// `google.protobuf.Struct` to a JSON object. Integral numbers become JSON
/// integers so that `"type": "integer"` schemas accept them.
pub fn struct_to_config(s: Option<Struct>) -> Result<Config, FieldViolation> {
    s.map(|s| {
        s.fields
            .into_iter()
            .map(|(k, v)| {
                let path = format!("config.{k}");
                value_to_json(v, &path).map(|v| (k, v))
            })
            .collect()
    })
    .unwrap_or_else(|| Ok(Config::new()))
}

fn value_to_json(v: Value, path: &str) -> Result<serde_json::Value, FieldViolation> {
    use serde_json::Value as J;
    Ok(match v.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(b),
        Some(Kind::StringValue(s)) => J::String(s),
        Some(Kind::NumberValue(n)) => {
            // 2^53: beyond it f64 no longer holds every integer exactly.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if n.fract() == 0.0 && n.abs() <= EXACT {
                #[allow(clippy::cast_possible_truncation)]
                J::from(n as i64)
            } else {
                serde_json::Number::from_f64(n)
                    .map(J::Number)
                    .ok_or_else(|| {
                        FieldViolation::new(path, "must be a finite number (not NaN or infinity)")
                    })?
            }
        }
        Some(Kind::StructValue(s)) => J::Object(
            s.fields
                .into_iter()
                .map(|(k, v)| {
                    let p = format!("{path}.{k}");
                    value_to_json(v, &p).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::ListValue(l)) => J::Array(
            l.values
                .into_iter()
                .enumerate()
                .map(|(i, v)| value_to_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A JSON object as a `google.protobuf.Struct`.
pub fn config_to_struct(c: &Config) -> Struct {
    Struct {
        fields: c
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
    }
}

fn json_to_value(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(*b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Kind::StringValue(s.clone()),
        J::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        J::Object(map) => Kind::StructValue(Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        }),
    };
    Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_struct_with_integers_kept() {
        let json = serde_json::json!({"n": 3, "f": 1.5, "s": "x", "b": true, "z": null,
                                      "l": [1, {"k": "v"}], "o": {"p": 2}});
        let config: Config = json.as_object().cloned().unwrap_or_default();
        let back = struct_to_config(Some(config_to_struct(&config)));
        assert_eq!(back, Ok(config));
    }

    #[test]
    fn non_finite_numbers_are_field_violations_with_a_path() {
        let s = Struct {
            fields: [(
                "o".to_owned(),
                Value {
                    kind: Some(Kind::StructValue(Struct {
                        fields: [(
                            "x".to_owned(),
                            Value {
                                kind: Some(Kind::NumberValue(f64::NAN)),
                            },
                        )]
                        .into(),
                    })),
                },
            )]
            .into(),
        };
        let err = struct_to_config(Some(s)).expect_err("NaN");
        assert_eq!(err.field, "config.o.x");
    }

    #[test]
    fn unspecified_phase_filter_is_rejected() {
        assert!(phases_from_pb(&[0]).is_err());
        assert!(phases_from_pb(&[99]).is_err());
        assert_eq!(phases_from_pb(&[2]), Ok(vec![Phase::Ready]));
    }
}
