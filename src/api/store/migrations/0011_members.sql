-- Placeholder on s24-activity only: the number belongs to s24-authz's
-- members tables. At the merge that branch's 0011 replaces this file (the
-- migration runner wants numbers 1..N without gaps). Never released.
CREATE TABLE placeholder_0011 (x INTEGER) STRICT;
