import type postgres from 'postgres';

/**
 * The type repository functions take. postgres.js 3.4.9's TransactionSql is not assignable to Sql
 * (porsager/postgres#1163), so functions that must work both inside and outside a transaction take `Db`.
 */
export type Db = postgres.Sql | postgres.TransactionSql;
export type RootSql = postgres.Sql;
