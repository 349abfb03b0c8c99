-- gold.user_activity: churn-model features, per user as of date D.
--
-- Inputs (registered by `vbda silver-to-gold`):
--   silver_video_events  the silver.video_events rows of the 28 days ending at each date
--                        being built ([D-27, D]; this job's spec says lookback_days = 27)
--   run_dates(date)      the as-of dates being built
-- One row per user with at least one silver event in [D-27, D]. A user is active on a date
-- when they have at least one silver event with that event_date.
--
-- Missing days: a date in the window with no silver data (never ingested, or not yet
-- processed by bronze-to-silver) counts as a day on which nobody was active. The numbers
-- for D are then what the lakehouse knew when D was built; `vbda silver-to-gold` without
-- dates rebuilds D again (up to D+27) when silver for an earlier date changes, and
-- `vbda silver-to-gold --from D1 --to D2` after a backfill refreshes them by hand.
--
-- Metrics:
--   active_days_7d          = distinct event dates in [D-6, D] with an event of the user (0..7)
--   active_days_28d         = distinct event dates in [D-27, D] with an event of the user (1..28)
--   watch_time_7d_s         = SUM(watched_s) over the user's events in [D-6, D], rounded to ms
--   watch_time_28d_s        = SUM(watched_s) over the user's events in [D-27, D], rounded to ms
--   last_active_date        = the latest event date in [D-27, D] with an event of the user
--   days_since_last_active  = D - last_active_date, in days (0..27)
--   churn_risk              = active in the 28-day window and idle for the last 7 days,
--                             i.e. active_days_7d = 0 (days_since_last_active >= 7)

WITH daily AS (
    SELECT
        user_id,
        event_date,
        CAST(event_date AS INTEGER) AS day,
        COALESCE(SUM(watched_s), 0.0) AS watched_s
    FROM silver_video_events
    GROUP BY user_id, event_date
),
windowed AS (
    SELECT
        r.date,
        d.user_id,
        d.event_date,
        d.watched_s,
        CAST(r.date AS INTEGER) - d.day AS age
    FROM run_dates r
    CROSS JOIN daily d
)
SELECT
    date,
    user_id,
    SUM(CASE WHEN age < 7 THEN 1 ELSE 0 END) AS active_days_7d,
    COUNT(*) AS active_days_28d,
    ROUND(SUM(CASE WHEN age < 7 THEN watched_s ELSE 0.0 END), 3) AS watch_time_7d_s,
    ROUND(SUM(watched_s), 3) AS watch_time_28d_s,
    MAX(event_date) AS last_active_date,
    MIN(age) AS days_since_last_active,
    MIN(age) >= 7 AS churn_risk
FROM windowed
WHERE age >= 0 AND age <= 27
GROUP BY date, user_id
ORDER BY date, user_id
