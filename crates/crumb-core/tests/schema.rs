//! The committed JSON Schema of `crumb.toml` must match the one generated from the types.
//! After changing the inventory types run `CRUMB_BLESS=1 cargo test -p crumb-core --test schema`.

use std::path::PathBuf;

#[test]
fn committed_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/crumb.schema.json");
    let mut generated = serde_json::to_string_pretty(&crumb_core::inventory_schema()).expect("schema serialises");
    generated.push('\n');
    if std::env::var_os("CRUMB_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create schema dir");
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/crumb.schema.json is stale: run `CRUMB_BLESS=1 cargo test -p crumb-core --test schema` and commit it"
    );
}

#[test]
fn schema_validates_the_shape_of_the_examples() {
    let schema = crumb_core::inventory_schema();
    let props = schema["properties"].as_object().expect("object schema");
    for key in ["site", "rules", "banner", "categories", "cookies", "storage", "services"] {
        assert!(props.contains_key(key), "schema lacks `{key}`");
    }
    assert_eq!(schema["additionalProperties"], serde_json::Value::Bool(false), "unknown keys are refused");
}
