//! Reading a model's parameters from a configuration JSON object.
//!
//! Every reader returns None on anything unexpected (unknown key, wrong type,
//! out-of-range value) so bad configuration is refused where it is loaded.

use serde_json::{Map, Value};

/// The parameter object if every key is one of `allowed`; `null` reads as empty.
pub fn object<'a>(params: &'a Value, allowed: &[&str]) -> Option<Option<&'a Map<String, Value>>> {
    match params {
        Value::Null => Some(None),
        Value::Object(map) if map.keys().all(|k| allowed.contains(&k.as_str())) => Some(Some(map)),
        _ => None,
    }
}

/// A smoothing weight in (0, 1], or `default` when absent.
pub fn weight(map: Option<&Map<String, Value>>, key: &str, default: f64) -> Option<f64> {
    match map.and_then(|m| m.get(key)) {
        None => Some(default),
        Some(v) => v.as_f64().filter(|&a| a > 0.0 && a <= 1.0),
    }
}

/// A positive whole number (window, season length), or `default` when absent.
pub fn count(map: Option<&Map<String, Value>>, key: &str, default: usize) -> Option<usize> {
    match map.and_then(|m| m.get(key)) {
        None => Some(default),
        Some(v) => v
            .as_u64()
            .and_then(|k| usize::try_from(k).ok())
            .filter(|&k| k > 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readers_take_defaults_and_refuse_bad_values() {
        let v = json!({"alpha": 0.3, "window": 7});
        let m = object(&v, &["alpha", "window"]).expect("allowed keys");
        assert_eq!(weight(m, "alpha", 0.2), Some(0.3));
        assert_eq!(weight(m, "beta", 0.05), Some(0.05));
        assert_eq!(count(m, "window", 28), Some(7));
        assert!(object(&v, &["alpha"]).is_none());
        assert!(object(&json!([1]), &["alpha"]).is_none());
        assert_eq!(weight(Some(&Map::new()), "alpha", 0.2), Some(0.2));
        let bad = json!({"alpha": 0.0, "window": -1});
        let m = object(&bad, &["alpha", "window"]).expect("allowed keys");
        assert_eq!(weight(m, "alpha", 0.2), None);
        assert_eq!(count(m, "window", 28), None);
    }
}
