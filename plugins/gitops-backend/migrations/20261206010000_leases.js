// @ts-check

/**
 * Leases, so several backend replicas on one database share the work: an operation or a
 * push delivery is run by the replica holding its lease, and one whose lease ran out
 * (its replica died) is adopted by another. Plus named locks for work that must not run
 * twice at once (a token's rotation).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('gitops_operations', table => {
    table
      .string('lease_owner')
      .nullable()
      .comment('The backend instance running it');
    table.timestamp('lease_expires_at', { useTz: true }).nullable();
  });
  await knex.schema.createTable('gitops_push_deliveries', table => {
    table.comment(
      'Git host push deliveries accepted: de-duplicated and relayed once',
    );
    table
      .string('id')
      .primary()
      .comment('X-Gitlab-Event-UUID / X-GitHub-Delivery, or a random id');
    table.string('topic').notNullable();
    table
      .text('push')
      .notNullable()
      .comment('JSON: the repository URLs, ref and commit; no payload');
    table.string('status', 16).notNullable().comment('pending or done');
    table.string('lease_owner').nullable();
    table.timestamp('lease_expires_at', { useTz: true }).nullable();
    table.timestamp('received_at', { useTz: true }).notNullable();
    table.timestamp('finished_at', { useTz: true }).nullable();
    table.index(['status'], 'gitops_push_deliveries_status_idx');
  });
  await knex.schema.createTable('gitops_locks', table => {
    table.comment('Named locks across backend replicas');
    table.string('name').primary();
    table.string('owner').notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_locks');
  await knex.schema.dropTable('gitops_push_deliveries');
  await knex.schema.alterTable('gitops_operations', table => {
    table.dropColumn('lease_owner');
    table.dropColumn('lease_expires_at');
  });
};
