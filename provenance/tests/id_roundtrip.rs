//! IDs round-trip exactly and no input makes parsing panic.

use proptest::prelude::*;
use provenance::id::{ArtifactId, MAX_LEN, Parts, TableName};
use provenance::{
    column_id, composite_record_id, config_id, function_id, job_id, migration_id, module_id,
    record_id, request_id, table_id,
};

/// Any non-empty string, biased towards the characters the grammar reserves.
fn part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,12}",
        "[ -~]{1,16}",
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        prop::collection::vec(
            prop::sample::select(vec![
                ':', ',', '%', '.', ' ', '"', '\'', '\n', 'é', '\u{202E}', 'a'
            ]),
            1..8
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    // A module path is split on `::`, so a segment must not contain it (or end/start with `:`
    // next to a separator); anything else goes.
    part().prop_filter("no :: inside a segment", |s| {
        !s.contains("::") && !s.starts_with(':') && !s.ends_with(':')
    })
}

fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(segment(), 1..4)
}

fn roundtrip(id: &ArtifactId) {
    let parsed = ArtifactId::parse(id.as_str()).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(&parsed, id);
    assert_eq!(parsed.to_string(), id.as_str());
    assert!(
        id.as_str().bytes().all(|b| (0x21..=0x7E).contains(&b)),
        "{id} is not printable ASCII"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = ArtifactId::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_near_ids(kind in prop::sample::select(vec!["mod", "fn", "tbl", "col", "rec", "req", "mig", "job", "cfg"]), body in "[ -~]{0,40}") {
        let s = format!("{kind}:{body}");
        if let Ok(id) = ArtifactId::parse(&s) {
            // What parses is canonical: displaying it gives back the input.
            prop_assert_eq!(id.as_str(), s.as_str());
            let _ = id.parts();
        }
    }

    #[test]
    fn module_and_function_round_trip(path in path(), name in segment()) {
        let module = path.join("::");
        let id = module_id(&module).unwrap();
        roundtrip(&id);
        prop_assert_eq!(id.parts(), Parts::Module { path: path.clone() });

        let id = function_id(&module, &name).unwrap();
        roundtrip(&id);
        prop_assert_eq!(id.parts(), Parts::Function { module: path, name });
    }

    #[test]
    fn tables_columns_records_round_trip(schema in proptest::option::of(part()), table in part(), column in part(), key in prop::collection::vec(part(), 1..4)) {
        let t = TableName { schema: schema.as_deref(), name: &table };
        let id = table_id(t).unwrap();
        roundtrip(&id);
        let Parts::Table(owned) = id.parts() else { panic!("not a table") };
        prop_assert_eq!((owned.schema.as_deref(), owned.name.as_str()), (schema.as_deref(), table.as_str()));

        let id = column_id(t, &column).unwrap();
        roundtrip(&id);
        let Parts::Column { table: owned, column: c } = id.parts() else { panic!("not a column") };
        prop_assert_eq!((owned.name.as_str(), c.as_str()), (table.as_str(), column.as_str()));

        let id = composite_record_id(t, &key).unwrap();
        roundtrip(&id);
        let Parts::Record { table: owned, key: k } = id.parts() else { panic!("not a record") };
        prop_assert_eq!(owned.schema.as_deref(), schema.as_deref());
        prop_assert_eq!(k, key.clone());

        let single = record_id(t, &key[0]).unwrap();
        roundtrip(&single);
    }

    #[test]
    fn other_kinds_round_trip(a in part(), b in part(), version in any::<u64>(), description in proptest::option::of(part())) {
        let id = request_id(&a).unwrap();
        roundtrip(&id);
        prop_assert_eq!(id.parts(), Parts::Request { id: a.clone() });

        let id = config_id(&a).unwrap();
        roundtrip(&id);
        prop_assert_eq!(id.parts(), Parts::Config { path: a.clone() });

        let id = job_id(&a, &b).unwrap();
        roundtrip(&id);
        prop_assert_eq!(id.parts(), Parts::Job { queue: a, id: b });

        let id = migration_id(version, description.as_deref().unwrap_or("")).unwrap();
        roundtrip(&id);
        prop_assert_eq!(id.parts(), Parts::Migration { version, description });
    }

    #[test]
    fn too_long_is_an_error_not_a_panic(n in (MAX_LEN - 8)..(MAX_LEN + 8)) {
        let key = "k".repeat(n);
        match record_id("t", &key) {
            Ok(id) => prop_assert!(id.as_str().len() <= MAX_LEN),
            Err(e) => prop_assert!(e.to_string().contains("longer than the maximum")),
        }
    }
}
