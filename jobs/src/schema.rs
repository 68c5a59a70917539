//! The AmaliMart app database's schema, as this project defines it: 36 tables with their columns, keys and
//! foreign keys, and how each column type maps to Arrow and to each database engine.
//!
//! | MySQL / MariaDB   | Arrow                       | PostgreSQL         | SQLite (local runs)          |
//! |-------------------|-----------------------------|--------------------|------------------------------|
//! | `bigint`          | `Int64`                     | `bigint`           | `INTEGER`                    |
//! | `int`             | `Int32`                     | `integer`          | `INTEGER`                    |
//! | `tinyint(1)`      | `Boolean`                   | `boolean`          | `INTEGER` 0/1                |
//! | `bit(1)`          | `Boolean`                   | `boolean`          | `INTEGER` 0/1                |
//! | `decimal(p,s)`    | `Decimal128(p, s)`          | `numeric(p,s)`     | `TEXT` (exact digits)        |
//! | `double`          | `Float64`                   | `double precision` | `REAL`                       |
//! | `varchar`, `text` | `Utf8`                      | `varchar`, `text`  | `TEXT`                       |
//! | `enum(...)`       | `Utf8` (values checked)     | `text` + `CHECK`   | `TEXT` + `CHECK`             |
//! | `date`            | `Date32`                    | `date`             | `TEXT` `YYYY-MM-DD`          |
//! | `datetime`        | `Timestamp(µs, "UTC")`      | `timestamp`        | `TEXT` ISO 8601, UTC         |
//! | `timestamp`       | `Timestamp(µs, "UTC")`      | `timestamptz`      | `TEXT` ISO 8601, UTC         |
//!
//! Decimals are never floats anywhere, and money the app keeps as a `double` ([`FLOAT_MONEY`]) is a decimal from
//! silver on ([`crate::money`]). `datetime` has no time zone in MySQL; the app writes UTC, so it is read as UTC.

use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// A column type of the app database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `bigint`.
    BigInt,
    /// `int`.
    Int,
    /// `tinyint(1)`, MySQL's boolean.
    Bool,
    /// `bit(1)`.
    Bit,
    /// `decimal(precision, scale)`.
    Decimal(u8, i8),
    /// `double`.
    Double,
    /// `varchar(n)`.
    Varchar(u32),
    /// `text`.
    Text,
    /// `enum(...)` with its allowed values.
    Enum(&'static [&'static str]),
    /// `date`.
    Date,
    /// `datetime` (no zone; UTC by convention).
    DateTime,
    /// `timestamp` (UTC).
    Timestamp,
}

/// A column default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// A literal, as written in the DDL.
    Value(&'static str),
    /// `CURRENT_TIMESTAMP`.
    Now,
}

/// One column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
    /// Whether it may be NULL.
    pub nullable: bool,
    /// Its default.
    pub default: Option<Default>,
    /// Whether the database numbers it.
    pub auto_increment: bool,
}

/// A foreign key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKey {
    /// The referencing column.
    pub column: &'static str,
    /// The referenced table.
    pub table: &'static str,
    /// The referenced column.
    pub references: &'static str,
}

/// One table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns in order.
    pub columns: &'static [Column],
    /// Its primary key.
    pub primary_key: &'static [&'static str],
    /// Its unique keys.
    pub unique: &'static [&'static [&'static str]],
    /// Its foreign keys.
    pub foreign_keys: &'static [ForeignKey],
}

/// A database engine amali reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// MySQL 8 or MariaDB 10.11.
    MySql,
    /// PostgreSQL (and Redshift's dialect where they agree).
    Postgres,
    /// SQLite, the embedded default of local runs.
    Sqlite,
}

impl Type {
    /// The Arrow type of the column.
    pub fn arrow(self) -> DataType {
        match self {
            Type::BigInt => DataType::Int64,
            Type::Int => DataType::Int32,
            Type::Bool | Type::Bit => DataType::Boolean,
            Type::Decimal(p, s) => DataType::Decimal128(p, s),
            Type::Double => DataType::Float64,
            Type::Varchar(_) | Type::Text | Type::Enum(_) => DataType::Utf8,
            Type::Date => DataType::Date32,
            Type::DateTime | Type::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    /// The column type in `engine`'s DDL.
    pub fn sql(self, engine: Engine) -> String {
        match (engine, self) {
            (Engine::MySql, Type::BigInt) => "bigint".into(),
            (Engine::MySql, Type::Int) => "int".into(),
            (Engine::MySql, Type::Bool) => "tinyint(1)".into(),
            (Engine::MySql, Type::Bit) => "bit(1)".into(),
            (Engine::MySql, Type::Decimal(p, s)) => format!("decimal({p},{s})"),
            (Engine::MySql, Type::Double) => "double".into(),
            (Engine::MySql, Type::Varchar(n)) => format!("varchar({n})"),
            (Engine::MySql, Type::Text) => "text".into(),
            (Engine::MySql, Type::Enum(values)) => {
                format!("enum({})", values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(","))
            }
            (Engine::MySql, Type::Date) => "date".into(),
            (Engine::MySql, Type::DateTime) => "datetime(6)".into(),
            (Engine::MySql, Type::Timestamp) => "timestamp(6) NULL".into(),
            (Engine::Postgres, Type::BigInt) => "bigint".into(),
            (Engine::Postgres, Type::Int) => "integer".into(),
            (Engine::Postgres, Type::Bool | Type::Bit) => "boolean".into(),
            (Engine::Postgres, Type::Decimal(p, s)) => format!("numeric({p},{s})"),
            (Engine::Postgres, Type::Double) => "double precision".into(),
            (Engine::Postgres, Type::Varchar(n)) => format!("varchar({n})"),
            (Engine::Postgres, Type::Text | Type::Enum(_)) => "text".into(),
            (Engine::Postgres, Type::Date) => "date".into(),
            (Engine::Postgres, Type::DateTime) => "timestamp".into(),
            (Engine::Postgres, Type::Timestamp) => "timestamptz".into(),
            (Engine::Sqlite, Type::BigInt | Type::Int | Type::Bool | Type::Bit) => "INTEGER".into(),
            (Engine::Sqlite, Type::Double) => "REAL".into(),
            (Engine::Sqlite, _) => "TEXT".into(),
        }
    }
}

impl Column {
    /// The Arrow field of the column.
    pub fn field(&self) -> Field {
        Field::new(self.name, self.ty.arrow(), self.nullable)
    }
}

/// The app's money columns stored as floating point (`double`), by table and column: silver conforms them to exact
/// decimals ([`crate::money`]). Every `double` column of the app schema is money today; a test makes a new one
/// choose.
pub const FLOAT_MONEY: &[(&str, &str)] = &[("orders", "total_amount")];

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether `column` is money the app stores as a float (see [`FLOAT_MONEY`]).
    pub fn is_float_money(&self, column: &str) -> bool {
        FLOAT_MONEY.contains(&(self.name, column))
    }

    /// The Arrow field of `column` in silver: float money as an exact decimal, every other column as in the app.
    pub fn silver_field(&self, column: &Column) -> Field {
        match self.is_float_money(column.name) {
            true => Field::new(column.name, crate::money::money_type(), column.nullable),
            false => column.field(),
        }
    }

    /// The table's Arrow schema.
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(self.columns.iter().map(Column::field).collect::<Vec<_>>())
    }

    /// `CREATE TABLE` for `engine`, named `name` (e.g. a landing or staging copy), without foreign keys so that
    /// tables can be created and loaded in any order; enum values are checked where the engine has no enum type.
    pub fn create_sql(&self, engine: Engine, name: &str) -> String {
        Shape::of(self).create_sql(engine, name)
    }
}

/// The shape of a table as a stage handles it: a schema table's columns, possibly without some (sensitive
/// columns are never read) and with some added (a landing table's `_run_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The source table's name.
    pub name: &'static str,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// The primary key.
    pub primary_key: Vec<&'static str>,
}

impl Shape {
    /// The shape of a schema table, whole.
    pub fn of(table: &Table) -> Shape {
        Shape { name: table.name, columns: table.columns.to_vec(), primary_key: table.primary_key.to_vec() }
    }

    /// The same shape without the columns named in `drop`.
    pub fn without(mut self, drop: &[&str]) -> Shape {
        self.columns.retain(|c| !drop.contains(&c.name));
        self.primary_key.retain(|k| !drop.contains(k));
        self
    }

    /// The same shape with `columns` appended; `key` columns join the primary key.
    pub fn with(mut self, columns: &[Column], key: &[&'static str]) -> Shape {
        self.columns.extend_from_slice(columns);
        self.primary_key.extend_from_slice(key);
        self
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the shape; every field nullable (dirty rows are carried, and judged in silver).
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(self.columns.iter().map(|c| c.field().with_nullable(true)).collect::<Vec<_>>())
    }

    /// The column names, quoted for `engine` and joined by commas.
    pub fn column_list(&self, engine: Engine) -> String {
        self.columns.iter().map(|c| quote(engine, c.name)).collect::<Vec<_>>().join(", ")
    }

    /// `CREATE TABLE IF NOT EXISTS` for `engine`, named `name`.
    pub fn create_sql(&self, engine: Engine, name: &str) -> String {
        let q = |n: &str| quote(engine, n);
        let mut parts: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut s = format!("{} {}", q(c.name), c.ty.sql(engine));
                if !c.nullable {
                    s.push_str(" NOT NULL");
                }
                if let (Type::Enum(values), Engine::Postgres | Engine::Sqlite) = (c.ty, engine) {
                    let list = values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(",");
                    s.push_str(&format!(" CHECK ({} IN ({list}))", q(c.name)));
                }
                s
            })
            .collect();
        if !self.primary_key.is_empty() {
            parts.push(format!(
                "PRIMARY KEY ({})",
                self.primary_key.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
            ));
        }
        let tail = if engine == Engine::MySql { " DEFAULT CHARSET=utf8mb4" } else { "" };
        format!("CREATE TABLE IF NOT EXISTS {} ({}){tail}", q(name), parts.join(", "))
    }
}

/// An identifier quoted for `engine`.
pub fn quote(engine: Engine, name: &str) -> String {
    match engine {
        Engine::MySql => format!("`{}`", name.replace('`', "``")),
        Engine::Postgres | Engine::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// The table named `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// Every table of the app database, in alphabetical order.
pub static TABLES: &[Table] = &[
    Table {
        name: "address",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "user_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "city", ty: Type::Varchar(100), nullable: true, default: None, auto_increment: false },
            Column { name: "zip_code", ty: Type::Varchar(20), nullable: true, default: None, auto_increment: false },
            Column { name: "region", ty: Type::Varchar(100), nullable: true, default: None, auto_increment: false },
            Column { name: "country", ty: Type::Varchar(100), nullable: true, default: None, auto_increment: false },
            Column {
                name: "is_default",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("0")),
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "user_id", table: "users", references: "id" }],
    },
    Table {
        name: "business_representatives",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "business_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "name", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "email", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "phone", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "gender", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column {
                name: "is_primary",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("1")),
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "business_id", table: "businesses", references: "id" }],
    },
    Table {
        name: "businesses",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "vendor_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "name", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "email", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "phone", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column {
                name: "certificate",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column { name: "description", ty: Type::Text, nullable: true, default: None, auto_increment: false },
            Column { name: "address", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column {
                name: "account_type",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "is_enabled",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("1")),
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[&["email"]],
        foreign_keys: &[ForeignKey { column: "vendor_id", table: "users", references: "id" }],
    },
    Table {
        name: "cart_items",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "cart_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column {
                name: "product_variant_id",
                ty: Type::BigInt,
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "quantity", ty: Type::Int, nullable: false, default: None, auto_increment: false },
            Column {
                name: "unit_price",
                ty: Type::Decimal(10, 2),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "cart_id", table: "carts", references: "id" },
            ForeignKey { column: "product_id", table: "products", references: "id" },
            ForeignKey { column: "product_variant_id", table: "product_variants", references: "id" },
        ],
    },
    Table {
        name: "carts",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "customer_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "session_id", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "customer_id", table: "users", references: "id" }],
    },
    Table {
        name: "categories",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "name", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column {
                name: "parent_category_id",
                ty: Type::BigInt,
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "icon_url", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column { name: "image_url", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column { name: "slug", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "parent_category_id", table: "categories", references: "id" }],
    },
    Table {
        name: "cities",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "user_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "product_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "user_id", table: "users", references: "id" },
            ForeignKey { column: "product_id", table: "products", references: "id" },
        ],
    },
    Table {
        name: "discount_products",
        columns: &[
            Column { name: "discount_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["discount_id", "product_id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "product_id", table: "products", references: "id" },
            ForeignKey { column: "discount_id", table: "discounts", references: "id" },
        ],
    },
    Table {
        name: "discounts",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "code", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "name", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column {
                name: "description",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "discount_value",
                ty: Type::Decimal(10, 2),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column { name: "usage_limit", ty: Type::Int, nullable: false, default: None, auto_increment: false },
            Column {
                name: "type",
                ty: Type::Enum(&["PERCENTAGE", "FLAT_RATE"]),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column { name: "created_by", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "start_date", ty: Type::Date, nullable: true, default: None, auto_increment: false },
            Column { name: "end_date", ty: Type::Date, nullable: false, default: None, auto_increment: false },
            Column {
                name: "active",
                ty: Type::Bool,
                nullable: false,
                default: Some(Default::Value("1")),
                auto_increment: false,
            },
            Column { name: "created_at", ty: Type::Date, nullable: true, default: None, auto_increment: false },
            Column { name: "updated_at", ty: Type::Date, nullable: true, default: None, auto_increment: false },
            Column { name: "created_by_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["code"]],
        foreign_keys: &[
            ForeignKey { column: "created_by", table: "users", references: "id" },
            ForeignKey { column: "created_by_id", table: "users", references: "id" },
        ],
    },
    Table {
        name: "messages",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "sender_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "receiver_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "content", ty: Type::Text, nullable: true, default: None, auto_increment: false },
            Column {
                name: "is_read",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("0")),
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "sender_id", table: "users", references: "id" },
            ForeignKey { column: "receiver_id", table: "users", references: "id" },
        ],
    },
    Table {
        name: "order_items",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "order_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "quantity", ty: Type::Int, nullable: false, default: None, auto_increment: false },
            Column {
                name: "unit_price",
                ty: Type::Decimal(10, 2),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "total_price",
                ty: Type::Decimal(10, 2),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "product_variant_id",
                ty: Type::BigInt,
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "vendor_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "order_id", table: "orders", references: "id" },
            ForeignKey { column: "product_id", table: "products", references: "id" },
            ForeignKey { column: "product_variant_id", table: "product_variants", references: "id" },
        ],
    },
    Table {
        name: "order_status_history",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "order_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column {
                name: "previous_status",
                ty: Type::Enum(&[
                    "CANCELLED",
                    "CONFIRMED",
                    "DELIVERED",
                    "DISPATCHED",
                    "PENDING",
                    "REJECTED",
                    "RETURNED",
                ]),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "new_status",
                ty: Type::Enum(&[
                    "CANCELLED",
                    "CONFIRMED",
                    "DELIVERED",
                    "DISPATCHED",
                    "PENDING",
                    "REJECTED",
                    "RETURNED",
                ]),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "change_timestamp",
                ty: Type::Timestamp,
                nullable: false,
                default: None,
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "order_id", table: "orders", references: "id" }],
    },
    Table {
        name: "orders",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "user_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "order_date", ty: Type::Timestamp, nullable: false, default: None, auto_increment: false },
            Column { name: "total_amount", ty: Type::Double, nullable: false, default: None, auto_increment: false },
            Column {
                name: "status",
                ty: Type::Enum(&[
                    "CANCELLED",
                    "CONFIRMED",
                    "DELIVERED",
                    "DISPATCHED",
                    "PENDING",
                    "REJECTED",
                    "RETURNED",
                ]),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "tracking_number",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "dispatch_date", ty: Type::Timestamp, nullable: true, default: None, auto_increment: false },
            Column { name: "order_code", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["order_code"]],
        foreign_keys: &[ForeignKey { column: "user_id", table: "users", references: "id" }],
    },
    Table {
        name: "payments",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "order_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column {
                name: "payment_method",
                ty: Type::Varchar(50),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "transaction_id",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "amount", ty: Type::Decimal(10, 2), nullable: true, default: None, auto_increment: false },
            Column { name: "status", ty: Type::Varchar(50), nullable: true, default: None, auto_increment: false },
            Column { name: "paid_at", ty: Type::Timestamp, nullable: true, default: None, auto_increment: false },
            Column { name: "customer_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "customer_id", table: "users", references: "id" },
            ForeignKey { column: "order_id", table: "orders", references: "id" },
        ],
    },
    Table {
        name: "product_category",
        columns: &[
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "category_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["product_id", "category_id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "product_id", table: "products", references: "id" },
            ForeignKey { column: "category_id", table: "categories", references: "id" },
        ],
    },
    Table {
        name: "product_image",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "alt_text", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "file_size", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "image_order", ty: Type::Int, nullable: false, default: None, auto_increment: false },
            Column { name: "is_main", ty: Type::Bit, nullable: false, default: None, auto_increment: false },
            Column {
                name: "object_key",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "product_id", table: "products", references: "id" }],
    },
    Table {
        name: "product_tag",
        columns: &[
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "tag_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["product_id", "tag_id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "product_id", table: "products", references: "id" },
            ForeignKey { column: "tag_id", table: "tags", references: "id" },
        ],
    },
    Table {
        name: "product_tags",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "name", ty: Type::Varchar(100), nullable: false, default: None, auto_increment: false },
            Column { name: "description", ty: Type::Text, nullable: true, default: None, auto_increment: false },
            Column { name: "slug", ty: Type::Varchar(100), nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["slug"]],
        foreign_keys: &[],
    },
    Table {
        name: "product_variants",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column {
                name: "variant_key",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "value", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column { name: "stock_quantity", ty: Type::Int, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "product_id", table: "products", references: "id" }],
    },
    Table {
        name: "products",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "name", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "description", ty: Type::Text, nullable: true, default: None, auto_increment: false },
            Column { name: "sku", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "price", ty: Type::Decimal(10, 2), nullable: false, default: None, auto_increment: false },
            Column { name: "stock_quantity", ty: Type::Int, nullable: false, default: None, auto_increment: false },
            Column { name: "weight", ty: Type::Decimal(38, 2), nullable: true, default: None, auto_increment: false },
            Column {
                name: "status",
                ty: Type::Enum(&["ACTIVE", "INACTIVE", "DRAFT"]),
                nullable: true,
                default: Some(Default::Value("ACTIVE")),
                auto_increment: false,
            },
            Column { name: "vendor_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column {
                name: "low_stock_threshold",
                ty: Type::Int,
                nullable: true,
                default: Some(Default::Value("5")),
                auto_increment: false,
            },
            Column {
                name: "min_order_quantity",
                ty: Type::Int,
                nullable: true,
                default: Some(Default::Value("1")),
                auto_increment: false,
            },
            Column {
                name: "average_rating",
                ty: Type::Decimal(38, 2),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "thumbnail_url",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "image_urls",
                ty: Type::Varchar(2048),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "is_active",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("1")),
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "discount_value",
                ty: Type::Decimal(10, 2),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "total_reviews", ty: Type::Int, nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["sku"]],
        foreign_keys: &[ForeignKey { column: "vendor_id", table: "users", references: "id" }],
    },
    Table {
        name: "returns",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "user_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "product_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "reason", ty: Type::Text, nullable: true, default: None, auto_increment: false },
            Column {
                name: "status",
                ty: Type::Enum(&["PENDING", "APPROVED", "REJECTED", "COMPLETED"]),
                nullable: true,
                default: Some(Default::Value("PENDING")),
                auto_increment: false,
            },
            Column {
                name: "request_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column { name: "approved_at", ty: Type::Timestamp, nullable: true, default: None, auto_increment: false },
            Column { name: "refunded_at", ty: Type::Timestamp, nullable: true, default: None, auto_increment: false },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "user_id", table: "users", references: "id" },
            ForeignKey { column: "product_id", table: "products", references: "id" },
        ],
    },
    Table {
        name: "reviews",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "user_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "product_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "rating", ty: Type::Int, nullable: true, default: None, auto_increment: false },
            Column { name: "comment", ty: Type::Varchar(2000), nullable: true, default: None, auto_increment: false },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "status",
                ty: Type::Enum(&["ACTIVE", "DELETED", "HIDDEN"]),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column { name: "updated_at", ty: Type::DateTime, nullable: true, default: None, auto_increment: false },
            Column {
                name: "vendor_reply",
                ty: Type::Varchar(2000),
                nullable: true,
                default: None,
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "user_id", table: "users", references: "id" },
            ForeignKey { column: "product_id", table: "products", references: "id" },
        ],
    },
    Table {
        name: "shipping_info",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "order_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "address", ty: Type::Text, nullable: true, default: None, auto_increment: false },
            Column { name: "city", ty: Type::Varchar(100), nullable: true, default: None, auto_increment: false },
            Column {
                name: "delivery_fee",
                ty: Type::Decimal(10, 2),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "is_express",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("0")),
                auto_increment: false,
            },
            Column { name: "delivered_at", ty: Type::Timestamp, nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "order_id", table: "orders", references: "id" }],
    },
    Table {
        name: "store",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "business_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["business_id"]],
        foreign_keys: &[ForeignKey { column: "business_id", table: "businesses", references: "id" }],
    },
    Table {
        name: "support_messages",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "ticket_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "sender_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "message", ty: Type::Text, nullable: true, default: None, auto_increment: false },
            Column {
                name: "attachment_url",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "sent_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "ticket_id", table: "support_tickets", references: "id" },
            ForeignKey { column: "sender_id", table: "users", references: "id" },
        ],
    },
    Table {
        name: "support_tickets",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "subject", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column {
                name: "status",
                ty: Type::Enum(&["OPEN", "CLOSED"]),
                nullable: true,
                default: Some(Default::Value("OPEN")),
                auto_increment: false,
            },
            Column { name: "customer_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "customer_id", table: "users", references: "id" }],
    },
    Table {
        name: "tags",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column {
                name: "description",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "name", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "slug", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["name"], &["slug"]],
        foreign_keys: &[],
    },
    Table {
        name: "user_audit",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "user_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "field_name", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column { name: "old_value", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column { name: "new_value", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column {
                name: "timestamp",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "user_id", table: "users", references: "id" }],
    },
    Table {
        name: "users",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "email", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column {
                name: "phone_number",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "gender", ty: Type::Varchar(255), nullable: true, default: None, auto_increment: false },
            Column { name: "password", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "full_name", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column {
                name: "provider",
                ty: Type::Enum(&["LOCAL", "GOOGLE", "FACEBOOK"]),
                nullable: true,
                default: Some(Default::Value("LOCAL")),
                auto_increment: false,
            },
            Column {
                name: "provider_id",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "role",
                ty: Type::Enum(&["CUSTOMER", "ADMIN", "VENDOR"]),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "is_verified",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("0")),
                auto_increment: false,
            },
            Column {
                name: "is_enabled",
                ty: Type::Bool,
                nullable: true,
                default: Some(Default::Value("1")),
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[&["email"], &["phone_number"]],
        foreign_keys: &[],
    },
    Table {
        name: "vendor_applications",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column {
                name: "business_name",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "business_email",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "business_phone",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column { name: "password", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column {
                name: "business_certificate_url",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "business_description",
                ty: Type::Text,
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "business_address",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "business_account_type",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "representative_name",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "representative_email",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "representative_phone",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "representative_gender",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "status",
                ty: Type::Enum(&["PENDING", "APPROVED", "REJECTED"]),
                nullable: true,
                default: Some(Default::Value("PENDING")),
                auto_increment: false,
            },
            Column {
                name: "rejection_reason",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "created_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
            Column {
                name: "updated_at",
                ty: Type::Timestamp,
                nullable: true,
                default: Some(Default::Now),
                auto_increment: false,
            },
        ],
        primary_key: &["id"],
        unique: &[&["business_email"]],
        foreign_keys: &[],
    },
    Table {
        name: "vendor_earnings",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "amount", ty: Type::Decimal(10, 2), nullable: false, default: None, auto_increment: false },
            Column { name: "earned_at", ty: Type::DateTime, nullable: true, default: None, auto_increment: false },
            Column { name: "is_paid", ty: Type::Bit, nullable: false, default: None, auto_increment: false },
            Column { name: "order_item_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "vendor_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["order_item_id"]],
        foreign_keys: &[
            ForeignKey { column: "vendor_id", table: "users", references: "id" },
            ForeignKey { column: "order_item_id", table: "order_items", references: "id" },
        ],
    },
    Table {
        name: "vendor_payout_accounts",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column {
                name: "account_name",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "account_number",
                ty: Type::Varchar(255),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "account_number_hash",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "account_type",
                ty: Type::Enum(&["BANK_ACCOUNT", "MOBILE_MONEY"]),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "bank_code", ty: Type::Varchar(255), nullable: false, default: None, auto_increment: false },
            Column { name: "is_primary", ty: Type::Bit, nullable: false, default: None, auto_increment: false },
            Column { name: "is_verified", ty: Type::Bit, nullable: false, default: None, auto_increment: false },
            Column {
                name: "recipient_code",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "vendor_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["account_number"], &["account_number_hash"]],
        foreign_keys: &[ForeignKey { column: "vendor_id", table: "users", references: "id" }],
    },
    Table {
        name: "vendor_payouts",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "created_at", ty: Type::DateTime, nullable: false, default: None, auto_increment: false },
            Column {
                name: "failure_reason",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "gross_earnings",
                ty: Type::Decimal(19, 2),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "net_payout",
                ty: Type::Decimal(19, 2),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "payout_period_end",
                ty: Type::DateTime,
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "payout_period_start",
                ty: Type::DateTime,
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "payout_reference",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "paystack_transfer_code",
                ty: Type::Varchar(255),
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "platform_commission",
                ty: Type::Decimal(19, 2),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column { name: "processed_at", ty: Type::DateTime, nullable: true, default: None, auto_increment: false },
            Column {
                name: "status",
                ty: Type::Enum(&["CANCELLED", "FAILED", "PAID", "PENDING", "PROCESSING"]),
                nullable: false,
                default: None,
                auto_increment: false,
            },
            Column {
                name: "payout_account_id",
                ty: Type::BigInt,
                nullable: true,
                default: None,
                auto_increment: false,
            },
            Column { name: "vendor_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[&["payout_reference"]],
        foreign_keys: &[
            ForeignKey { column: "vendor_id", table: "users", references: "id" },
            ForeignKey { column: "payout_account_id", table: "vendor_payout_accounts", references: "id" },
        ],
    },
    Table {
        name: "wishlist",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "added_at", ty: Type::DateTime, nullable: true, default: None, auto_increment: false },
            Column { name: "user_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[ForeignKey { column: "user_id", table: "users", references: "id" }],
    },
    Table {
        name: "wishlist_item",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "product_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "wishlist_id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "product_id", table: "products", references: "id" },
            ForeignKey { column: "wishlist_id", table: "wishlist", references: "id" },
        ],
    },
    Table {
        name: "wishlists",
        columns: &[
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: true },
            Column { name: "user_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
            Column { name: "product_id", ty: Type::BigInt, nullable: true, default: None, auto_increment: false },
        ],
        primary_key: &["id"],
        unique: &[],
        foreign_keys: &[
            ForeignKey { column: "user_id", table: "users", references: "id" },
            ForeignKey { column: "product_id", table: "products", references: "id" },
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_float_column_of_the_app_is_money_and_every_money_column_exists() {
        // A new `double` column must be decided: money (exact in silver) or a measurement (stays a float).
        for table in TABLES {
            for column in table.columns.iter().filter(|c| c.ty == Type::Double) {
                assert!(table.is_float_money(column.name), "{}.{} is a double: is it money?", table.name, column.name);
            }
        }
        for (table, column) in FLOAT_MONEY {
            let t = TABLES.iter().find(|t| t.name == *table).expect("a money table of the app");
            assert_eq!(t.column(column).map(|c| c.ty), Some(Type::Double), "{table}.{column}");
            assert_eq!(t.silver_field(t.column(column).unwrap()).data_type(), &crate::money::money_type());
        }
    }
}
