// @ts-check

/**
 * Fencing for the leases of 20261206010000_leases: every lease (an operation's, a push
 * delivery's, a named lock's) carries a generation, incremented each time it is taken or
 * adopted. Every write made under a lease names the generation it holds in its WHERE
 * clause, so an instance that stalled past its lease while another adopted the work
 * writes nothing after the adopter. Plus the pushes relayed recently (repository, ref
 * and commit), so a webhook replayed with a fresh delivery id is not relayed twice.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  for (const table of ['gitops_operations', 'gitops_push_deliveries']) {
    await knex.schema.alterTable(table, t => {
      t.integer('lease_generation')
        .notNullable()
        .defaultTo(0)
        .comment(
          'The fencing token: incremented on each take-over of the lease',
        );
    });
  }
  await knex.schema.alterTable('gitops_locks', table => {
    table
      .integer('generation')
      .notNullable()
      .defaultTo(0)
      .comment('The fencing token: incremented on each acquisition');
  });
  await knex.schema.createTable('gitops_push_keys', table => {
    table.comment(
      'Pushes relayed recently, by repository, ref and commit: a replay with a new delivery id is not relayed again',
    );
    table
      .string('key', 64)
      .primary()
      .comment(
        'SHA-256 of the normalized repositories, the ref and the commit',
      );
    table.string('delivery_id').notNullable().comment('The delivery relayed');
    table.timestamp('received_at', { useTz: true }).notNullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_push_keys');
  await knex.schema.alterTable('gitops_locks', table => {
    table.dropColumn('generation');
  });
  for (const table of ['gitops_push_deliveries', 'gitops_operations']) {
    await knex.schema.alterTable(table, t => {
      t.dropColumn('lease_generation');
    });
  }
};
