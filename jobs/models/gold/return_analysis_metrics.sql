-- return_analysis_metrics: per return status and month the return was requested (else created): return_count.
SELECT status,
       return_year,
       return_month,
       count(*) AS return_count
FROM returns_data
GROUP BY status, return_year, return_month
