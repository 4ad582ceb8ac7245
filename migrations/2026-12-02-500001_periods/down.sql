DROP TABLE period_transitions;
DROP TABLE periods;
