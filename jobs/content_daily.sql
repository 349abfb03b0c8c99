-- gold.content_daily: per content item and event date: audience, watch time, completion, engagement.
--
-- Inputs (registered by `vbda silver-to-gold`):
--   silver_video_events  the silver.video_events rows of the dates being built
--   silver_content       the content catalog (silver.content; empty when never loaded)
--   run_dates(date)      the dates being built
-- One row per content_id that appears in a silver event of D (events without content_id,
-- such as session_start or ad events, are not counted). Computed from the events of D only.
--
-- Metrics (DESIGN §3):
--   title, genre      from silver.content; NULL when the catalog does not know the content
--   views             = distinct (session_id, content_id) pairs of this content with at least one `play`
--   unique_viewers    = COUNT(DISTINCT user_id) over this content's `play` events
--   watch_time_s      = SUM(watched_s) over this content's events, rounded to milliseconds
--   completed_views   = views whose MAX(position_s) >= 0.9 * MAX(duration_s) over the view's events of D
--                       (exactly 90% included)
--   completion_rate   = completed_views / views (NULL when views = 0: content seen only in
--                       non-play events, e.g. a like without a play that day)
--   likes, dislikes, shares, comments = counts of those event types for this content

WITH per_view AS (
    SELECT
        event_date,
        content_id,
        -- 1e-9 s of slack: 0.9 * 100 is 90.00000000000001 in floating point.
        MAX(position_s) >= 0.9 * MAX(duration_s) - 0.000000001 AS completed
    FROM silver_video_events
    WHERE content_id IS NOT NULL
    GROUP BY event_date, session_id, content_id
    HAVING SUM(CASE WHEN event_type = 'play' THEN 1 ELSE 0 END) > 0
),
views AS (
    SELECT
        event_date,
        content_id,
        COUNT(*) AS views,
        SUM(CASE WHEN completed THEN 1 ELSE 0 END) AS completed_views
    FROM per_view
    GROUP BY event_date, content_id
),
viewers AS (
    SELECT event_date, content_id, COUNT(DISTINCT user_id) AS unique_viewers
    FROM silver_video_events
    WHERE content_id IS NOT NULL AND event_type = 'play'
    GROUP BY event_date, content_id
),
events AS (
    SELECT
        event_date,
        content_id,
        ROUND(COALESCE(SUM(watched_s), 0.0), 3) AS watch_time_s,
        SUM(CASE WHEN event_type = 'like' THEN 1 ELSE 0 END) AS likes,
        SUM(CASE WHEN event_type = 'dislike' THEN 1 ELSE 0 END) AS dislikes,
        SUM(CASE WHEN event_type = 'share' THEN 1 ELSE 0 END) AS shares,
        SUM(CASE WHEN event_type = 'comment' THEN 1 ELSE 0 END) AS comments
    FROM silver_video_events
    WHERE content_id IS NOT NULL
    GROUP BY event_date, content_id
)
SELECT
    e.event_date AS date,
    e.content_id,
    c.title,
    c.genre,
    COALESCE(v.views, 0) AS views,
    COALESCE(u.unique_viewers, 0) AS unique_viewers,
    e.watch_time_s,
    COALESCE(v.completed_views, 0) AS completed_views,
    CASE WHEN v.views > 0 THEN CAST(v.completed_views AS DOUBLE) / v.views END AS completion_rate,
    e.likes,
    e.dislikes,
    e.shares,
    e.comments
FROM events e
LEFT JOIN views v ON e.event_date = v.event_date AND e.content_id = v.content_id
LEFT JOIN viewers u ON e.event_date = u.event_date AND e.content_id = u.content_id
LEFT JOIN silver_content c ON e.content_id = c.content_id
ORDER BY date, content_id
