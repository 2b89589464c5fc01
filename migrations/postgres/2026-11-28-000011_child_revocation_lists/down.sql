DROP TABLE child_revocation_lists;
ALTER TABLE crl_published DROP COLUMN pem;
