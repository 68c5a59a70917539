//! Synthetic app databases at scale, deterministic for a seed, with the dirt real data has.
//!
//! Every table of the schema is generated from its columns: ids in order, foreign keys drawn from the referenced
//! table's ids, enum values from their lists, amounts as exact decimals, names and emails from small word lists,
//! `created_at` over 2023-2025 and `updated_at` after it; free-text columns that hold a few values in the app
//! (payment methods and statuses) take the sample data's values. Scale 1 is about 100k users, 1M orders and 3M
//! order items (see [`base_rows`]). Dirt, at these rates (per row, independently):
//!
//! | dirt                                   | rate   |
//! |----------------------------------------|--------|
//! | NULL in a nullable, non-key column     | 2 %    |
//! | orphaned foreign key (no parent row)   | 0.5 %  |
//! | negative `quantity`                    | 0.2 %  |
//! | `updated_at` before `created_at`       | 0.3 %  |
//! | duplicate updates (change batches)     | 10 % of updated rows are updated twice |
//!
//! Values amali writes into SQL (timestamps of a change batch) are literals it formatted itself, never user text.
//!
//! A change batch (`--changes PCT`) updates PCT % of the rows of every table with an `updated_at` (a newer
//! `updated_at` and a changed value), inserts PCT % new rows, and inserts some rows "late": with an `updated_at`
//! just below the table's current maximum, as a transaction that committed after the last extraction would.
//! Append-only tables (an `id` key, no `updated_at`: orders, order_items, payments, ...) get PCT % new rows, dated
//! after every generated row (a day of new orders), whose foreign keys to other append-only tables point at new
//! rows (new items belong to new orders).

use std::hash::{Hash, Hasher};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::db::value::{RowsBuilder, Scalar, format_date, format_timestamp, parse_timestamp};
use crate::db::{Database, Stmt, channel};
use crate::error::{Result, StageError};
use crate::schema::{self, Column, Shape, Table, Type};

/// Rows per batch while generating.
const BATCH: usize = 65_536;
/// 2023-01-01 00:00:00 UTC, in microseconds.
const START: i64 = 1_672_531_200_000_000;
/// Three years, in microseconds.
const SPAN: i64 = 3 * 365 * 86_400_000_000;
const DAY: i64 = 86_400_000_000;

/// Rows of `table` at scale 1.
pub fn base_rows(table: &str) -> u64 {
    match table {
        "users" => 100_000,
        "orders" | "payments" | "shipping_info" | "order_status_history" => 1_000_000,
        "order_items" => 3_000_000,
        "address" => 120_000,
        "products" => 20_000,
        "product_variants" | "product_image" => 40_000,
        "product_category" | "product_tag" | "returns" => 30_000,
        "reviews" => 200_000,
        "carts" | "messages" => 50_000,
        "cart_items" => 150_000,
        "wishlist" | "wishlists" | "support_tickets" => 20_000,
        "wishlist_item" | "support_messages" => 60_000,
        "vendor_earnings" | "user_audit" => 100_000,
        "discounts" => 2_000,
        "discount_products" => 5_000,
        "vendor_applications" => 5_000,
        "vendor_payouts" => 10_000,
        "categories" => 200,
        "cities" => 500,
        "tags" | "product_tags" => 500,
        _ => 3_000,
    }
}

/// Rows of `table` at `scale` (at least 1; small reference tables keep at least a tenth of their size).
pub fn rows_at(table: &str, scale: f64) -> u64 {
    let base = base_rows(table);
    let n = (base as f64 * scale).round() as u64;
    if base <= 500 { n.max(base / 10).max(1) } else { n.max(1) }
}

/// What `amali datagen` did per table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenReport {
    /// The table.
    pub table: String,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated (change batches).
    pub updated: u64,
}

/// The table a foreign-key-like column points at, by declaration or by name (`user_id`, `vendor_id` -> users).
fn parent(table: &Table, column: &str) -> Option<&'static str> {
    if let Some(fk) = table.foreign_keys.iter().find(|f| f.column == column) {
        return schema::table(fk.table).map(|t| t.name);
    }
    let stem = column.strip_suffix("_id")?;
    if matches!(stem, "user" | "vendor" | "customer" | "buyer" | "seller" | "reviewer" | "sender" | "receiver") {
        return Some("users");
    }
    [format!("{stem}s"), stem.to_string(), format!("{}ies", stem.trim_end_matches('y'))]
        .iter()
        .find_map(|n| schema::table(n).map(|t| t.name))
}

const FIRST: &[&str] = &["Ama", "Kofi", "Yaw", "Esi", "Kwame", "Akosua", "Zoë", "Chloé", "Liam", "Noah", "Mia", "Ola"];
const LAST: &[&str] = &["Mensah", "Owusu", "Boateng", "Asante", "O'Brien", "Nguyen", "García", "Smith", "Okafor"];
const CITIES: &[&str] = &["Accra", "Kumasi", "Lagos", "Nairobi", "Paris", "Berlin", "Toronto", "Austin", "Tamale"];
const COUNTRIES: &[&str] = &["Ghana", "Nigeria", "Kenya", "France", "Germany", "Canada", "United States"];
const WORDS: &[&str] = &["red", "swift", "solar", "cotton", "smart", "classic", "eco", "mini", "pro", "woven"];

fn seeded(seed: u64, table: &str, salt: u64) -> SmallRng {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (seed, table, salt).hash(&mut h);
    SmallRng::seed_from_u64(h.finish())
}

/// Free-text columns that hold a few values in the app (those of the sample data): (table, column, values).
const VOCABULARY: &[(&str, &str, &[&str])] = &[
    ("payments", "payment_method", &["Mobile Money", "Credit Card", "Bank Transfer"]),
    ("payments", "status", &["PENDING", "PAID", "FAILED"]),
    ("support_tickets", "status", &["OPEN", "CLOSED"]),
];

fn text(table: &str, column: &Column, id: i64, rng: &mut SmallRng, max: usize) -> String {
    let name = column.name;
    let pick = |list: &[&str], rng: &mut SmallRng| list[rng.gen_range(0..list.len())].to_string();
    let s = if let Some((_, _, values)) = VOCABULARY.iter().find(|(t, c, _)| *t == table && *c == name) {
        pick(values, rng)
    } else if name.contains("email") {
        format!("{}{id}@example.com", name.trim_end_matches("email").trim_end_matches('_').replace('_', "."))
            .trim_start_matches('.')
            .to_string()
    } else if name == "first_name" {
        pick(FIRST, rng)
    } else if name == "last_name" {
        pick(LAST, rng)
    } else if name.contains("full_name") || name.ends_with("holder_name") || name == "representative_name" {
        format!("{} {}", pick(FIRST, rng), pick(LAST, rng))
    } else if name.contains("phone") {
        format!("+233{:09}", id)
    } else if name.contains("city") {
        pick(CITIES, rng)
    } else if name.contains("country") {
        pick(COUNTRIES, rng)
    } else if name.contains("password") || name.ends_with("hash") {
        format!("$2b$10${:022x}", rng.r#gen::<u64>())
    } else if name.contains("url") || name.contains("image") {
        format!("https://img.example.com/{id}.jpg")
    } else if name.contains("slug") || name.contains("code") || name.contains("sku") || name.contains("reference") {
        format!("{}-{id}", name.replace('_', "-"))
    } else if name.contains("number") {
        format!("{:012}", id)
    } else if name == "name" || name.ends_with("_name") || name == "title" {
        format!("{} {} {id}", pick(WORDS, rng), pick(WORDS, rng))
    } else {
        format!("{} {} {}", pick(WORDS, rng), name.replace('_', " "), id)
    };
    s.chars().take(max).collect()
}

/// Generates row `i` (0-based; its id is `first_id + i`) of `table`.
fn row(
    table: &Table,
    shape: &Shape,
    i: u64,
    first_id: i64,
    parents: &dyn Fn(&str) -> (u64, u64),
    rng: &mut SmallRng,
) -> Vec<Option<Scalar>> {
    let id = first_id + i as i64;
    let created = START + rng.gen_range(0..SPAN);
    let composite = table.primary_key.len() > 1;
    let mut values: Vec<Option<Scalar>> = Vec::with_capacity(shape.columns.len());
    // For composite keys: the key columns enumerate combinations of their parents' ids (mixed radix), so keys
    // never collide.
    let mut radix_rest = (id - 1) as u64;
    for c in &shape.columns {
        let in_key = table.primary_key.contains(&c.name);
        let v = if c.name == "id" && in_key {
            Some(Scalar::Int(id))
        } else if let Some(p) = parent(table, c.name) {
            let (low, n) = parents(p);
            let n = n.max(1);
            let v = if composite && in_key {
                let v = radix_rest % n + 1;
                radix_rest /= n;
                v as i64
            } else if rng.gen_bool(0.005) {
                (n + 1 + rng.gen_range(0..1000)) as i64 // orphan
            } else {
                rng.gen_range(low.clamp(1, n)..=n) as i64
            };
            Some(Scalar::Int(v))
        } else {
            match c.ty {
                Type::BigInt | Type::Int => {
                    let v: i64 = if c.name == "quantity" {
                        let q = rng.gen_range(1..=5);
                        if rng.gen_bool(0.002) { -q } else { q }
                    } else if c.name.contains("stock") || c.name.contains("inventory") {
                        rng.gen_range(0..500)
                    } else if c.name.contains("year") {
                        rng.gen_range(2000..=2025)
                    } else if c.name.contains("rating") {
                        rng.gen_range(1..=5)
                    } else {
                        rng.gen_range(0..1000)
                    };
                    Some(Scalar::Int(v))
                }
                Type::Bool | Type::Bit => Some(Scalar::Bool(rng.gen_bool(0.7))),
                Type::Decimal(p, s) => {
                    let cap = 10i128.pow((p as i8 - s).clamp(1, 6) as u32) - 1;
                    let whole = rng.gen_range(1..=cap.min(2000));
                    let frac = rng.gen_range(0..10i128.pow(s.max(0) as u32));
                    Some(Scalar::Decimal(whole * 10i128.pow(s.max(0) as u32) + frac))
                }
                Type::Double => Some(Scalar::Float(if c.name.contains("rating") {
                    (rng.gen_range(10..=50) as f64) / 10.0
                } else {
                    (rng.gen_range(0..100_000) as f64) / 100.0
                })),
                Type::Varchar(n) => Some(Scalar::Str(text(table.name, c, id, rng, n as usize))),
                Type::Text => Some(Scalar::Str(text(table.name, c, id, rng, 200))),
                Type::Enum(list) => Some(Scalar::Str(list[rng.gen_range(0..list.len())].to_string())),
                Type::Date => Some(Scalar::Date((created / DAY) as i32)),
                Type::DateTime | Type::Timestamp => {
                    let at = if c.name == "updated_at" {
                        if rng.gen_bool(0.003) {
                            created - rng.gen_range(1..30) * DAY
                        } else {
                            created + rng.gen_range(0..90 * DAY)
                        }
                    } else if c.name == "created_at" {
                        created
                    } else {
                        created + rng.gen_range(0..14 * DAY)
                    };
                    Some(Scalar::Micros(at - at % 1_000_000 + rng.gen_range(0..1_000_000)))
                }
            }
        };
        let v = if c.nullable && !in_key && c.name != "updated_at" && rng.gen_bool(0.02) { None } else { v };
        values.push(v);
    }
    // Totals agree with their parts where a table has both.
    if let (Some(q), Some(p), Some(t)) = (
        shape.columns.iter().position(|c| c.name == "quantity"),
        shape.columns.iter().position(|c| c.name == "unit_price"),
        shape.columns.iter().position(|c| c.name == "total_price"),
    ) && let (Some(Scalar::Int(q)), Some(Scalar::Decimal(p))) = (&values[q], &values[p])
    {
        values[t] = Some(Scalar::Decimal(*q as i128 * p));
    }
    values
}

/// Streams generated rows of `table` with the ids of `ids` into `db`, after `before`, in one transaction; the
/// random stream is keyed by `(seed, salt)`. Foreign keys to table `p` are drawn from `parents[p]` (first and
/// last id; `1..=1` when absent).
async fn load(
    db: &Database,
    table: &'static Table,
    ids: std::ops::Range<i64>,
    (seed, salt): (u64, u64),
    parents: std::collections::HashMap<&'static str, (u64, u64)>,
    before: Vec<Stmt>,
) -> Result<u64> {
    let (first_id, count) = (ids.start, (ids.end - ids.start).max(0) as u64);
    let shape = Shape::of(table);
    let (tx, rx) = channel();
    let gen_shape = shape.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut rng = seeded(seed, table.name, salt);
        let lookup = |t: &str| parents.get(t).copied().unwrap_or((1, 1));
        let mut builder = RowsBuilder::new(&gen_shape.columns);
        for i in 0..count {
            let values = row(table, &gen_shape, i, first_id, &lookup, &mut rng);
            if let Err(e) = builder.push(&values) {
                let _ = tx.blocking_send(Err(StageError::internal(e)));
                return;
            }
            if builder.len() >= BATCH && tx.blocking_send(Ok(builder.finish())).is_err() {
                return;
            }
        }
        if !builder.is_empty() {
            let _ = tx.blocking_send(Ok(builder.finish()));
        }
    });
    let n = db.write(Some((&shape, table.name)), &before, rx, &[]).await?;
    producer.await.map_err(|e| StageError::internal(e.to_string()))?;
    Ok(n)
}

/// Replaces every table of `db` with generated data at `scale`.
pub async fn generate(db: &Database, scale: f64, seed: u64) -> Result<Vec<GenReport>> {
    if scale.is_nan() || scale <= 0.0 {
        return Err(StageError::config("--scale must be above 0 (1 = 100k users, 1M orders, 3M order items)"));
    }
    let sizes: std::collections::HashMap<&'static str, u64> =
        schema::TABLES.iter().map(|t| (t.name, rows_at(t.name, scale))).collect();
    let mut report = Vec::new();
    for table in schema::TABLES {
        db.create_table(&Shape::of(table), table.name).await?;
        let mut count = sizes[table.name];
        if table.primary_key.len() > 1 {
            // Keys enumerate parent combinations: never more rows than combinations.
            let combos: u64 = table
                .primary_key
                .iter()
                .map(|k| parent(table, k).map(|p| sizes.get(p).copied().unwrap_or(1)).unwrap_or(1))
                .product();
            count = count.min(combos);
        }
        let before = vec![Stmt::new(format!("DELETE FROM {}", db.quote(table.name)), vec![])];
        let parents = sizes.iter().map(|(t, n)| (*t, (1, *n))).collect();
        let inserted = load(db, table, 1..1 + count as i64, (seed, 0), parents, before).await?;
        tracing::info!(table = table.name, rows = inserted, "generated");
        report.push(GenReport { table: table.name.to_string(), inserted, updated: 0 });
    }
    Ok(report)
}

/// Applies a change batch of `pct` percent to the tables of `db` that have `updated_at` and an `id` (see the
/// module docs).
pub async fn changes(db: &Database, pct: f64, seed: u64) -> Result<Vec<GenReport>> {
    if pct.is_nan() || pct <= 0.0 || pct > 100.0 {
        return Err(StageError::config("--changes takes a percentage in (0, 100]"));
    }
    let mut sizes = std::collections::HashMap::new();
    for t in schema::TABLES {
        let n = db.query(&Stmt::new(format!("SELECT count(*) FROM {}", db.quote(t.name)), vec![])).await?;
        sizes.insert(t.name, n.first().and_then(|r| r[0].as_deref()).and_then(|v| v.parse().ok()).unwrap_or(0u64));
    }
    // New rows of an append-only table refer to the new rows of its append-only parents (new order items belong to
    // new orders), as they do in the app; other parents are drawn from all their rows.
    let mut parents: std::collections::HashMap<&'static str, (u64, u64)> =
        sizes.iter().map(|(t, n)| (*t, (1, *n))).collect();
    for t in schema::TABLES.iter().filter(|t| t.primary_key == ["id"] && t.column("updated_at").is_none()) {
        let inserts = ((sizes[t.name] as f64 * pct / 100.0).round() as u64).max(1);
        let max =
            db.query(&Stmt::new(format!("SELECT max({}) FROM {}", db.quote("id"), db.quote(t.name)), vec![])).await?;
        if let Some(max_id) = max.first().and_then(|r| r[0].as_deref()).and_then(|v| v.parse::<u64>().ok()) {
            parents.insert(t.name, (max_id + 1, max_id + inserts));
        }
    }
    let mut report = Vec::new();
    let per_10k = (pct * 100.0).round() as i64;
    let salt = seed.wrapping_mul(7919) % 10_000;
    for table in schema::TABLES {
        let stamped = table.column("updated_at").is_some_and(|c| matches!(c.ty, Type::DateTime | Type::Timestamp));
        if table.primary_key != ["id"] {
            continue;
        }
        let q = |n: &str| db.quote(n);
        let inserts = ((sizes[table.name] as f64 * pct / 100.0).round() as u64).max(1);
        if !stamped {
            // Append-only tables (orders, order_items, payments, ...): new rows only, after the current ids.
            let max = db.query(&Stmt::new(format!("SELECT max({}) FROM {}", q("id"), q(table.name)), vec![])).await?;
            let Some(max_id) = max.first().and_then(|r| r[0].as_deref()).and_then(|t| t.parse::<i64>().ok()) else {
                continue;
            };
            let range = max_id + 1..max_id + 1 + inserts as i64;
            let inserted = load(db, table, range, (seed, max_id as u64), parents.clone(), vec![]).await?;
            // New rows are today's: their dates follow every generated one (2026-01-01).
            let today = START + SPAN + DAY;
            let dates: Vec<String> = table
                .columns
                .iter()
                .filter_map(|c| match c.ty {
                    Type::Date => Some(format!("{} = '{}'", q(c.name), format_date((today / DAY) as i32))),
                    Type::DateTime | Type::Timestamp => Some(format!("{} = '{}'", q(c.name), format_timestamp(today))),
                    _ => None,
                })
                .collect();
            if !dates.is_empty() {
                let sql = format!("UPDATE {} SET {} WHERE {} > {max_id}", q(table.name), dates.join(", "), q("id"));
                db.execute(&[Stmt::new(sql, vec![])]).await?;
            }
            report.push(GenReport { table: table.name.to_string(), inserted, updated: 0 });
            continue;
        }
        let max = db
            .query(&Stmt::new(
                format!("SELECT max({}), max({}) FROM {}", q("updated_at"), q("id"), q(table.name)),
                vec![],
            ))
            .await?;
        let (Some(high), Some(max_id)) = (
            max.first().and_then(|r| r[0].clone()).and_then(|t| parse_timestamp(&t).ok()),
            max.first().and_then(|r| r[1].clone()).and_then(|t| t.parse::<i64>().ok()),
        ) else {
            continue;
        };
        let later = high + 3_600_000_000;
        let value_col = table
            .columns
            .iter()
            .find(|c| matches!(c.ty, Type::Enum(_)))
            .or_else(|| table.columns.iter().find(|c| matches!(c.ty, Type::Decimal(..))));
        let set_value = match value_col.map(|c| (c.name, c.ty)) {
            Some((name, Type::Enum(values))) => format!(", {} = '{}'", q(name), values[(seed as usize) % values.len()]),
            Some((name, Type::Decimal(..))) => format!(", {} = {} + 1", q(name), q(name)),
            _ => String::new(),
        };
        let pick = format!("({} * 7919 + {salt}) % 10000 < {per_10k}", q("id"));
        let twice = format!("({} * 7919 + {salt}) % 10000 < {}", q("id"), (per_10k / 10).max(1));
        let stmts = vec![
            Stmt::new(
                format!(
                    "UPDATE {} SET {} = '{}'{set_value} WHERE {pick}",
                    q(table.name),
                    q("updated_at"),
                    format_timestamp(later)
                ),
                vec![],
            ),
            // Updated twice in the same batch: the later update is the one silver must keep.
            Stmt::new(
                format!(
                    "UPDATE {} SET {} = '{}' WHERE {twice}",
                    q(table.name),
                    q("updated_at"),
                    format_timestamp(later + 60_000_000)
                ),
                vec![],
            ),
        ];
        let picked =
            db.query(&Stmt::new(format!("SELECT count(*) FROM {} WHERE {pick}", q(table.name)), vec![])).await?;
        let updated = picked.first().and_then(|r| r[0].as_deref()).and_then(|v| v.parse().ok()).unwrap_or(0u64);
        db.execute(&stmts).await?;
        let inserted =
            load(db, table, max_id + 1..max_id + 1 + inserts as i64, (seed, max_id as u64), parents.clone(), vec![])
                .await?;
        // Late rows: committed after the last read, stamped just below the newest updated_at.
        let late_ids = format!("{} > {} AND {} % 10 = 0", q("id"), max_id, q("id"));
        db.execute(&[Stmt::new(
            format!(
                "UPDATE {} SET {} = '{}' WHERE {late_ids}",
                q(table.name),
                q("updated_at"),
                format_timestamp(high - 120_000_000)
            ),
            vec![],
        )])
        .await?;
        report.push(GenReport { table: table.name.to_string(), inserted, updated });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_deterministic_for_a_seed() {
        let t = schema::table("order_items").unwrap();
        let shape = Shape::of(t);
        let sizes = |_: &str| (1u64, 100u64);
        let a: Vec<_> = (0..50).map(|i| row(t, &shape, i, 1, &sizes, &mut seeded(7, t.name, i))).collect();
        let b: Vec<_> = (0..50).map(|i| row(t, &shape, i, 1, &sizes, &mut seeded(7, t.name, i))).collect();
        assert_eq!(a, b);
        let c: Vec<_> = (0..50).map(|i| row(t, &shape, i, 1, &sizes, &mut seeded(8, t.name, i))).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn payments_have_the_apps_methods_and_statuses() {
        let t = schema::table("payments").unwrap();
        let shape = Shape::of(t);
        let at = |c: &str| shape.columns.iter().position(|x| x.name == c).unwrap();
        let sizes = |_: &str| (1u64, 100u64);
        let rows: Vec<_> = (0..200).map(|i| row(t, &shape, i, 1, &sizes, &mut seeded(7, t.name, i))).collect();
        let values = |c: &str| {
            rows.iter()
                .filter_map(|r| match &r[at(c)] {
                    Some(Scalar::Str(s)) => Some(s.clone()),
                    _ => None,
                })
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(values("status"), ["FAILED", "PAID", "PENDING"].map(String::from).into());
        assert_eq!(values("payment_method").len(), 3, "{:?}", values("payment_method"));
    }

    #[test]
    fn composite_keys_never_collide() {
        let t = schema::table("product_category").unwrap();
        let shape = Shape::of(t);
        let sizes = |n: &str| if n == "products" { (1, 7) } else { (1, 3) };
        let mut rng = seeded(1, t.name, 0);
        let keys: std::collections::HashSet<_> =
            (0..21).map(|i| row(t, &shape, i, 1, &sizes, &mut rng)[..2].to_vec()).map(|k| format!("{k:?}")).collect();
        assert_eq!(keys.len(), 21);
    }

    #[test]
    fn parents_by_name() {
        let t = schema::table("order_items").unwrap();
        assert_eq!(parent(t, "order_id"), Some("orders"));
        assert_eq!(parent(t, "vendor_id"), Some("users"));
        assert_eq!(parent(schema::table("product_category").unwrap(), "category_id"), Some("categories"));
    }
}
