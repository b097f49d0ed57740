// @ts-check

/**
 * Flux actions (reconcile, suspend, resume) as persisted operations, so their progress
 * can be shown and a backend restart loses none.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_operations', table => {
    table.comment('Flux actions requested through the GitOps plugin');
    table.string('id').primary().notNullable();
    table.string('entity_ref').notNullable();
    table.string('cluster').notNullable();
    table.string('kind', 64).notNullable().comment('The Flux kind');
    table.string('namespace').notNullable();
    table.string('name').notNullable();
    table
      .string('action', 16)
      .notNullable()
      .comment('reconcile, suspend or resume');
    table.boolean('with_source').notNullable().defaultTo(false);
    table.string('requested_by').notNullable().comment('User entity ref');
    table
      .string('status', 16)
      .notNullable()
      .comment('pending, running, succeeded or failed');
    table.text('steps').notNullable().comment('JSON array of steps');
    table.text('error').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('started_at', { useTz: true }).nullable();
    table.timestamp('finished_at', { useTz: true }).nullable();
    table.integer('duration_ms').nullable();
    table.index('status', 'gitops_operations_status_idx');
    table.index(['entity_ref', 'created_at'], 'gitops_operations_entity_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_operations');
};
