// @ts-check

/**
 * The audit trail of Flux actions: who did what to which object, and how it ended.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_audit', table => {
    table.comment('Every Flux action taken through the GitOps plugin');
    table.string('id').primary().notNullable();
    table.string('actor').notNullable().comment('User entity ref');
    table.string('entity_ref').notNullable();
    table.string('cluster').notNullable();
    table.string('kind', 64).notNullable();
    table.string('namespace').notNullable();
    table.string('name').notNullable();
    table.string('action', 16).notNullable();
    table.string('outcome', 16).notNullable().comment('succeeded or failed');
    table.text('message').nullable();
    table.string('operation_id').nullable();
    table.timestamp('at', { useTz: true }).notNullable();
    table.integer('duration_ms').notNullable();
    table.index(['entity_ref', 'at'], 'gitops_audit_entity_at_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_audit');
};
