use typed_sessions::SessionSchema;

fn add(base: u64, ours: u64, theirs: u64) -> u64 {
    theirs + ours - base
}

#[derive(SessionSchema)]
struct Shop {
    #[session(default, merge = add)]
    visits: u32,
}

fn main() {}
