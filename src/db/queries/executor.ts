import type { Pool, PoolClient } from 'pg';

/** Anything that runs a query: the pool (one statement, autocommit) or a client inside a transaction. */
export type Executor = Pick<Pool | PoolClient, 'query'>;
