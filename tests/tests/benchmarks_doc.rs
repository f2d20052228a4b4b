//! BENCHMARKS.md's generated tables are what their kept runs give: `bench/tables --check`
//! regenerates each from its JSON lines in `bench/results/` and fails on any difference,
//! so a figure in the document cannot drift from the output it quotes.

use std::process::Command;

#[test]
fn every_generated_table_is_what_its_kept_run_gives() {
    let root = typed_sessions_tests::workspace_root();
    let out = Command::new("python3")
        .arg(root.join("bench/tables"))
        .arg("--check")
        .arg(root.join("BENCHMARKS.md"))
        .current_dir(&root)
        .output()
        .expect("python3 runs bench/tables (Debian: apt-get install python3)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
