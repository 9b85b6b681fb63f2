-- Roles for the seed scenario. The password is stored as a SCRAM-SHA-256 secret,
-- as PostgreSQL 15 does with password_encryption = scram-sha-256.
CREATE ROLE test LOGIN PASSWORD 'secret';
