import type { Kysely, Migration, MigrationProvider } from 'kysely';

/** Migrations written with Kysely's schema builder only, so SQLite and PostgreSQL share them. */
const migrations: Record<string, Migration> = {
  '0001_accounts_assets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('assets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('source_key', 'text', (c) => c.notNull())
        .addColumn('source_bytes', 'bigint', (c) => c.notNull())
        .addColumn('source_name', 'text')
        .addColumn('source_json', 'text')
        .addColumn('duration_seconds', 'double precision')
        .addColumn('renditions_json', 'text')
        .addColumn('revision', 'text')
        .addColumn('preview_revision', 'text')
        .addColumn('has_poster', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('has_storyboard', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('ready_at', 'text')
        .execute();
      await db.schema
        .createIndex('assets_account_created')
        .on('assets')
        .columns(['account_id', 'created_at'])
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
