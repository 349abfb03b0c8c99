-- gold.device_geo_daily: quality of experience per device type and country, per event date.
--
-- Inputs (registered by `vbda silver-to-gold`):
--   silver_video_events  the silver.video_events rows of the dates being built
--   run_dates(date)      the dates being built
-- One row per (device_type, country) group with at least one silver event of D. Either key
-- may be NULL (not sent by the player): NULL is the "unknown" group, kept as a row of its own.
-- Each group's metrics come from that group's events of D only; a view whose events fall in
-- two groups (a device change mid-view) counts in each.
--
-- Metrics (DESIGN §3, per group):
--   active_users           = COUNT(DISTINCT user_id)
--   views                  = distinct (session_id, content_id) pairs with at least one `play`
--   watch_time_s           = SUM(watched_s), rounded to milliseconds
--   buffer_time_s          = SUM(buffer_ms) / 1000
--   rebuffer_ratio         = buffer_time_s / (watch_time_s + buffer_time_s)
--   avg_bitrate_kbps       = AVG(bitrate_kbps) over the events that carry one (NULL when none)
--   errors                 = count of `error` events
--   failed_views           = views with at least one `error` event of the same pair in the group
--   playback_failure_rate  = failed_views / views
-- A ratio whose denominator is 0 is NULL.
--
-- The view counts and the event aggregates are stacked with UNION ALL and summed per group
-- instead of joined, because a join would not match the NULL ("unknown") groups.

WITH per_view AS (
    SELECT
        event_date,
        device_type,
        geo_country,
        SUM(CASE WHEN event_type = 'error' THEN 1 ELSE 0 END) > 0 AS failed
    FROM silver_video_events
    WHERE content_id IS NOT NULL
    GROUP BY event_date, device_type, geo_country, session_id, content_id
    HAVING SUM(CASE WHEN event_type = 'play' THEN 1 ELSE 0 END) > 0
),
stacked AS (
    SELECT
        event_date,
        device_type,
        geo_country,
        CAST(COUNT(DISTINCT user_id) AS BIGINT) AS active_users,
        CAST(0 AS BIGINT) AS views,
        CAST(0 AS BIGINT) AS failed_views,
        CAST(COALESCE(SUM(watched_s), 0.0) AS DOUBLE) AS watched_s,
        CAST(COALESCE(SUM(buffer_ms), 0) AS BIGINT) AS buffer_ms,
        CAST(SUM(bitrate_kbps) AS DOUBLE) AS bitrate_sum,
        CAST(COUNT(bitrate_kbps) AS BIGINT) AS bitrate_count,
        CAST(SUM(CASE WHEN event_type = 'error' THEN 1 ELSE 0 END) AS BIGINT) AS errors
    FROM silver_video_events
    GROUP BY event_date, device_type, geo_country
    UNION ALL
    SELECT
        event_date,
        device_type,
        geo_country,
        CAST(0 AS BIGINT) AS active_users,
        CAST(COUNT(*) AS BIGINT) AS views,
        CAST(SUM(CASE WHEN failed THEN 1 ELSE 0 END) AS BIGINT) AS failed_views,
        CAST(0.0 AS DOUBLE) AS watched_s,
        CAST(0 AS BIGINT) AS buffer_ms,
        CAST(NULL AS DOUBLE) AS bitrate_sum,
        CAST(0 AS BIGINT) AS bitrate_count,
        CAST(0 AS BIGINT) AS errors
    FROM per_view
    GROUP BY event_date, device_type, geo_country
),
groups AS (
    SELECT
        event_date,
        device_type,
        geo_country,
        SUM(active_users) AS active_users,
        SUM(views) AS views,
        SUM(failed_views) AS failed_views,
        ROUND(SUM(watched_s), 3) AS watch_time_s,
        CAST(SUM(buffer_ms) AS DOUBLE) / 1000 AS buffer_time_s,
        SUM(bitrate_sum) AS bitrate_sum,
        SUM(bitrate_count) AS bitrate_count,
        SUM(errors) AS errors
    FROM stacked
    GROUP BY event_date, device_type, geo_country
)
SELECT
    event_date AS date,
    device_type,
    geo_country AS country,
    active_users,
    views,
    watch_time_s,
    buffer_time_s,
    CASE WHEN watch_time_s + buffer_time_s > 0 THEN buffer_time_s / (watch_time_s + buffer_time_s) END AS rebuffer_ratio,
    CASE WHEN bitrate_count > 0 THEN bitrate_sum / bitrate_count END AS avg_bitrate_kbps,
    errors,
    failed_views,
    CASE WHEN views > 0 THEN CAST(failed_views AS DOUBLE) / views END AS playback_failure_rate
FROM groups
ORDER BY date, device_type, country
