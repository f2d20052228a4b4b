use typed_sessions::SessionSchema;

fn add(base: u32, ours: u32, theirs: u32) -> u32 {
    theirs + ours - base
}

#[derive(SessionSchema)]
struct Shop {
    #[session(default, merge = add, on_conflict = "reject")]
    visits: u32,
}

fn main() {}
