//! `amali datagen`: a change batch updates and inserts rows of the stamped tables and appends a day of new orders
//! (with their own items and payments) to the append-only ones.

use amali_jobs::datagen;
use amali_jobs::db::Database;

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_batch_updates_stamped_rows_and_appends_new_orders_with_their_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open("sqlite://app.db", dir.path(), None).unwrap();
    datagen::generate(&db, 0.001, 7).await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("app.db")).unwrap();
    let (orders, items, users) = (
        count(&conn, "SELECT count(*) FROM orders"),
        count(&conn, "SELECT max(id) FROM order_items"),
        count(&conn, "SELECT count(*) FROM users"),
    );
    let newest_user = conn.query_row("SELECT max(updated_at) FROM users", [], |r| r.get::<_, String>(0)).unwrap();
    datagen::changes(&db, 10.0, 7).await.unwrap();

    assert_eq!(count(&conn, "SELECT count(*) FROM orders"), orders + orders / 10, "10 % new orders");
    assert_eq!(
        count(&conn, &format!("SELECT count(*) FROM orders WHERE id > {orders} AND order_date NOT LIKE '2026-01-01%'")),
        0,
        "new orders are dated after every generated one"
    );
    // New items belong to new orders (or to none: the documented orphans).
    assert_eq!(
        count(&conn, &format!("SELECT count(*) FROM order_items WHERE id > {items} AND order_id <= {orders}")),
        0
    );
    assert!(count(&conn, &format!("SELECT count(*) FROM order_items WHERE id > {items}")) > 0);
    assert!(count(&conn, "SELECT count(*) FROM users") > users, "new users");
    assert!(
        count(&conn, &format!("SELECT count(*) FROM users WHERE id <= {users} AND updated_at > '{newest_user}'")) > 0,
        "some existing users changed, with a newer updated_at"
    );
}
