DROP TABLE IF EXISTS encryption_certs;
