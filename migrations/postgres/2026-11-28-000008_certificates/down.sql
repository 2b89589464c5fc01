DROP TABLE crl_published;
DROP TABLE issued_certificates;
