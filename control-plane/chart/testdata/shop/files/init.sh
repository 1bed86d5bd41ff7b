#!/bin/sh
set -eu
# Create the application role and database if they are missing.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<-SQL
    SELECT 'CREATE DATABASE shop' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'shop')\gexec
SQL
echo "init done: 100% \"ok\""
