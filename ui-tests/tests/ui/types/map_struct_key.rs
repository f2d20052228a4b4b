use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use typed_sessions::SessionSchema;

#[derive(Serialize, Deserialize, PartialEq, Eq, Hash)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(SessionSchema)]
struct Board {
    #[session(default)]
    marks: HashMap<Point, String>,
}

fn main() {}
