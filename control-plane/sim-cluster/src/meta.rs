//! Small helpers over objects held as `serde_json::Value`: metadata access,
//! timestamps, names and uids.

use serde_json::{Map, Value};

/// The object's `metadata.name`.
pub(crate) fn name(obj: &Value) -> Option<&str> {
    obj.get("metadata")?.get("name")?.as_str()
}

/// The object's `metadata.namespace`.
pub(crate) fn namespace(obj: &Value) -> Option<&str> {
    obj.get("metadata")?.get("namespace")?.as_str()
}

/// The object's `metadata.uid`, or `""`.
pub(crate) fn uid(obj: &Value) -> &str {
    str_at(obj, &["metadata", "uid"]).unwrap_or("")
}

/// The object's `metadata.generation`, or 0.
pub(crate) fn generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The object's labels, if any.
pub(crate) fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.get("labels")?.as_object()
}

/// One annotation's value.
pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// `metadata.finalizers`, empty when absent.
pub(crate) fn finalizers(obj: &Value) -> Vec<&str> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The string at a path of object keys.
pub(crate) fn str_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    value_at(obj, path)?.as_str()
}

/// The value at a path of object keys.
pub(crate) fn value_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.get(key))
}

/// The metadata map, created if missing or not an object.
pub(crate) fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    object_mut(obj, "metadata")
}

/// `obj[key]` as an object, created (replacing any non-object) if needed.
/// `obj` itself is turned into an object if it is not one.
pub(crate) fn object_mut<'a>(obj: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(map) = obj else {
        unreachable!("made an object above")
    };
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(inner) => inner,
        _ => unreachable!("made an object above"),
    }
}

/// Renders a field for a field selector: strings as-is, numbers and booleans
/// in their JSON form, missing fields as `""` (as Kubernetes does).
pub(crate) fn field_text(obj: &Value, dotted: &str) -> String {
    let path: Vec<&str> = dotted.split('.').collect();
    match value_at(obj, &path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Now, as a Kubernetes `metav1.Time` string (RFC 3339, whole seconds, UTC).
pub(crate) fn now() -> String {
    format_time(jiff::Timestamp::now())
}

/// Formats a timestamp as a `metav1.Time` string.
pub(crate) fn format_time(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a `metav1.Time` string.
pub(crate) fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

/// Age of a timestamp string in kubectl's compact style (`5s`, `3m12s`, `2d`).
pub(crate) fn age(since: Option<&str>) -> String {
    let Some(since) = since.and_then(parse_time) else {
        return "<unknown>".to_owned();
    };
    let seconds = jiff::Timestamp::now().as_second() - since.as_second();
    human_duration(seconds)
}

/// Kubernetes' `duration.HumanDuration`, from apimachinery.
pub(crate) fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let (d, h) = (hours / 24, hours % 24);
        return if h == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    let years = hours / 24 / 365;
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{days}d")
        };
    }
    format!("{years}y")
}

/// A fresh object uid.
pub(crate) fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `n` random characters from the alphabet Kubernetes uses for generated
/// names (no vowels, no confusable digits).
pub(crate) fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .cycle()
        .take(n)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// The hash Kubernetes' controllers name a template's revision with
/// (`controller.ComputeHash`: 32-bit FNV-1a, printed in decimal, each digit
/// mapped through `rand.SafeEncodeString`'s alphabet), so names look like
/// `web-5757589488`. Hashed over the template's JSON rather than Go's
/// printed struct, so the values differ from a real cluster's.
pub(crate) fn template_hash(value: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash: u32 = 0x811c_9dc5;
    for byte in value.to_string().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash.to_string()
        .bytes()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

/// `n` stable hexadecimal digits of a value (container IDs, image digests).
pub(crate) fn hex_hash(value: &Value, n: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..n)
        .map(|i| {
            if i % 16 == 0 && i > 0 {
                hash = hash.wrapping_mul(0x0100_0000_01b3) ^ i as u64;
            }
            let digit = (hash >> ((i % 16) * 4)) & 0xf;
            char::from_digit(digit as u32, 16).unwrap_or('0')
        })
        .collect()
}

/// A short stable hash of a value, in the same alphabet, for names such as
/// a pod-template-hash.
pub(crate) fn stable_hash(value: &Value, n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..n)
        .map(|_| {
            let c = ALPHABET[(hash % ALPHABET.len() as u64) as usize] as char;
            hash /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Like [`object_mut`], for a value reached through a map entry.
pub(crate) fn object_mut_value<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    object_mut(obj, key);
    match obj {
        Value::Object(map) => map.entry(key.to_owned()).or_insert(Value::Null),
        _ => unreachable!("object_mut made an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_kubectl_style() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(50 * 3600), "2d2h");
    }

    #[test]
    fn time_round_trips() {
        let text = now();
        assert!(text.ends_with('Z'));
        assert!(parse_time(&text).is_some());
    }
}
