-- payments_data: one row per payment (grain: payments.id) with its year and month of payment.
-- incremental: payment_id <- payments.id
-- grain: payment_id
-- partition_by: payment_year
SELECT p.id AS payment_id,
       p.order_id,
       p.customer_id,
       p.payment_method,
       p.transaction_id,
       p.amount,
       p.status AS payment_status,
       p.paid_at,
       CAST(date_part('year', p.paid_at) AS INT) AS payment_year,
       CAST(date_part('month', p.paid_at) AS INT) AS payment_month,
       p._ingested_at
FROM payments p
