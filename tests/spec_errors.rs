//! An invalid spec is refused before any data is read, naming the file, the key and the
//! problem.
mod common;

use common::TestDb;

const BASE: &str = r#"
name   = "partner-products"
target = "public.products"
"#;

const LOOKUP: &str = r#"
[columns]
category_id = { lookup = "public.categories", match = "name", value = "category_id", from = "category" }
"#;

#[tokio::test]
async fn invalid_specs_name_file_key_and_problem() {
    let db = TestDb::with_catalog().await;
    let client = db.client().await;
    let cases: Vec<(String, &str, &str)> = vec![
        (format!("{BASE}nme = 1\n"), "nme", "unknown field"),
        (
            "name = \"x\"\ntarget = \"public.nope\"\n".into(),
            "target",
            "table `public.nope` not found",
        ),
        (
            "name = \"x\"\ntarget = \"a.b.c.d\"\n".into(),
            "target",
            "not a valid table name",
        ),
        (
            format!("{BASE}key = [\"nope\"]\n"),
            "key",
            "column `nope` is not in public.products",
        ),
        (
            format!("{BASE}key = [\"name\"]\n"),
            "key",
            "no primary key or unique index on (name)",
        ),
        (
            format!(
                "{BASE}[columns]\ncategory_id = {{ lookup = \"public.nope\", match = \"name\", value = \"category_id\", from = \"category\" }}\n"
            ),
            "columns.category_id.lookup",
            "lookup table `public.nope` not found",
        ),
        (
            format!(
                "{BASE}[columns]\ncategory_id = {{ lookup = \"public.categories\", match = \"title\", value = \"category_id\", from = \"category\" }}\n"
            ),
            "columns.category_id.match",
            "column `title` is not in lookup table",
        ),
        (
            format!(
                "{BASE}[columns]\ncategory_id = {{ lookup = \"public.categories\", match = \"name\", value = \"id\", from = \"category\" }}\n"
            ),
            "columns.category_id.value",
            "column `id` is not in lookup table",
        ),
        (
            format!(
                "{BASE}[columns]\nname = \"category\"\ncategory_id = {{ lookup = \"public.categories\", match = \"name\", value = \"category_id\", from = \"category\" }}\n"
            ),
            "columns.name",
            "source column `category` is mapped twice",
        ),
        (
            format!("{BASE}[columns]\nnope = \"x\"\n"),
            "columns.nope",
            "column `nope` is not in public.products",
        ),
        (
            format!("{BASE}[columns]\nname = {{ from = \"title\", colour = \"red\" }}\n"),
            "columns.name.colour",
            "unknown key",
        ),
        (
            format!("{BASE}[checks]\nnope = {{ max = 1 }}\n"),
            "checks.nope",
            "not in public.products",
        ),
        (
            format!("{BASE}[checks]\nname = {{ max = 1 }}\n"),
            "checks.name",
            "min/max need a numeric column",
        ),
        (
            format!("{BASE}[checks]\nprice = {{ maximum = 1 }}\n"),
            "maximum",
            "unknown field",
        ),
        (
            format!("{BASE}[checks]\nsku = {{ pattern = '(' }}\n"),
            "checks.sku.pattern",
            "not a valid regular expression",
        ),
        (
            format!("{BASE}[source]\nencoding = \"klingon\"\n"),
            "source.encoding",
            "not a supported encoding",
        ),
        (
            format!("{BASE}[source]\ndelimiter = \";;\"\n"),
            "source.delimiter",
            "not a single ASCII character",
        ),
        (
            format!("{BASE}[source]\nformat = \"parquet\"\n"),
            "format",
            "unknown variant",
        ),
        (
            format!("{BASE}[policy]\nmax_bad_fraction = 2.0\n"),
            "policy.max_bad_fraction",
            "between 0 and 1",
        ),
        (
            format!("{BASE}mode = \"replace\"\n"),
            "mode",
            "unknown variant",
        ),
    ];
    for (i, (text, key, problem)) in cases.iter().enumerate() {
        let path = db.write(&format!("spec{i}.toml"), text);
        let err = airlock::feed::load(&client, &path)
            .await
            .expect_err(&format!("spec {i} should be refused:\n{text}"))
            .to_string();
        assert!(
            err.contains(&path.display().to_string()),
            "no file in: {err}"
        );
        assert!(err.contains(key), "spec {i}: no key `{key}` in: {err}");
        assert!(err.contains(problem), "spec {i}: no `{problem}` in: {err}");
    }

    let ok = db.write("ok.toml", format!("{BASE}{LOOKUP}"));
    airlock::feed::load(&client, &ok)
        .await
        .expect("the sample spec resolves");
}
