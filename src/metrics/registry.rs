//! A small metrics registry: counters, gauges and fixed-bucket histograms, declared up front as
//! [`Family`]s, rendered in the Prometheus text exposition format (version 0.0.4).
//!
//! What can go in a label is closed: each family names its labels once, every update gives a
//! value for each, in order. Values are checked ([`check_label_value`]): at most 128 bytes, no
//! control characters, and nothing shaped like a credential (a SecretId `AKID…`, or a long
//! token mixing letters and digits like a SecretKey or session token) — refused, and the error
//! does not repeat it. What passes is escaped on output (`\\`, `"`). A family holds at most
//! [`MAX_SERIES`] label sets, so a daemon's memory cannot grow with what it observes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

/// Counter, gauge or histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Set to any value.
    Gauge,
    /// Observations counted into fixed buckets.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family, declared once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Family {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its label names, in the order values are given.
    pub labels: &'static [&'static str],
    /// Histogram upper bounds, increasing (`+Inf` is implied).
    pub buckets: &'static [f64],
}

/// Most label sets one family holds.
pub const MAX_SERIES: usize = 1000;
/// Longest label value, in bytes.
pub const MAX_LABEL_VALUE: usize = 128;

/// An update the registry refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// No such family, or another kind.
    #[error("no {kind} metric named {name}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The kind asked for.
        kind: &'static str,
    },
    /// A family declared wrongly (a programming error, caught by tests).
    #[error("metric {name}: {reason}")]
    BadFamily {
        /// The family.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Not one value per declared label.
    #[error("metric {name} takes {expected} label values, got {got}")]
    LabelCount {
        /// The family.
        name: &'static str,
        /// Declared labels.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A label value refused (the value itself is not repeated: it may be a secret).
    #[error("metric {name}: value of label {label} refused: {reason}")]
    LabelValue {
        /// The family.
        name: &'static str,
        /// The label.
        label: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// NaN, or a counter going down.
    #[error("metric {name}: value {value} refused")]
    Value {
        /// The family.
        name: &'static str,
        /// The value.
        value: String,
    },
    /// The family already holds [`MAX_SERIES`] label sets.
    #[error("metric {name}: more than {MAX_SERIES} label sets")]
    TooManySeries {
        /// The family.
        name: &'static str,
    },
}

#[derive(Clone, Debug)]
enum Series {
    Value(f64),
    Histogram { counts: Vec<u64>, sum: f64, count: u64 },
}

struct FamilyState {
    family: Family,
    series: BTreeMap<Vec<String>, Series>,
}

/// Families and their current values.
pub struct Registry {
    families: Mutex<Vec<FamilyState>>,
    index: HashMap<&'static str, usize>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("families", &self.index.len()).finish()
    }
}

impl Registry {
    /// A registry of these families (each name once, names and labels well formed).
    pub fn new(families: &[Family]) -> Result<Registry, MetricError> {
        let mut index = HashMap::new();
        let mut states = Vec::new();
        for f in families {
            let bad = |reason: &str| Err(MetricError::BadFamily { name: f.name, reason: reason.into() });
            if !is_metric_name(f.name) {
                return bad("not a valid metric name");
            }
            if f.kind == Kind::Counter && !f.name.ends_with("_total") {
                return bad("a counter's name ends in _total");
            }
            if f.labels.iter().any(|l| !is_label_name(l)) || f.labels.iter().enumerate().any(|(i, l)| f.labels[..i].contains(l)) {
                return bad("label names must be valid, unique and not start with __");
            }
            if f.kind == Kind::Histogram
                && (f.labels.contains(&"le")
                    || f.buckets.is_empty()
                    || f.buckets.windows(2).any(|w| w[0] >= w[1])
                    || f.buckets.iter().any(|b| !b.is_finite()))
            {
                return bad("a histogram needs finite increasing buckets and no `le` label");
            }
            if index.insert(f.name, states.len()).is_some() {
                return bad("declared twice");
            }
            states.push(FamilyState { family: *f, series: BTreeMap::new() });
        }
        Ok(Registry { families: Mutex::new(states), index })
    }

    fn update(
        &self,
        name: &str,
        kind: Kind,
        labels: &[&str],
        f: impl FnOnce(&Family, &mut Series) -> Result<(), MetricError>,
    ) -> Result<(), MetricError> {
        let unknown = || MetricError::Unknown { name: name.to_string(), kind: kind.as_str() };
        let i = *self.index.get(name).ok_or_else(unknown)?;
        let mut fams = self.families.lock().expect("metrics registry");
        let st = &mut fams[i];
        let fam = st.family;
        if fam.kind != kind {
            return Err(unknown());
        }
        if labels.len() != fam.labels.len() {
            return Err(MetricError::LabelCount { name: fam.name, expected: fam.labels.len(), got: labels.len() });
        }
        for (label, value) in fam.labels.iter().zip(labels) {
            check_label_value(value).map_err(|reason| MetricError::LabelValue { name: fam.name, label, reason })?;
        }
        let key: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        if !st.series.contains_key(&key) && st.series.len() >= MAX_SERIES {
            return Err(MetricError::TooManySeries { name: fam.name });
        }
        let fresh = match kind {
            Kind::Histogram => Series::Histogram { counts: vec![0; fam.buckets.len()], sum: 0.0, count: 0 },
            _ => Series::Value(0.0),
        };
        let mut series = st.series.get(&key).cloned().unwrap_or(fresh);
        f(&fam, &mut series)?;
        st.series.insert(key, series);
        Ok(())
    }

    /// Add `by` (≥ 0) to a counter.
    pub fn inc(&self, name: &str, labels: &[&str], by: f64) -> Result<(), MetricError> {
        self.update(name, Kind::Counter, labels, |fam, s| {
            if !(by.is_finite() && by >= 0.0) {
                return Err(MetricError::Value { name: fam.name, value: by.to_string() });
            }
            if let Series::Value(v) = s {
                *v += by;
            }
            Ok(())
        })
    }

    /// Set a gauge.
    pub fn set(&self, name: &str, labels: &[&str], value: f64) -> Result<(), MetricError> {
        self.update(name, Kind::Gauge, labels, |fam, s| {
            if value.is_nan() {
                return Err(MetricError::Value { name: fam.name, value: value.to_string() });
            }
            *s = Series::Value(value);
            Ok(())
        })
    }

    /// Count one observation into a histogram.
    pub fn observe(&self, name: &str, labels: &[&str], value: f64) -> Result<(), MetricError> {
        self.update(name, Kind::Histogram, labels, |fam, s| {
            if value.is_nan() {
                return Err(MetricError::Value { name: fam.name, value: value.to_string() });
            }
            if let Series::Histogram { counts, sum, count } = s {
                if let Some(i) = fam.buckets.iter().position(|&b| value <= b) {
                    counts[i] += 1;
                }
                *sum += value;
                *count += 1;
            }
            Ok(())
        })
    }

    /// The current value of a counter or gauge series (tests).
    #[cfg(test)]
    pub fn value(&self, name: &str, labels: &[&str]) -> Option<f64> {
        let fams = self.families.lock().expect("metrics registry");
        let key: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        match fams[*self.index.get(name)?].series.get(&key)? {
            Series::Value(v) => Some(*v),
            Series::Histogram { count, .. } => Some(*count as f64),
        }
    }

    /// Everything, in the text exposition format: families in declared order, series sorted.
    pub fn render(&self) -> String {
        let fams = self.families.lock().expect("metrics registry");
        let mut out = String::with_capacity(4096);
        for st in fams.iter() {
            let f = &st.family;
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            for (values, series) in &st.series {
                let pairs: Vec<(&str, &str)> = f.labels.iter().copied().zip(values.iter().map(String::as_str)).collect();
                match series {
                    Series::Value(v) => {
                        let _ = writeln!(out, "{}{} {}", f.name, labels(&pairs, None), number(*v));
                    }
                    Series::Histogram { counts, sum, count } => {
                        let mut cumulative = 0;
                        for (b, c) in f.buckets.iter().zip(counts) {
                            cumulative += c;
                            let _ = writeln!(out, "{}_bucket{} {cumulative}", f.name, labels(&pairs, Some(&number(*b))));
                        }
                        let _ = writeln!(out, "{}_bucket{} {count}", f.name, labels(&pairs, Some("+Inf")));
                        let _ = writeln!(out, "{}_sum{} {}", f.name, labels(&pairs, None), number(*sum));
                        let _ = writeln!(out, "{}_count{} {count}", f.name, labels(&pairs, None));
                    }
                }
            }
        }
        out
    }
}

fn labels(pairs: &[(&str, &str)], le: Option<&str>) -> String {
    if pairs.is_empty() && le.is_none() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().copied().chain(le.map(|l| ("le", l))).enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"{}\"", escape_label_value(v));
    }
    s.push('}');
    s
}

/// A label value as the format writes it: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(h: &str) -> String {
    h.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    !s.starts_with("__")
        && b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// May this be a label value? `Err` says why not (without repeating it).
pub fn check_label_value(v: &str) -> Result<(), &'static str> {
    if v.len() > MAX_LABEL_VALUE {
        return Err("longer than 128 bytes");
    }
    if v.chars().any(char::is_control) {
        return Err("contains control characters");
    }
    if looks_like_credential(v) {
        return Err("looks like a credential");
    }
    Ok(())
}

/// A SecretId (`AKID` and 8+ letters or digits), or a run of 24+ token characters mixing letters
/// and digits (a SecretKey, a session token).
fn looks_like_credential(v: &str) -> bool {
    let token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-');
    if let Some(i) = v.find("AKID") {
        if v[i + 4..].chars().take_while(char::is_ascii_alphanumeric).count() >= 8 {
            return true;
        }
    }
    v.split(|c: char| !token(c))
        .any(|run| run.len() >= 24 && run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic()))
}
