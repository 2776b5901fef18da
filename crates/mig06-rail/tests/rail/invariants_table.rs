//! `docs/INVARIANTS.md` must stay true: every test it names exists, and carries its invariant's ID.

use std::path::Path;

#[test]
fn inv_non_regression_every_invariant_names_real_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let table = std::fs::read_to_string(root.join("docs/INVARIANTS.md")).unwrap();
    let mut ids = 0;
    for row in table.lines().filter(|l| l.starts_with("| INV-")) {
        ids += 1;
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let id = cells[1];
        let prefix = id.to_lowercase().replace('-', "_");
        let tests = cells[5];
        let mut named = 0;
        for item in tests.split('`').skip(1).step_by(2) {
            let (path, name) = item
                .rsplit_once("::")
                .unwrap_or_else(|| panic!("{id}: bad test reference {item}"));
            let path = path.replacen("rail/", "crates/mig06-rail/", 1).replacen(
                "cli/",
                "crates/mig06/",
                1,
            );
            let src = std::fs::read_to_string(root.join(&path))
                .unwrap_or_else(|e| panic!("{id}: {path}: {e}"));
            assert!(
                src.contains(&format!("fn {name}(")),
                "{id}: no test fn {name} in {path}"
            );
            assert!(
                name.starts_with(&prefix),
                "{id}: test {name} does not carry the ID"
            );
            named += 1;
        }
        assert!(named > 0, "{id} names no test");
        assert!(!cells[4].is_empty(), "{id} names no enforcing code");
    }
    assert!(ids >= 20, "the table lists {ids} invariants");
}
