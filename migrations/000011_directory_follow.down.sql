DROP TABLE directory_follow;
