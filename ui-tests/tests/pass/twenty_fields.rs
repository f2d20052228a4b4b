//! A 20-field schema compiles, and each field's accessors work (the expansion stays thin:
//! see `a_field_costs_a_fixed_handful_of_lines` in typed-sessions-derive).

use typed_sessions::{Session, SessionSchema};

#[derive(SessionSchema)]
struct Big {
    #[session(default)]
    f0: Vec<u32>,
    f1: Option<String>,
    #[session(default, rename = "k2")]
    f2: u64,
    #[session(default)]
    f3: Vec<u32>,
    f4: Option<String>,
    #[session(default, rename = "k5")]
    f5: u64,
    #[session(default)]
    f6: Vec<u32>,
    f7: Option<String>,
    #[session(default, rename = "k8")]
    f8: u64,
    #[session(default)]
    f9: Vec<u32>,
    f10: Option<String>,
    #[session(default, rename = "k11")]
    f11: u64,
    #[session(default)]
    f12: Vec<u32>,
    f13: Option<String>,
    #[session(default, rename = "k14")]
    f14: u64,
    #[session(default)]
    f15: Vec<u32>,
    f16: Option<String>,
    #[session(default, rename = "k17")]
    f17: u64,
    #[session(default)]
    f18: Vec<u32>,
    f19: Option<String>,
}

fn main() {
    let mut session = Session::new();
    session.f0_mut().unwrap().push(1);
    session.set_f19(Some("x".into())).unwrap();
    session.set_f2(3).unwrap();
    let big = Big::load(&session).unwrap();
    assert_eq!(big.f0, [1]);
    assert_eq!(big.f2, 3);
    assert_eq!(big.f19.as_deref(), Some("x"));
    assert_eq!(Big::KEYS.len(), 20);
    big.store(&mut session).unwrap();
    assert_eq!(session.get("k2"), Some(&serde_json::json!(3)));
}
