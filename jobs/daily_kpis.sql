-- gold.daily_kpis: the platform's headline numbers, one row per event date.
--
-- Inputs (registered by `vbda silver-to-gold`):
--   silver_video_events  the silver.video_events rows of the dates being built
--   run_dates(date)      the dates being built
-- Every metric of date D comes from the silver events whose event_date is D, and nothing
-- else: a session that crosses midnight UTC counts on both dates, each with its own events.
--
-- Metrics (DESIGN §3):
--   active_users          = COUNT(DISTINCT user_id)
--   sessions              = COUNT(DISTINCT session_id)
--   views                 = distinct (session_id, content_id) pairs with at least one `play`
--   completed_views       = views whose MAX(position_s) >= 0.9 * MAX(duration_s) over the
--                           pair's events of D, exactly 90% included (a view without position or
--                           duration is not completed)
--   completion_rate       = completed_views / views
--   watch_time_s          = SUM(watched_s), rounded to milliseconds
--   buffer_time_s         = SUM(buffer_ms) / 1000
--   rebuffer_ratio        = buffer_time_s / (watch_time_s + buffer_time_s)
--   failed_views          = views with at least one `error` event of the same pair on D
--   playback_failure_rate = failed_views / views
--   ad_impressions, ad_clicks, ad_completes = counts of ad_impression, ad_click, ad_complete
--   ad_ctr                = ad_clicks / ad_impressions
--   ad_completion_rate    = ad_completes / ad_impressions
--   likes, shares, comments, subscribes = counts of like, share, comment, subscribe
-- A ratio whose denominator is 0 is NULL (never NaN or infinity); counts and sums are 0, not NULL.

WITH per_view AS (
    SELECT
        event_date,
        -- 1e-9 s of slack: 0.9 * 100 is 90.00000000000001 in floating point.
        MAX(position_s) >= 0.9 * MAX(duration_s) - 0.000000001 AS completed,
        SUM(CASE WHEN event_type = 'error' THEN 1 ELSE 0 END) > 0 AS failed
    FROM silver_video_events
    WHERE content_id IS NOT NULL
    GROUP BY event_date, session_id, content_id
    HAVING SUM(CASE WHEN event_type = 'play' THEN 1 ELSE 0 END) > 0
),
views AS (
    SELECT
        event_date,
        COUNT(*) AS views,
        SUM(CASE WHEN completed THEN 1 ELSE 0 END) AS completed_views,
        SUM(CASE WHEN failed THEN 1 ELSE 0 END) AS failed_views
    FROM per_view
    GROUP BY event_date
),
events AS (
    SELECT
        event_date,
        COUNT(DISTINCT user_id) AS active_users,
        COUNT(DISTINCT session_id) AS sessions,
        ROUND(COALESCE(SUM(watched_s), 0.0), 3) AS watch_time_s,
        CAST(COALESCE(SUM(buffer_ms), 0) AS DOUBLE) / 1000 AS buffer_time_s,
        SUM(CASE WHEN event_type = 'ad_impression' THEN 1 ELSE 0 END) AS ad_impressions,
        SUM(CASE WHEN event_type = 'ad_click' THEN 1 ELSE 0 END) AS ad_clicks,
        SUM(CASE WHEN event_type = 'ad_complete' THEN 1 ELSE 0 END) AS ad_completes,
        SUM(CASE WHEN event_type = 'like' THEN 1 ELSE 0 END) AS likes,
        SUM(CASE WHEN event_type = 'share' THEN 1 ELSE 0 END) AS shares,
        SUM(CASE WHEN event_type = 'comment' THEN 1 ELSE 0 END) AS comments,
        SUM(CASE WHEN event_type = 'subscribe' THEN 1 ELSE 0 END) AS subscribes
    FROM silver_video_events
    GROUP BY event_date
),
joined AS (
    SELECT
        e.*,
        COALESCE(v.views, 0) AS views,
        COALESCE(v.completed_views, 0) AS completed_views,
        COALESCE(v.failed_views, 0) AS failed_views
    FROM events e
    LEFT JOIN views v ON e.event_date = v.event_date
)
SELECT
    event_date AS date,
    active_users,
    sessions,
    views,
    completed_views,
    CASE WHEN views > 0 THEN CAST(completed_views AS DOUBLE) / views END AS completion_rate,
    watch_time_s,
    buffer_time_s,
    CASE WHEN watch_time_s + buffer_time_s > 0 THEN buffer_time_s / (watch_time_s + buffer_time_s) END AS rebuffer_ratio,
    failed_views,
    CASE WHEN views > 0 THEN CAST(failed_views AS DOUBLE) / views END AS playback_failure_rate,
    ad_impressions,
    ad_clicks,
    ad_completes,
    CASE WHEN ad_impressions > 0 THEN CAST(ad_clicks AS DOUBLE) / ad_impressions END AS ad_ctr,
    CASE WHEN ad_impressions > 0 THEN CAST(ad_completes AS DOUBLE) / ad_impressions END AS ad_completion_rate,
    likes,
    shares,
    comments,
    subscribes
FROM joined
ORDER BY date
