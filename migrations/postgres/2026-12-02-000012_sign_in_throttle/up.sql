-- Sign-in failures counted per source address and per account and address, so a flood from
-- one address slows that address down and locks the account for that address only, never
-- for its owner signing in from elsewhere.
CREATE TABLE sign_in_failures (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    failures INTEGER NOT NULL,
    first_at TIMESTAMP NOT NULL,
    blocked_until TIMESTAMP,
    PRIMARY KEY (scope, subject)
);
