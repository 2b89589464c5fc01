DROP TABLE duplicate_claims;
