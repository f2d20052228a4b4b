use typed_sessions::SessionSchema;

fn add(base: u32, ours: u32, theirs: u32) -> u32 {
    theirs + ours - base
}

#[derive(SessionSchema)]
#[session(merge = add)]
struct Shop {
    #[session(default)]
    visits: u32,
}

fn main() {}
