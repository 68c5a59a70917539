-- returns_data: one row per return (grain: returns.id), dated by its request (else its creation).
SELECT r.id AS return_id,
       r.user_id,
       r.product_id,
       r.reason,
       r.status,
       r.request_at,
       r.approved_at,
       r.refunded_at,
       r.created_at,
       CAST(date_part('year', COALESCE(r.request_at, r.created_at)) AS INT) AS return_year,
       CAST(date_part('month', COALESCE(r.request_at, r.created_at)) AS INT) AS return_month
FROM returns r
