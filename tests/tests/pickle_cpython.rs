//! The pickle codec against CPython 3.11: random data values written by our writer load in
//! CPython to exactly the same value (types included: a tuple is no list, `True` no `1`)
//! with data opcodes only; CPython's pickles of the same values at protocols 2 to 5 load
//! here to the same value; pickles CPython writes for objects, datetimes and a REDUCE of
//! `os.system` are refused with the reason named.
//!
//! Python runs once per batch (`tests/pyramid/pickle_check.py`), not once per case. These
//! tests never skip: without the venv's Python they fail, naming `scripts/pyenv.sh`.

use std::collections::HashSet;
use std::process::Command;

use proptest::prelude::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value as Json, json};
use typed_sessions::pickle::{self, BigInt, Reason, Value};
use typed_sessions_tests::{pyramid_python, workspace_root};

/// How many random values one batch checks.
const CASES: usize = 400;

fn int(bytes: &[u8]) -> Value {
    match BigInt::from_le_bytes(bytes) {
        Ok(n) => Value::Int(n),
        Err(big) => Value::BigInt(big),
    }
}

/// Values Python can hash and tell apart by their repr: dict keys and set items.
fn hashable() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<String>().prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        prop::collection::vec(any::<i16>(), 0..3)
            .prop_map(|v| Value::Tuple(v.into_iter().map(|n| Value::Int(n.into())).collect())),
    ]
}

fn distinct(items: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|v| seen.insert(repr(v))).collect()
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        prop::collection::vec(any::<u8>(), 9..40).prop_map(|b| int(&b)),
        any::<f64>()
            .prop_filter("NaN has no repr that names its bits", |f| !f.is_nan())
            .prop_map(Value::Float),
        any::<String>().prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::ByteArray),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            prop::collection::vec((hashable(), inner), 0..6).prop_map(|items| {
                let mut seen = HashSet::new();
                Value::Dict(
                    items
                        .into_iter()
                        .filter(|(k, _)| seen.insert(repr(k)))
                        .collect(),
                )
            }),
            prop::collection::vec(hashable(), 0..6).prop_map(|v| Value::Set(distinct(v))),
            prop::collection::vec(hashable(), 0..6).prop_map(|v| Value::FrozenSet(distinct(v))),
        ]
    })
}

/// The value as a Python expression.
fn repr(value: &Value) -> String {
    let list = |items: &[Value]| items.iter().map(repr).collect::<Vec<_>>().join(", ");
    let bytes = |b: &[u8]| {
        let escaped: String = b.iter().map(|b| format!("\\x{b:02x}")).collect();
        format!("b'{escaped}'")
    };
    match value {
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(n) => n.to_string(),
        Value::Float(f) if f.is_infinite() => {
            format!("float('{}inf')", if *f < 0.0 { "-" } else { "" })
        }
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => serde_json::to_string(s).unwrap(),
        Value::Bytes(b) => bytes(b),
        Value::ByteArray(b) => format!("bytearray({})", bytes(b)),
        Value::List(items) => format!("[{}]", list(items)),
        Value::Tuple(items) if items.len() == 1 => format!("({},)", repr(&items[0])),
        Value::Tuple(items) => format!("({})", list(items)),
        Value::Dict(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", repr(k), repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Set(items) if items.is_empty() => "set()".into(),
        Value::Set(items) => format!("{{{}}}", list(items)),
        Value::FrozenSet(items) => format!("frozenset([{}])", list(items)),
    }
}

/// Equal as Python sees it: sets in any order, everything else in order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Set(x), Value::Set(y)) | (Value::FrozenSet(x), Value::FrozenSet(y)) => {
            x.len() == y.len() && x.iter().all(|i| y.iter().any(|j| same(i, j)))
        }
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(i, j)| same(i, j))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Runs the checker once over `cases`, one output line per case.
fn cpython(name: &str, cases: &[Json]) -> Vec<Json> {
    let dir = std::env::temp_dir().join(format!("pickle-cpython-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cases.jsonl");
    let lines: Vec<String> = cases.iter().map(Json::to_string).collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let script = workspace_root().join("tests/pyramid/pickle_check.py");
    let output = Command::new(pyramid_python())
        .arg(&script)
        .arg(&file)
        .output()
        .expect("the venv's python runs (scripts/pyenv.sh builds it)");
    assert!(
        output.status.success(),
        "pickle_check.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
    let out: Vec<Json> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(out.len(), cases.len(), "one answer per case");
    out
}

fn random_values(n: usize) -> Vec<Value> {
    let mut runner = TestRunner::default();
    let strategy = value();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

#[test]
fn cpython_loads_what_we_write_to_the_same_value_with_data_opcodes_only() {
    let values = random_values(CASES);
    let cases: Vec<Json> = values
        .iter()
        .map(|v| json!({"expr": repr(v), "pickle": hex(&pickle::dumps(v))}))
        .collect();
    let answers = cpython("dumps", &cases);
    let mut opcodes = HashSet::new();
    for (case, answer) in cases.iter().zip(&answers) {
        assert_eq!(answer["ok"], true, "{}: {}", case["expr"], answer["why"]);
        opcodes.extend(
            answer["opcodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_str().unwrap().to_owned()),
        );
    }
    // The batch did exercise the writer's range.
    for op in [
        "EMPTY_SET",
        "ADDITEMS",
        "FROZENSET",
        "LONG1",
        "TUPLE3",
        "BYTEARRAY8",
        "SETITEMS",
    ] {
        assert!(opcodes.contains(op), "no {op} among {opcodes:?}");
    }
}

#[test]
fn we_load_what_cpython_writes_at_protocols_2_to_5_to_the_same_value() {
    let values = random_values(CASES);
    let cases: Vec<Json> = values.iter().map(|v| json!({"expr": repr(v)})).collect();
    let answers = cpython("loads", &cases);
    for (value, answer) in values.iter().zip(&answers) {
        let dumps = answer["dumps"]
            .as_object()
            .unwrap_or_else(|| panic!("{answer}"));
        for (protocol, pickled) in dumps {
            let loaded = pickle::loads(&unhex(pickled.as_str().unwrap()))
                .unwrap_or_else(|e| panic!("protocol {protocol} of {}: {e}", repr(value)));
            assert!(
                same(&loaded, value),
                "protocol {protocol}: {} loaded as {}",
                repr(value),
                repr(&loaded)
            );
        }
    }
}

/// Pickles CPython writes for things that are not data, made by a script that defines
/// a harmless class whose `__reduce__` names `os.system` (pickling never calls it).
#[test]
fn cpython_pickles_of_objects_and_calls_are_refused_with_the_reason_named() {
    const SCRIPT: &str = r#"
import datetime, json, os, pickle, sys
class Harmless:
    def __init__(self):
        self.x = 1
class Evil:
    def __reduce__(self):
        return (os.system, ("echo this never runs",))
out = {}
for p in (2, 5):
    out["instance%d" % p] = pickle.dumps({"user": Harmless()}, p).hex()
    out["datetime%d" % p] = pickle.dumps({"at": datetime.datetime(2026, 12, 3)}, p).hex()
    out["system%d" % p] = pickle.dumps((1, 2.0, {"x": Evil()}), p).hex()
json.dump(out, sys.stdout)
"#;
    let output = Command::new(pyramid_python())
        .args(["-c", SCRIPT])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pickles: serde_json::Map<String, Json> = serde_json::from_slice(&output.stdout).unwrap();
    for (name, want) in [
        ("instance", "__main__.Harmless"),
        ("datetime", "datetime.datetime"),
        ("system", "posix.system"),
    ] {
        for p in [2, 5] {
            let bytes = unhex(pickles[&format!("{name}{p}")].as_str().unwrap());
            let refused = pickle::loads(&bytes).unwrap_err();
            assert_eq!(
                refused.reason,
                Reason::Global(want.into()),
                "{name} at protocol {p}"
            );
            assert!(
                refused.to_string().contains(&format!("global `{want}`")),
                "{refused}"
            );
        }
    }
}
