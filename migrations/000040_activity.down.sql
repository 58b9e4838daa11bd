DROP TABLE activity_hours_overall;
DROP TABLE activity_minutes_overall;
DROP TABLE activity_hours;
DROP TABLE activity_minutes;
