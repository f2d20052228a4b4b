use std::collections::BTreeMap;

use typed_sessions::SessionSchema;

#[derive(SessionSchema)]
struct Prices {
    by_weight: BTreeMap<f64, u32>,
}

fn main() {}
