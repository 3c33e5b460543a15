//! docs/SECURITY.md states the permission table users rely on; it must be the table the
//! code enforces. Regenerate with `WEIR_BLESS=1 cargo test -p weir-auth --test security_doc`.

const BEGIN: &str = "<!-- permission-table:begin -->";
const END: &str = "<!-- permission-table:end -->";

#[test]
fn security_md_holds_the_enforced_permission_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SECURITY.md");
    let doc = std::fs::read_to_string(&path).expect("docs/SECURITY.md exists");
    let (start, end) = match (doc.find(BEGIN), doc.find(END)) {
        (Some(s), Some(e)) if s < e => (s + BEGIN.len(), e),
        _ => panic!("docs/SECURITY.md lacks the {BEGIN} ... {END} markers"),
    };
    let table = format!("\n{}\n", weir_auth::permission_table_markdown().trim_end());
    if std::env::var_os("WEIR_BLESS").is_some() {
        let updated = format!("{}{}{}", &doc[..start], table, &doc[end..]);
        std::fs::write(&path, updated).expect("write docs/SECURITY.md");
        return;
    }
    assert_eq!(
        doc[start..end].trim(),
        table.trim(),
        "docs/SECURITY.md's permission table is out of date: run WEIR_BLESS=1 cargo test -p weir-auth --test security_doc"
    );
}
