use super::checks::find_word;
use super::graph::branches;
use super::*;
use crate::config::Model;
use datafusion::arrow::array::Int64Array;
use datafusion::prelude::SessionContext;

fn model(name: &str, sql: &str) -> Model {
    Model {
        name: name.into(),
        sql: sql.into(),
        file: format!("queries/{name}.sql").into(),
    }
}

#[test]
fn dependencies_come_from_the_sql() {
    let models = vec![
        model("b", "select * from a join customs_declaration c on true"),
        model("a", "with x as (select 1) select * from x, enterprise"),
        model("c", "select * from b"),
    ];
    let order: Vec<&str> = build_order(&models)
        .unwrap()
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(order, vec!["a", "b", "c"]);
    let up = with_upstream(&models, "b").unwrap();
    assert_eq!(up.into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
}

#[test]
fn cycles_are_named() {
    let models = vec![model("a", "select * from b"), model("b", "select * from a")];
    assert!(matches!(build_order(&models), Err(TransformError::Cycle(s)) if s == "a → b"));
}

#[tokio::test]
async fn a_top_level_union_runs_branch_by_branch() {
    let ctx = SessionContext::new();
    let plan = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let df = ctx.sql(sql).await.unwrap();
            df.create_physical_plan().await.unwrap()
        }
    };
    let union = plan("SELECT 1 AS a UNION ALL SELECT 2 AS b UNION ALL SELECT 3").await;
    let parts = branches(&union);
    assert_eq!(parts.len(), 3);
    let mut got = Vec::new();
    for p in parts {
        let batches = datafusion::physical_plan::collect(p, ctx.task_ctx())
            .await
            .unwrap();
        for b in batches {
            let col = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            got.extend(col.iter().flatten());
        }
    }
    assert_eq!(got, [1, 2, 3]);
    // A union under something else (a sort, a distinct) is run whole.
    let sorted = plan("SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a").await;
    assert_eq!(branches(&sorted).len(), 1);
    let distinct = plan("SELECT 1 AS a UNION SELECT 2").await;
    assert_eq!(branches(&distinct).len(), 1);
}

#[test]
fn find_word_respects_identifier_bounds() {
    assert_eq!(
        find_word("select declared_at2, declared_at from t", "declared_at"),
        Some(21)
    );
}
